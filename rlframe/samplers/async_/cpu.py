"""``AsyncCpuSampler`` and ``AsyncSerialSampler``: sampling that runs while the optimizer trains.

rlpyt's asynchronous samplers (Stooke & Abbeel, 2019, "rlpyt: A Research Code Base for Deep Reinforcement
Learning in PyTorch", section 2.3) let the sampler processes collect the next batch while the optimizer
trains on the last one. Here the workers of a :class:`~rlframe.samplers.parallel.cpu.CpuSampler` do it: a double
buffer of two ``[T, B]`` halves, the shared one the workers write and a private one the optimizer reads. When
the optimizer asks for batch ``k`` (:meth:`AsyncCpuSampler.obtain_samples`), the sampler waits for the workers
to finish it, copies it into the private half and at once sends them off on batch ``k + 1``, which they
collect while the optimizer appends batch ``k`` to its replay and trains.

Throttling: the workers are at most one batch ahead (they wait, idle, until the optimizer takes the batch they
finished) and the optimizer waits when the workers are behind, so the replay ratio of the algorithm (gradient
updates per env step, ``algos/replay_base.py``) holds exactly. The workers act with the shared weights as the
optimizer leaves them (read without a lock, as Hogwild; at most one batch of updates behind).

Faults are those of the parallel samplers (``samplers/parallel/pool.py``): an env exception or a killed worker
is a :class:`~rlframe.errors.WorkerError` in the optimizer's process at its next wait (within the worker
timeout), and :meth:`shutdown` stops every worker.

``AsyncSerialSampler`` is the one-worker case (rlpyt's ``AsyncSerialSampler``: all envs in one sampling
process). A GPU variant (rlpyt's ``AsyncGpuSampler``, action selection batched in a separate process) is not
built.
"""
from __future__ import annotations

import time
from typing import Any, List, Optional, Tuple

import numpy as np

from rlframe.core.namedarraytuple import iter_leaves, map_leaves
from rlframe.samplers.base import TrajInfo
from rlframe.samplers.parallel.cpu import CpuSampler


class AsyncCpuSampler(CpuSampler):
    """A :class:`CpuSampler` whose workers collect the next batch while the caller optimizes (module
    docstring); takes CpuSampler's arguments."""

    exact_resume = False  # workers run a batch ahead of the checkpoint: their state is not the checkpoint's

    def initialize(self, *args: Any, **kwargs: Any) -> dict:
        examples = super().initialize(*args, **kwargs)
        self._ready = map_leaves(np.array, self.samples_np)  # the optimizer's half of the double buffer
        self._pairs = [(dst, src) for (_, dst), (_, src) in zip(iter_leaves(self._ready),
                                                                  iter_leaves(self.samples_np))]
        self._in_flight: Optional[int] = None  # the iteration the workers are collecting
        self._stash: Optional[Tuple[int, List[TrajInfo]]] = None  # a batch finished before an evaluation
        self.wait_s = 0.0  # optimizer time spent waiting for the workers (the runner logs and resets it)
        return examples

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        """Batch ``itr`` (collected while the caller trained, when it was sent ahead), in the private half;
        the workers then start on batch ``itr + 1``."""
        with self._running() as pool:
            if self._stash is not None and self._stash[0] == itr:
                trajs = self._stash[1]
                self._stash = None
            else:
                if self._in_flight != itr:
                    self._collect_now(pool, itr)
                trajs = self._take(pool)
            self.agent.sync_shared_memory()
            pool.broadcast("collect", itr + 1)
            self._in_flight = itr + 1
            return self._ready, trajs

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        """Evaluation episodes; a batch in flight is finished and kept for the next :meth:`obtain_samples`."""
        if self._in_flight is not None and self._stash is None:
            with self._running() as pool:
                in_flight = self._in_flight
                self._stash = (in_flight, self._take(pool))
        return super().evaluate_agent(itr)

    # --- the double buffer --------------------------------------------------------------------------------
    def _collect_now(self, pool: Any, itr: int) -> None:
        if self._in_flight is not None:  # a batch for another iteration (a resumed or restarted loop): drop it
            self._take(pool)
        self.agent.sync_shared_memory()
        pool.broadcast("collect", itr)
        self._in_flight = itr

    def _take(self, pool: Any) -> List[TrajInfo]:
        """Wait for the batch in flight, copy it into the private half; its TrajInfos."""
        t0 = time.perf_counter()
        results = pool.gather(range(pool.n), what=f"collecting batch {self._in_flight}")
        self.wait_s += time.perf_counter() - t0
        self._in_flight = None
        for dst, src in self._pairs:
            np.copyto(dst, src)
        return self._finish(results)

    def shutdown(self) -> None:
        self._in_flight = None
        self._stash = None
        super().shutdown()


class AsyncSerialSampler(AsyncCpuSampler):
    """All envs in one sampling process beside the optimizer (rlpyt's ``AsyncSerialSampler``)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["n_workers"] = 1
        super().__init__(*args, **kwargs)
