"""``UniformReplayBuffer``: every stored transition equally likely (Mnih et al., 2015, "Human-level
control through deep reinforcement learning", Nature 518; rlpyt's UniformReplayBuffer)."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from rlframe.errors import ConfigError
from rlframe.replays.base import BaseReplayBuffer

_MAX_REDRAWS = 64


class UniformReplayBuffer(BaseReplayBuffer):
    """Samples cells uniformly from the sampleable rows of every env, skipping blank slots (wait-reset
    collectors) by redrawing them; ``is_weights`` are ones. Constructor: see
    :class:`~rlframe.replays.base.BaseReplayBuffer`."""

    def _sample_idxs(self, batch_B: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self._check_sampleable()
        rows = self.rng.integers(lo, hi, size=batch_B) % self.T
        bs = self.rng.integers(0, self.B, size=batch_B)
        for _ in range(_MAX_REDRAWS):
            bad = np.nonzero(~self.valid[rows, bs])[0]
            if not bad.size:
                return rows, bs, np.ones(batch_B, dtype=np.float32)
            rows[bad] = self.rng.integers(lo, hi, size=bad.size) % self.T
            bs[bad] = self.rng.integers(0, self.B, size=bad.size)
        raise ConfigError(
            f"{self.name}: almost every stored step is a wait-reset blank slot, nothing valid to sample; use the "
            "reset collector (mid-batch resets) with replay-based algorithms, or collect more steps first.")
