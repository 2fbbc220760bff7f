"""``AlternatingSampler``: a GpuSampler whose workers form two groups that take turns.

rlpyt's alternating sampler (Stooke & Abbeel, 2019, Sec. 3.1): while the master runs the agent on group A's
observations, group B's workers step their envs, and the other way round, so inference and env stepping
overlap instead of taking turns for the whole batch. Same per-step protocol as
:class:`~rlframe.samplers.parallel.gpu.GpuSampler` (shared step buffers, two semaphores per worker); the
agent sees half of the envs per call. Needs at least two workers; best when inference and one group's env
steps take similar time.
"""
from __future__ import annotations

from typing import Any, List, Optional

from rlframe.errors import ConfigError
from rlframe.samplers.parallel.gpu import GpuSampler


class AlternatingSampler(GpuSampler):
    """GpuSampler with two alternating worker groups (workers ``[0, n/2)`` and ``[n/2, n)``)."""

    alternating = True

    def _n_workers(self, affinity: Optional[dict]) -> int:
        n = super()._n_workers(affinity)
        if self.batch_spec.B < 2:
            raise ConfigError("AlternatingSampler needs batch_B >= 2 (two groups of envs); use GpuSampler.")
        return max(2, n)

    def worker_groups(self) -> List[List[int]]:
        half = self.n_workers // 2
        return [list(range(half)), list(range(half, self.n_workers))]
