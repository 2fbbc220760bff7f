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
        B, valid = self.B, self.valid.reshape(-1)
        cells = self.rng.integers(lo * B, hi * B, size=batch_B)  # absolute row * B + b
        rows, bs = (cells // B) % self.T, cells % B
        for _ in range(_MAX_REDRAWS):
            bad = np.nonzero(~valid[rows * B + bs])[0]
            if not bad.size:
                return rows, bs, np.ones(batch_B, dtype=np.float32)
            cells = self.rng.integers(lo * B, hi * B, size=bad.size)
            rows[bad], bs[bad] = (cells // B) % self.T, cells % B
        raise ConfigError(
            f"{self.name}: almost every stored step is a wait-reset blank slot, nothing valid to sample; use the "
            "reset collector (mid-batch resets) with replay-based algorithms, or collect more steps first.")
