"""Env calls made in the master process, bounded in time: the pre-flight probe and the serial sampler.

Parallel samplers step envs in worker processes, and the master's wait on them already has a timeout
(``parallel.pool.Watchdog``). Two kinds of env calls run in the master itself and need their own bound:

- the pre-flight probe (``samplers.checks.probe_env``: one ``reset`` and one ``step`` before any worker
  starts). :func:`bounded_call` runs each call in a daemon thread and waits ``timeout`` seconds for it.
  On a timeout the master raises :class:`~rlframe.errors.EnvTimeoutError` and goes on to shut down
  normally; the stuck thread is abandoned (a daemon thread never keeps the interpreter alive). A thread
  was chosen over probing in a short-lived subprocess because a subprocess costs a process start with
  torch imported on every run, needs a picklable ``EnvCls`` (the serial sampler does not), and cannot
  hand back the env the serial sampler goes on to train with; the thread costs ~0.1 ms.
- every ``reset``/``step`` of :class:`~rlframe.samplers.serial.SerialSampler` (training and evaluation).
  Running each step in a thread would cost more than a CartPole step, so :class:`EnvWatchdog` instead
  watches from one background thread: each :class:`WatchedEnv` call records which env and call is in
  progress and since when (two attribute stores). When a call exceeds ``timeout`` the watchdog raises
  :class:`~rlframe.errors.EnvTimeoutError` in the stepping thread: when that is the main thread with
  Python's own SIGINT handler, by sending it SIGINT (which also makes a blocking system call such as
  ``time.sleep`` or a socket read return; the interruption is reported as the timeout, not as Ctrl-C),
  otherwise with ``PyThreadState_SetAsyncExc`` (which stops Python-level loops). If the call still has not returned
  ``grace`` seconds later (native code that never gives control back), the watchdog prints the error
  and ends the process with exit status 124: a hard exit, but never a hang.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

from rlframe.errors import EnvTimeoutError

TIMEOUT_HINT = ("fix the env, or raise the timeout if its calls legitimately take this long (the scripts' "
                "--worker-timeout flag; the samplers' worker_timeout argument).")


def timeout_message(env: str, call: str, timeout: float, where: str = "") -> str:
    where = f" {where}" if where else ""
    return (f"env '{env}': {call} did not return within {timeout:g} s{where}. The env hangs (or is slower than "
            f"the timeout): {TIMEOUT_HINT}")


def bounded_call(fn: Callable[..., Any], args: Sequence[Any] = (), timeout: float = 120.0, env: str = "",
                 call: str = "", where: str = "") -> Any:
    """``fn(*args)`` run in a daemon thread; its result, its exception, or :class:`EnvTimeoutError`
    (naming ``env``, ``call`` and ``timeout``) when it has not returned after ``timeout`` seconds."""
    box: List[Any] = []

    def target() -> None:
        try:
            box.append((True, fn(*args)))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box.append((False, e))

    thread = threading.Thread(target=target, name=f"rlframe-bounded-{call or 'call'}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not box:
        raise EnvTimeoutError(timeout_message(env, call, timeout, where), env=env, call=call, timeout=timeout)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _async_raise(thread_id: int, exc_type: Optional[type]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type is not None else None)


class EnvWatchdog:
    """Bounds every call of the envs it wraps (:meth:`watch`) to ``timeout`` seconds; see the module doc.

    Args:
        timeout: seconds one ``reset``/``step`` may take.
        grace: seconds after the interruption before the hard exit (native code that ignores it).
        hard_exit: end the process when the interruption does not work (False: only print the error).
    """

    def __init__(self, timeout: float, grace: float = 5.0, hard_exit: bool = True):
        self.timeout, self.grace, self.hard_exit = float(timeout), float(grace), bool(hard_exit)
        self.current: Optional[tuple] = None  # (env name, call, where, start time, thread id) of the call in progress
        self.fired: Optional[EnvTimeoutError] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def watch(self, envs: Sequence[Any], label: str = "env") -> List["WatchedEnv"]:
        return [WatchedEnv(e, self, f"{label} {i}") for i, e in enumerate(envs)]

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rlframe-env-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    # --- called around every env call (cheap) ---------------------------------------------------------
    def enter(self, env: str, call: str, where: str) -> None:
        self.current = (env, call, where, time.monotonic(), threading.get_ident())

    def leave(self) -> None:
        self.current = None

    def failed(self, e: BaseException) -> BaseException:
        """The exception to raise for ``e`` leaving an env call: the timeout when the watchdog caused it."""
        self.current = None
        fired = self.fired
        if fired is None:
            return e
        self.fired = None
        return fired

    # --- the watching thread ------------------------------------------------------------------------
    def _run(self) -> None:
        tick = min(0.5, max(0.01, self.timeout / 10))
        while not self._stop.wait(tick):
            current = self.current
            if current is None or time.monotonic() - current[3] <= self.timeout:
                continue
            self._interrupt(current)
            deadline = time.monotonic() + self.grace
            while self.current is current and time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(tick)
            if self.current is current and not self._stop.is_set():
                msg = (f"rlframe: {self.fired or 'env call timed out'} The call ignored the interruption for a further "
                       f"{self.grace:g} s (native code), so the process exits now (status 124).")
                print(msg, file=sys.stderr, flush=True)
                if self.hard_exit:
                    os._exit(124)
                return

    def _interrupt(self, current: tuple) -> None:
        env, call, where, _, thread_id = current
        self.fired = EnvTimeoutError(timeout_message(env, call, self.timeout, where),
                                     env=env, call=call, timeout=self.timeout)
        if thread_id == threading.main_thread().ident and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            try:  # also wakes a blocking system call; the KeyboardInterrupt is reported as the timeout
                signal.pthread_kill(thread_id, signal.SIGINT)
                return
            except (OSError, ValueError, AttributeError):
                pass
        _async_raise(thread_id, EnvTimeoutError)


class WatchedEnv:
    """An env whose ``reset``/``step`` are watched by an :class:`EnvWatchdog`; everything else (``spaces``,
    ``id``, ``seed``, ``action_masks``, ...) is the wrapped env's."""

    __slots__ = ("env", "watchdog", "_step_name", "_reset_name")

    def __init__(self, env: Any, watchdog: EnvWatchdog, label: str):
        self.env, self.watchdog = env, watchdog
        name = str(getattr(env, "id", None) or type(env).__name__)
        where = f"({label} of the serial sampler)"
        self._step_name = (name, "step()", where)
        self._reset_name = (name, "reset()", where)

    def _call(self, names: tuple, fn: Callable, *args: Any) -> Any:
        wd = self.watchdog
        wd.enter(*names)
        try:
            out = fn(*args)
        except BaseException as e:
            err = wd.failed(e)
            if err is e:
                raise
            raise err from None
        wd.leave()
        return out

    def step(self, action: Any) -> Any:
        return self._call(self._step_name, self.env.step, action)

    def reset(self) -> Any:
        return self._call(self._reset_name, self.env.reset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"WatchedEnv({self.env!r})"
