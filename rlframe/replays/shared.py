"""Replays in shared memory, for a sampler process that appends while the optimizer samples (``AsyncRl``).

rlpyt's asynchronous replays (Stooke & Abbeel, 2019, section 2.3; rlpyt/replays/async_.py) keep their
storage in shared memory and guard it with a read-write lock: the sampler process writes each new batch,
the optimizer process draws training batches and (prioritized replays) writes priorities. Here a replay
built with ``shared=True`` allocates every array it keeps - the ``[T_ring, B]`` fields, the valid mask, the
stored recurrent states, the final-observation slots, the sum tree and the counters (ring row, rows written,
largest priority) - as torch shared-memory tensors and holds numpy views of them. Pickled to another process
(over a ``torch.multiprocessing`` pipe or as a process argument) it travels as handles to the same memory, so
both processes see one replay; each keeps its own random generator.

:class:`ReplayLock` serializes the two sides: ``append_samples`` and ``update_batch_priorities`` write,
``sample_batch`` and ``state_dict`` read. One writer and one reader make a mutual-exclusion lock enough (a
read-write lock admits concurrent readers; there is one). Every acquire has a timeout and checks, between
short waits, that the process on the other side is alive (``peer_check``): a dead or stuck peer is a
:class:`~rlframe.errors.WorkerError`, never a hang. Non-shared replays use :data:`NO_LOCK` (no cost).
"""
from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

import numpy as np

from rlframe.core.buffers import buffer_from_example, numpify, torch_buffer_from_example
from rlframe.errors import WorkerError

_TICK = 0.05  # seconds between liveness checks while waiting for the lock


class NoLock:
    """The lock of a replay only one process uses: entering costs nothing."""

    wait_s = 0.0

    def held(self, what: str = "") -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


NO_LOCK = NoLock()


class ReplayLock:
    """A cross-process lock with a timeout and a liveness check of the other process.

    Args:
        ctx: the multiprocessing context whose processes share it (pass it to them as a process argument:
            multiprocessing locks travel only by inheritance).
        timeout: seconds one acquire may wait before a :class:`WorkerError` (the holder is stuck).

    ``peer_check`` (set in each process, not pickled) is called between short waits and raises when the
    process on the other side has died. The lock is re-entrant within one thread (``state_dict`` of a
    subclass calls its base's under the lock).
    """

    def __init__(self, ctx: Any, timeout: float = 60.0):
        self._lock = ctx.RLock()
        self.timeout = float(timeout)
        self.peer_check: Optional[Callable[[], None]] = None
        self.wait_s = 0.0  # seconds this process waited for the lock (logged by AsyncRl)

    @contextlib.contextmanager
    def held(self, what: str = "using the replay") -> Iterator[None]:
        t0 = time.monotonic()
        if not self._lock.acquire(timeout=_TICK):
            while not self._lock.acquire(timeout=_TICK):
                if self.peer_check is not None:
                    self.peer_check()
                if time.monotonic() - t0 > self.timeout:
                    raise WorkerError(
                        f"the shared replay's lock stayed taken for {self.timeout:g} s while {what}: the process on "
                        "the other side (sampler or optimizer) holds it and makes no progress. Raise the lock "
                        "timeout (AsyncRl's lock_timeout) only if one append or sample legitimately takes this long.")
        self.wait_s += time.monotonic() - t0
        try:
            yield
        finally:
            self._lock.release()

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["peer_check"] = None
        state["wait_s"] = 0.0
        return state


def locked(what: str) -> Callable:
    """Decorator: run a replay method holding ``self.lock`` (``what`` names the action in timeout errors)."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(self, *args: Any, **kwargs: Any) -> Any:
            with self.lock.held(what):
                return fn(self, *args, **kwargs)
        return inner
    return wrap


class SharedArrays:
    """Mixin for objects whose arrays may live in torch shared memory and must pickle as that memory.

    :meth:`_alloc` sets an attribute to zeros shaped ``leading_dims + example``: plain numpy when
    ``self.shared`` is false, else numpy views of shared torch tensors, which are kept in ``self._shm`` and
    sent instead of the views when the object is pickled. :meth:`_views` recomputes attributes derived
    from them (views such as a flattened copy) after unpickling.
    """

    shared = False
    _derived: Sequence[str] = ()  # attributes _views() recomputes (not pickled)

    def _alloc(self, name: str, example: Any, leading_dims: Sequence[int]) -> Any:
        if self.shared:
            tensors = torch_buffer_from_example(example, leading_dims, share_memory=True)
            self.__dict__.setdefault("_shm", {})[name] = tensors
            value = numpify(tensors)
        else:
            value = buffer_from_example(example, leading_dims)
        setattr(self, name, value)
        return value

    def _views(self) -> None:
        """Recompute derived views after unpickling (override)."""

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        for name in list(state.get("_shm", {})) + list(self._derived):
            state[name] = None  # travels as the tensors in _shm / is recomputed
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name, tensors in state.get("_shm", {}).items():
            setattr(self, name, numpify(tensors))
        self._views()

