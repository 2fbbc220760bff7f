"""Worker processes with fault detection: the machinery under every parallel sampler.

A :class:`WorkerPool` starts one ``torch.multiprocessing`` process per worker under the requested start
method (``fork``, ``forkserver`` or ``spawn``), talks to each over its own duplex pipe (commands down,
replies and errors up, once per batch) and watches three things whenever it waits:

- a reply that is an error: the worker caught an exception (env, agent or collector) and sent its rank,
  env index, exception type and traceback → :class:`~rlframe.errors.WorkerError`;
- a worker that died (its process sentinel fires) → ``WorkerError`` naming rank and exit code;
- a worker that stopped making progress: every env step bumps a heartbeat counter in shared memory;
  no change for ``timeout`` seconds while the master waits → ``WorkerError`` naming the env it is in.

Nothing waits without a timeout. :meth:`WorkerPool.close` is idempotent: it asks workers to leave, then
terminates, then kills whatever is left, and joins and closes every process, pipe and semaphore.

Unlike rlpyt (whose master waits at a barrier forever when a worker dies) and gymnasium/SB3 vector envs
(bare ``EOFError`` or a hang), faults surface in well under a second, plus the hang timeout.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
import weakref
from multiprocessing.connection import wait as mp_wait
from multiprocessing.reduction import ForkingPickler
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.multiprocessing as tmp

from rlframe.errors import ConfigError, SharedMemoryError, WorkerError

START_METHODS = ("fork", "forkserver", "spawn")
START_METHOD_ENV = "RLFRAME_START_METHOD"
_TICK = 0.05  # seconds between liveness checks while waiting
HEARTBEAT_ROW = 8  # int64 slots per worker's heartbeat row (3 used): one 64-byte cache line each
_PRELOADED = False


def _rebuild_generator(device: str, state: bytes) -> torch.Generator:
    g = torch.Generator(device=device)
    g.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
    return g


def _reduce_generator(g: torch.Generator):
    return _rebuild_generator, (str(g.device), g.get_state().numpy().tobytes())


# torch.Generator objects (e.g. an agent's own RNG) do not survive torch's fd-based pickling to spawn /
# forkserver workers ("unable to resize file"): send their state as bytes instead.
ForkingPickler.register(torch.Generator, _reduce_generator)


def resolve_start_method(start_method: Optional[str] = None) -> str:
    """``start_method``, else ``$RLFRAME_START_METHOD``, else ``forkserver`` where available (``spawn`` elsewhere).

    ``forkserver`` is the default: as fast as ``fork`` after the first worker (the server has torch and
    rlframe preloaded) and safe after the master has started threads or CUDA, which ``fork`` is not.
    """
    method = start_method or os.environ.get(START_METHOD_ENV) or None
    available = tmp.get_all_start_methods()
    if method is None:
        method = "forkserver" if "forkserver" in available else "spawn"
    if method not in START_METHODS or method not in available:
        raise ConfigError(
            f"start method {method!r} is not available here; use one of {[m for m in START_METHODS if m in available]} "
            f"(constructor argument start_method=... or environment variable {START_METHOD_ENV})."
        )
    return method


def get_context(method: str):
    """The multiprocessing context for ``method``; the forkserver preloads torch and the worker module."""
    global _PRELOADED
    ctx = tmp.get_context(method)
    if method == "forkserver" and not _PRELOADED:
        _PRELOADED = True
        ctx.set_forkserver_preload(["torch", "numpy", "rlframe.samplers.parallel.worker"])
    return ctx


def use_fd_sharing() -> None:
    """Share tensors by file descriptor (torch's Linux default), never by named /dev/shm file.

    With ``file_descriptor`` each shared storage is an unlinked /dev/shm file held by open descriptors: it
    disappears when the last process lets go, so a crash leaves no /dev/shm file behind. (``file_system``
    leaves named files to a manager daemon.)
    """
    if "file_descriptor" in tmp.get_all_sharing_strategies() and tmp.get_sharing_strategy() != "file_descriptor":
        tmp.set_sharing_strategy("file_descriptor")


def check_shm_space(nbytes: int, what: str = "sampler buffers", path: str = "/dev/shm") -> None:
    """Raise :class:`SharedMemoryError` if ``path`` has less than ``nbytes`` (+10%) free.

    torch puts shared tensors in /dev/shm; running out there kills workers with SIGBUS on first touch,
    so the parallel samplers check before allocating.
    """
    if not os.path.isdir(path):
        return  # no /dev/shm (non-Linux): torch uses another mechanism
    free = shutil.disk_usage(path).free
    need = int(nbytes * 1.1) + (1 << 20)
    if free < need:
        raise SharedMemoryError(
            f"{what} need {need / 2**20:.1f} MiB of shared memory but {path} has only {free / 2**20:.1f} MiB free. "
            f"Fix: give the machine more shared memory (Docker: `docker run --shm-size={max(1, -(-need // 2**30) * 2)}g`; "
            f"Linux: `sudo mount -o remount,size=<N>G {path}`), or shrink the batch (batch_T * batch_B, "
            "observation size), or use SerialSampler, which needs no shared memory."
        )


def exit_description(exitcode: Optional[int]) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"exit code {exitcode} (killed by {signal.Signals(-exitcode).name})"
        except ValueError:
            return f"exit code {exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """``n`` worker processes running :func:`rlframe.samplers.parallel.worker.worker_main`.

    Args:
        start_method: ``fork``, ``forkserver`` or ``spawn`` (see :func:`resolve_start_method`).
        timeout: seconds a worker may go without stepping an env while the master waits on it.
        start_timeout: seconds a worker may take to start and build its envs.
    """

    def __init__(self, n_workers: int, start_method: Optional[str] = None, timeout: float = 60.0,
                 start_timeout: float = 120.0):
        self.n = int(n_workers)
        self.method = resolve_start_method(start_method)
        self.ctx = get_context(self.method)
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self.procs: List[Any] = []
        self.conns: List[Any] = []
        # heartbeat[rank] = (env steps so far, global index of the env being stepped, -1 when none,
        # the call in progress: 1 step, 2 reset, 0 none). Each row is padded to its own 64-byte cache line
        # (8 int64): workers write their row on every env step, and with rows of 3 the workers' rows shared a
        # line that bounced between their cores (false sharing).
        self.heartbeat = torch.zeros((self.n, HEARTBEAT_ROW), dtype=torch.int64).share_memory_()
        self.env_name = ""  # the env id, for hang errors (set by the sampler)
        self._closed = False
        self._finalizer = None
        self._stash: Dict[int, Any] = {}  # replies received while checking for errors

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self, builders: Sequence[Any], affinities: Sequence[Dict[str, Any]]) -> List[Any]:
        """Start one process per ``builders[rank]`` and wait until each has built its envs.

        Everything a worker needs travels as process arguments, so shared tensors are handed over as
        file descriptors at start-up under every start method. Returns the workers' ready payloads.
        """
        from rlframe.samplers.parallel.worker import worker_main

        use_fd_sharing()
        # Ctrl-C reaches the whole process group: a worker still importing (spawn, forkserver) would print a
        # KeyboardInterrupt traceback. Workers start with SIGINT blocked (the mask is inherited) and unblock it
        # once they ignore it (worker_main); the master gets a Ctrl-C pressed meanwhile when it unblocks.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            if self.ctx.get_start_method() == "forkserver":
                _start_forkserver_ignoring_sigint()
            for rank, (builder, aff) in enumerate(zip(builders, affinities)):
                parent_conn, child_conn = self.ctx.Pipe(duplex=True)
                p = self.ctx.Process(
                    target=worker_main,
                    args=(rank, child_conn, builder, self.heartbeat, aff),
                    name=f"rlframe-sampler-worker-{rank}",
                    daemon=True,
                )
                p.start()
                child_conn.close()
                self.procs.append(p)
                self.conns.append(parent_conn)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._finalizer = weakref.finalize(self, _close_all, self.procs, self.conns)
        return self.gather(range(self.n), timeout=self.start_timeout, what="starting")

    def close(self, grace: float = 1.0) -> None:
        """Stop every worker (ask, then SIGTERM, then SIGKILL) and release pipes; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        _close_all(self.procs, self.conns, grace)
        self.procs, self.conns = [], []

    # --- messaging --------------------------------------------------------------------------------
    def send(self, rank: int, cmd: str, *args: Any) -> None:
        try:
            self.conns[rank].send((cmd, args))
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            self.procs[rank].join(timeout=1.0)  # a killed worker's pipe can close before it is reaped
            self.raise_if_failed([rank])
            raise WorkerError(f"sampler worker {rank} is not reachable (its pipe is closed).", rank=rank)

    def broadcast(self, cmd: str, *args: Any, ranks: Optional[Sequence[int]] = None) -> None:
        for rank in (range(self.n) if ranks is None else ranks):
            self.send(rank, cmd, *args)

    def call(self, cmd: str, *args: Any, ranks: Optional[Sequence[int]] = None) -> List[Any]:
        """Send ``cmd`` to ``ranks`` (all) and return their results, in rank order."""
        ranks = list(range(self.n)) if ranks is None else list(ranks)
        self.broadcast(cmd, *args, ranks=ranks)
        return self.gather(ranks, what=f"running {cmd!r}")

    def gather(self, ranks: Sequence[int], timeout: Optional[float] = None, what: str = "working") -> List[Any]:
        """Wait for one reply from each of ``ranks``; WorkerError on an error reply, death or no progress."""
        ranks = list(ranks)
        results: Dict[int, Any] = {r: self._stash.pop(r) for r in ranks if r in self._stash}
        pending = {self.conns[r]: r for r in ranks if r not in results}
        sentinels = {self.procs[r].sentinel: r for r in ranks if r not in results}
        watch = Watchdog(self, ranks, self.timeout if timeout is None else timeout, what)
        while pending:
            ready = mp_wait(list(pending) + list(sentinels), timeout=0.25)
            for obj in ready:
                if obj in pending:
                    rank = pending.pop(obj)
                    results[rank] = self._recv(rank)
                    sentinels.pop(self.procs[rank].sentinel, None)
                elif obj in sentinels:
                    self.raise_if_failed([sentinels[obj]])
            if not ready:
                watch.check(list(pending.values()))
        return [results[r] for r in ranks]

    def _recv(self, rank: int) -> Any:
        try:
            kind, payload = self.conns[rank].recv()
        except (EOFError, OSError, ConnectionResetError):
            self.procs[rank].join(timeout=1.0)
            hint = ""
            if self.method != "fork":
                hint = (f" Under the {self.method!r} start method a worker re-imports the main script: guard the "
                        "script's code with `if __name__ == \"__main__\":`, and make EnvCls, the agent and "
                        "env_kwargs importable/picklable (see the worker's stderr above).")
            raise WorkerError(
                f"sampler worker {rank} died ({exit_description(self.procs[rank].exitcode)}) "
                f"without reporting an error.{hint}", rank=rank, exitcode=self.procs[rank].exitcode,
            ) from None
        if kind == "error":
            raise worker_error(rank, payload)
        return payload

    def raise_if_failed(self, ranks: Optional[Sequence[int]] = None, drain_replies: bool = False) -> None:
        """Raise WorkerError if one of ``ranks`` (all by default) sent an error or has exited; never blocks.

        A worker that exited raises even without a report; an error report it sent just before exiting
        wins over the bare exit. ``drain_replies`` also reads what *live* workers have sent (used between
        semaphore waits, when replies can arrive before :meth:`gather` runs): an error report raises, a
        regular reply is stashed for the next :meth:`gather`. Never drain inside :meth:`gather`, which
        waits on the pipes itself.
        """
        for rank in (range(self.n) if ranks is None else ranks):
            conn, proc = self.conns[rank], self.procs[rank]
            exitcode = proc.exitcode
            if exitcode is None and not (drain_replies and rank not in self._stash):
                continue
            try:
                if conn.poll(0):
                    kind, payload = conn.recv()
                    if kind == "error":
                        raise worker_error(rank, payload)
                    if exitcode is None:
                        self._stash[rank] = payload  # a regular reply that arrived early: gather() picks it up
            except (EOFError, OSError):
                exitcode = proc.exitcode  # the pipe closed: the worker is exiting (raise once it has)
            if exitcode is not None:
                raise WorkerError(
                    f"sampler worker {rank} (pid {proc.pid}) died ({exit_description(exitcode)}). Out of memory "
                    "(check `dmesg`), a crash in native env code, or an external kill are the usual causes.",
                    rank=rank, exitcode=exitcode,
                )


class Watchdog:
    """Tracks the heartbeat of ``ranks`` while the master waits; :meth:`check` raises on a stall."""

    def __init__(self, pool: WorkerPool, ranks: Sequence[int], timeout: float, what: str = "working"):
        self.pool, self.ranks, self.timeout, self.what = pool, list(ranks), float(timeout), what
        self.hb = pool.heartbeat.numpy()
        now = time.monotonic()
        self.last = {r: (int(self.hb[r, 0]), now) for r in self.ranks}

    def check(self, ranks: Optional[Sequence[int]] = None) -> None:
        """Raise if one of ``ranks`` (default: all watched) died or has not stepped an env for ``timeout`` s."""
        ranks = self.ranks if ranks is None else ranks
        self.pool.raise_if_failed(ranks)
        now = time.monotonic()
        for r in ranks:
            count = int(self.hb[r, 0])
            seen, since = self.last[r]
            if count != seen:
                self.last[r] = (count, now)
            elif now - since > self.timeout:
                env = int(self.hb[r, 1])
                where = f" in train env {env}" if env >= 0 else (f" in eval env {-2 - env}" if env < -1 else "")
                call = {1: "step()", 2: "reset()"}.get(int(self.hb[r, 2]), "a step or reset")
                name = f"env '{self.pool.env_name}' " if getattr(self.pool, "env_name", "") else "an env "
                arg = "start_timeout" if self.what == "starting" else "worker_timeout"
                raise WorkerError(
                    f"sampler worker {r} made no progress for {self.timeout:g} s while {self.what}{where}: "
                    f"{name}{call} is hanging (or is slower than the timeout). Fix the env, or raise the timeout if "
                    f"its calls legitimately take this long (the sampler's {arg} argument; the scripts' "
                    "--worker-timeout flag).",
                    rank=r, env_index=env if env >= 0 else (-2 - env if env < -1 else None), exc_type="Timeout",
                )


def worker_error(rank: int, payload: Dict[str, Any]) -> WorkerError:
    env = payload.get("env_index")
    where = ""
    if env is not None:  # eval envs are tagged -2 - index (GuardedEnv)
        where, env = (f", train env {env}", env) if env >= 0 else (f", eval env {-2 - env}", -2 - env)
    return WorkerError(
        f"sampler worker {rank}{where} raised {payload['exc_type']}: {payload['message']}",
        rank=rank, env_index=env, exc_type=payload["exc_type"], traceback_text=payload.get("traceback", ""),
    )


def _close_all(procs: List[Any], conns: List[Any], grace: float = 1.0) -> None:
    for conn in conns:
        try:
            conn.send(("close", ()))
        except Exception:
            pass
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for stop in ("terminate", "kill"):
        alive = [p for p in procs if p.exitcode is None]
        if not alive:
            break
        for p in alive:
            try:
                getattr(p, stop)()
            except Exception:
                pass
        for p in alive:
            p.join(timeout=grace)
    for p in procs:
        try:
            p.close()
        except ValueError:  # still running after SIGKILL (uninterruptible sleep): nothing more to do
            pass
    for conn in conns:
        try:
            conn.close()
        except Exception:
            pass


def wait_semaphore(sem: Any, pool: WorkerPool, rank: int, what: str = "stepping envs") -> None:
    """Acquire ``sem`` (posted by worker ``rank``) without ever blocking for good.

    The fast path is one timed acquire; after ``_TICK`` seconds every worker is checked for errors and
    deaths and ``rank`` for progress (heartbeat), then the wait resumes.
    """
    if sem.acquire(timeout=_TICK):
        return
    watch = Watchdog(pool, [rank], pool.timeout, what)
    while True:
        pool.raise_if_failed(drain_replies=True)
        watch.check()
        if sem.acquire(timeout=_TICK):
            return


def _start_forkserver_ignoring_sigint() -> None:
    """Start multiprocessing's fork server with SIGINT ignored: an ignored disposition survives ``exec`` and
    Python then installs no KeyboardInterrupt handler, so a Ctrl-C while the server imports its preload prints
    no traceback (a blocked mask alone did not keep it quiet under load). The master's own handler is back
    within milliseconds."""
    from multiprocessing import forkserver

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)
