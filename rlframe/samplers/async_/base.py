"""``AsyncSampler``: a synchronous sampler run in its own process, appending each batch to a shared replay.

rlpyt's asynchronous mode (Stooke & Abbeel, 2019, "rlpyt: A Research Code Base for Deep Reinforcement
Learning in PyTorch", section 2.3; rlpyt/samplers/async_/ and rlpyt/runners/async_rl.py): the sampler lives
in a separate process, collects batches with the newest weights it has and writes each one into a replay
whose storage is in shared memory, while the optimizer process draws training batches from that replay at
the same time. Here the sampling process ("sampler process") runs any synchronous sampler
(:attr:`AsyncSampler.SamplerCls`: ``SerialSampler``, ``CpuSampler`` with its worker processes, ``GpuSampler``
with the agent on the model's device) and the optimizer process talks to it over one pipe:

- ``initialize`` starts the process, which builds and validates its sampler and answers with the buffer
  examples and env spaces; the optimizer's agent is then built for the same spaces, in shared memory;
- ``attach_replay(replay)`` hands over the replay (built with ``shared=True``: every array in shared
  memory, ``replays/shared.py``) and the shared weights; both processes then use the same
  :class:`~rlframe.replays.shared.ReplayLock`;
- ``obtain_samples(itr)`` lets the sampler process collect up to ``max_batches_ahead`` batches beyond ``itr``
  and returns once batch ``itr`` is in the replay (``(None, traj_infos)``: the runner appends nothing).

Throttling: the sampler process waits for its grant when it is ahead (``sampler_wait_s``), the optimizer
waits for batch ``itr`` when the sampler is behind (``wait_s``), so the algorithm's replay ratio (gradient
updates per env step, ``algos/replay_base.py``) holds exactly. The sampler process copies the shared weights
into its agent before every batch and evaluation (rlpyt does the same; reads take no lock, so a copy may mix
two consecutive updates, as in Hogwild).

Faults: an exception in the sampler process (an env raising in a worker, a killed worker: the inner sampler's
:class:`~rlframe.errors.WorkerError`) is sent up the pipe; a killed or vanished sampler process is seen by its
sentinel. Either is a :class:`~rlframe.errors.WorkerError` in the optimizer at its next wait (or while it
waits for the replay lock), and :meth:`AsyncSampler.shutdown` stops the process and, through it, its
workers. The sampler process leaves by itself when the optimizer's process is gone.
"""
from __future__ import annotations

import signal
import time
import traceback
import weakref
from multiprocessing import parent_process
from multiprocessing.connection import wait as mp_wait
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from rlframe.core.seeding import set_global_seeds
from rlframe.errors import ConfigError, WorkerError
from rlframe.replays.shared import NO_LOCK, ReplayLock
from rlframe.samplers.base import TrajInfo
from rlframe.samplers.parallel.base import ParallelSamplerBase
from rlframe.samplers.parallel.pool import (_close_all, exit_description, get_context, resolve_start_method,
                                            use_fd_sharing)

_TICK = 0.25  # seconds between liveness checks while waiting on the pipe


class AsyncSampler:
    """A :attr:`SamplerCls` sampler in a sampler process that appends to a shared replay (module docstring).

    Args:
        *args, **kwargs: the synchronous sampler's constructor arguments (``EnvCls``, ``env_kwargs``,
            ``batch_T``, ``batch_B``, eval settings, ``n_workers``, ``worker_timeout`` ...).
        max_batches_ahead: batches the sampler process may collect beyond the one the optimizer trains on
            (1: sampling of batch ``k + 1`` overlaps training on batch ``k``, rlpyt's double buffer). Default:
            ``max(1, 64 // (batch_T * batch_B))``, so that tiny batches (SAC's one step) do not cost a
            process wake-up each; grants are refilled when half are used. The replay ratio holds either way
            (updates per batch the optimizer takes).
        start_method: how the sampler process (and the inner sampler's env workers) start (``fork``,
            ``forkserver``, ``spawn``; default as the parallel samplers, ``samplers/parallel/pool.py``).
        batch_timeout: seconds the optimizer waits for one batch or evaluation before a WorkerError (hung envs
            are caught sooner by the inner sampler's ``worker_timeout``).
        lock_timeout: seconds one side may wait for the replay lock before a WorkerError.
        device: where the sampler process's agent acts (``GpuSampler``: its action server); None: CPU.
    """

    SamplerCls: type = type(None)  # the synchronous sampler run in the sampler process
    # The sampler process runs batches ahead of the checkpoint, so its envs' state is not the checkpoint's:
    # a resumed async run starts new episodes (docs/scaling.md, "Resume guarantees").
    exact_resume = False

    def state_dict(self) -> Dict[str, Any]:
        """Nothing: an async sampler's envs are not saved (:attr:`exact_resume` is False)."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> bool:
        """Nothing to restore; False: every env starts a new episode."""
        return False

    def __init__(self, *args: Any, max_batches_ahead: Optional[int] = None, start_method: Optional[str] = None,
                 batch_timeout: float = 600.0, lock_timeout: float = 60.0, device: Any = None, **kwargs: Any):
        if max_batches_ahead is not None and int(max_batches_ahead) < 1:
            raise ConfigError(f"max_batches_ahead must be >= 1, got {max_batches_ahead}.")
        if issubclass(self.SamplerCls, ParallelSamplerBase):
            kwargs["start_method"] = start_method  # its env workers start as the sampler process did
        # built here to validate the arguments and answer for batch_spec etc.; the sampler process builds its own
        self.sampler = self.SamplerCls(*args, **kwargs)
        self._sampler_args = (self.SamplerCls, args, kwargs)
        self.max_batches_ahead = (max(1, 64 // int(self.sampler.batch_spec.size)) if max_batches_ahead is None
                                  else int(max_batches_ahead))
        self.start_method = start_method
        self.batch_timeout = float(batch_timeout)
        self.lock_timeout = float(lock_timeout)
        self.device = device
        self.proc: Any = None
        self.conn: Any = None
        self.replay: Any = None
        self.lock: Optional[ReplayLock] = None  # made with the sampler process, shared with it
        self.wait_s = 0.0  # optimizer seconds spent waiting for batches (the runner logs and resets these)
        self.sampler_wait_s = 0.0  # sampler-process seconds spent waiting for a grant (it was ahead)
        self._granted = -1
        self._batches: Dict[int, Tuple[List[TrajInfo], float]] = {}
        self._finalizer: Any = None

    # --- what runners read ------------------------------------------------------------------------
    @property
    def batch_spec(self) -> Any:
        return self.sampler.batch_spec

    @property
    def EnvCls(self) -> Any:
        return self.sampler.EnvCls

    @property
    def env_kwargs(self) -> Dict[str, Any]:
        return self.sampler.env_kwargs

    @property
    def eval_n_envs(self) -> int:
        return self.sampler.eval_n_envs

    # --- set-up -------------------------------------------------------------------------------------
    def initialize(self, agent: Any, affinity: Optional[dict] = None, seed: Optional[int] = None,
                   bootstrap_value: bool = False, traj_info_kwargs: Optional[dict] = None, rank: int = 0,
                   world_size: int = 1, final_observation: bool = False) -> dict:
        """Start the sampler process (it builds and validates its sampler); build ``agent`` here for the
        same env spaces with its weights in shared memory; returns the buffer examples."""
        if self.proc is not None:
            raise ConfigError(f"{type(self).__name__}.initialize was called twice; make a new sampler instead.")
        use_fd_sharing()
        ctx = get_context(resolve_start_method(self.start_method))
        self.lock = ReplayLock(ctx, timeout=self.lock_timeout)
        init_kwargs = dict(affinity=affinity, seed=seed, bootstrap_value=bootstrap_value,
                           traj_info_kwargs=traj_info_kwargs, rank=rank, world_size=world_size,
                           final_observation=final_observation)
        self.conn, child_conn = ctx.Pipe(duplex=True)
        # not daemonic: it starts the inner sampler's worker processes (a daemonic process may not)
        self.proc = ctx.Process(target=sampler_main, name="rlframe-async-sampler", daemon=False,
                                args=(child_conn, self._sampler_args, agent, self.lock, init_kwargs, self.device))
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C is the optimizer's to handle
        try:
            self.proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child_conn.close()
        self._finalizer = weakref.finalize(self, _close_all, [self.proc], [self.conn], 5.0)
        try:
            info = self._wait("ready", timeout=self.batch_timeout, what="starting")
        except BaseException:
            self.shutdown()
            raise
        agent.initialize(info["env_spaces"], share_memory=True, global_B=info["global_B"],
                         env_ranks=info["env_ranks"])
        self.agent = agent
        self.mid_batch_reset = info["mid_batch_reset"]
        self.examples = info["examples"]
        return self.examples

    def attach_replay(self, replay: Any) -> None:
        """Hand ``replay`` (built with ``shared=True``) and the agent's shared weights to the sampler process,
        which appends every batch to it from now on."""
        if not replay.shared:
            raise ConfigError(f"{type(self).__name__} appends from its own process, so the replay must live in shared "
                              f"memory: build {type(replay).__name__} with shared=True (AsyncRl sets "
                              "algo.shared_replay = True before the algorithm builds it).")
        replay.lock = self.lock
        self.lock.peer_check = self._raise_if_dead
        self.replay = replay
        self.agent.sync_shared_memory()
        self._send("replay", replay, (self.agent.shared_model or self.agent.model).state_dict())
        self._wait("attached", timeout=self.batch_timeout, what="receiving the replay")

    # --- running --------------------------------------------------------------------------------------
    def obtain_samples(self, itr: int) -> Tuple[None, List[TrajInfo]]:
        """Wait until batch ``itr`` is in the replay (letting the sampler process run ahead to
        ``itr + max_batches_ahead``); returns ``(None, traj_infos)``."""
        if self.replay is None:
            raise ConfigError(f"{type(self).__name__}.obtain_samples before attach_replay: the sampler process has "
                              "no replay to append to (AsyncRl attaches the algorithm's replay at start-up).")
        self.agent.sync_shared_memory()
        ahead = self.max_batches_ahead
        if self._granted < itr + max(1, ahead // 2):  # refill when half the grant is used
            self._send("grant", itr, itr + ahead)
            self._granted = itr + ahead
        t0 = time.perf_counter()
        while itr not in self._batches:
            self._wait("batch", timeout=self.batch_timeout, what=f"collecting batch {itr}")
        self.wait_s += time.perf_counter() - t0
        trajs, sampler_wait = self._batches.pop(itr)
        self.sampler_wait_s += sampler_wait
        return None, trajs

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        """Evaluation episodes, run by the sampler process between two batches with the current weights."""
        if not self.eval_n_envs:
            return []
        self.agent.sync_shared_memory()
        self._send("eval", itr)
        return self._wait("eval", timeout=self.batch_timeout, what=f"evaluating at iteration {itr}")

    def shutdown(self) -> None:
        """Stop the sampler process (and with it its workers); idempotent, always returns."""
        if self._finalizer is not None:
            self._finalizer()  # _close_all: ask, wait, terminate, kill; join and close
            self._finalizer = None
        self.proc = self.conn = None
        if self.replay is not None:
            self.replay.lock = NO_LOCK  # one process again
        self._batches.clear()

    # --- the pipe -------------------------------------------------------------------------------------
    def _send(self, cmd: str, *args: Any) -> None:
        if self.proc is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call initialize() first (and do not use it "
                               "after shutdown() or after a WorkerError).")
        try:
            self.conn.send((cmd, args))
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            self._fail(self._death_error())

    def _wait(self, kind: str, timeout: float, what: str) -> Any:
        """The payload of the next ``kind`` message; ``batch`` messages are stashed by iteration."""
        deadline = time.monotonic() + timeout
        while True:
            ready = mp_wait([self.conn, self.proc.sentinel], timeout=_TICK)
            if self.conn in ready:
                try:
                    msg, payload = self.conn.recv()
                except (EOFError, OSError, ConnectionResetError):
                    self._fail(self._death_error())
                if msg == "error":
                    self._fail(_error_from(payload))
                if msg == "batch":
                    itr, trajs, sampler_wait = payload
                    self._batches[itr] = (trajs, sampler_wait)
                if msg == kind:
                    return payload
            elif ready:
                self._fail(self._death_error())
            elif time.monotonic() > deadline:
                self._fail(WorkerError(
                    f"the async sampler process sent nothing for {timeout:g} s while {what}. Raise batch_timeout "
                    "if one batch legitimately takes this long.", exc_type="Timeout"))

    def _death_error(self) -> WorkerError:
        self.proc.join(timeout=3.0)  # its pipe closes a moment before the kernel reports the exit
        code = self.proc.exitcode
        return WorkerError(f"the async sampler process (pid {self.proc.pid}) died ({exit_description(code)}) "
                           "without reporting an error: out of memory (check `dmesg`), a crash in native env code "
                           "or an external kill are the usual causes.", exitcode=code)

    def _raise_if_dead(self) -> None:
        """The replay lock's liveness check in the optimizer's process."""
        if self.proc is not None and self.proc.exitcode is not None:
            self._fail(self._death_error())

    def _fail(self, error: WorkerError) -> None:
        self.shutdown()
        raise error


def _error_from(payload: Dict[str, Any]) -> WorkerError:
    return WorkerError(f"async sampler process: {payload['message']}", rank=payload.get("rank"),
                       env_index=payload.get("env_index"), exc_type=payload.get("exc_type"),
                       traceback_text=payload.get("traceback", ""), exitcode=payload.get("exitcode"))


# --- the sampler process -------------------------------------------------------------------------------
class ParentGone(SystemExit):
    """The optimizer's process is gone: the sampler process leaves quietly."""


class SamplerLoop:
    """What the sampler process does: batches when granted, evaluations when asked, until told to close."""

    def __init__(self, conn: Any, sampler: Any, agent: Any, lock: ReplayLock):
        self.conn, self.sampler, self.agent, self.lock = conn, sampler, agent, lock
        self.parent = parent_process()
        self.replay: Any = None
        self.weights: Any = None
        self.next_itr: Optional[int] = None
        self.granted = -1
        self.wait_s = 0.0

    def run(self) -> None:
        while True:
            if self._may_collect() and not self.conn.poll(0):
                self._collect(self.next_itr)
                self.next_itr += 1
                continue
            throttled = self.replay is not None and not self._may_collect()  # ahead of the optimizer
            t0 = time.perf_counter()
            cmd, args = self._recv()
            if throttled:
                self.wait_s += time.perf_counter() - t0
            if cmd == "close":
                return
            getattr(self, f"_on_{cmd}")(*args)

    def _may_collect(self) -> bool:
        return self.replay is not None and self.next_itr is not None and self.next_itr <= self.granted

    def _recv(self) -> Tuple[str, Any]:
        while not self.conn.poll(_TICK):
            self._check_parent()
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise ParentGone() from None

    def _check_parent(self) -> None:
        if self.parent is not None and not self.parent.is_alive():
            raise ParentGone()

    def _load_weights(self) -> None:
        self.agent.model.load_state_dict(self.weights)
        self.agent.sync_shared_memory()

    # --- commands ----------------------------------------------------------------------------------
    def _on_replay(self, replay: Any, weights: Any) -> None:
        replay.lock = self.lock
        self.lock.peer_check = self._check_parent
        self.replay, self.weights = replay, weights
        self.conn.send(("attached", None))

    def _on_grant(self, first: int, upto: int) -> None:
        if self.next_itr is None:
            self.next_itr = int(first)
        self.granted = max(self.granted, int(upto))

    def _on_eval(self, itr: int) -> None:
        self._load_weights()
        self.agent.eval_mode(itr)
        self.conn.send(("eval", list(self.sampler.evaluate_agent(itr))))

    def _collect(self, itr: int) -> None:
        self._load_weights()
        self.agent.sample_mode(itr)
        samples, trajs = self.sampler.obtain_samples(itr)
        self.replay.append_samples(samples)
        self.conn.send(("batch", (itr, list(trajs), self.wait_s)))
        self.wait_s = 0.0


def sampler_main(conn: Any, sampler_args: Tuple[type, tuple, dict], agent: Any, lock: ReplayLock,
                 init_kwargs: Dict[str, Any], device: Any) -> None:
    """Entry point of the sampler process: build the sampler, report, then run :class:`SamplerLoop`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the optimizer's process handles Ctrl-C and shuts us down
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    torch.set_num_threads(1)  # acting on one env batch: one thread beside the optimizer's (more only contend)
    sampler = None
    try:
        if init_kwargs.get("seed") is not None:  # exploration noise etc.: this process's own streams
            set_global_seeds(int(np.random.SeedSequence([int(init_kwargs["seed"]), 1]).generate_state(1)[0]))
        SamplerCls, args, kwargs = sampler_args
        sampler = SamplerCls(*args, **kwargs)
        examples = sampler.initialize(agent, **init_kwargs)
        if device is not None:
            agent.to_device(device)
        conn.send(("ready", dict(examples=examples, env_spaces=agent.env_spaces, global_B=agent.global_B,
                                 env_ranks=agent.env_ranks, mid_batch_reset=sampler.mid_batch_reset)))
        SamplerLoop(conn, sampler, agent, lock).run()
    except ParentGone:
        pass
    except BaseException as e:  # reported to the optimizer, which raises it as a WorkerError
        payload = dict(message=str(e).split("\n--- worker traceback ---")[0], exc_type=type(e).__name__,
                       traceback=getattr(e, "traceback_text", "") or traceback.format_exc())
        if isinstance(e, WorkerError):
            payload.update(rank=e.rank, env_index=e.env_index, exc_type=e.exc_type, exitcode=e.exitcode)
        try:
            conn.send(("error", payload))
        except (BrokenPipeError, OSError):
            pass
    finally:
        if sampler is not None:
            sampler.shutdown()
        conn.close()
