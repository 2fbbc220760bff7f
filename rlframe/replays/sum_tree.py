"""``SumTree``: a binary tree of sums over leaf priorities, for proportional sampling in O(log N).

Schaul et al., 2016, "Prioritized Experience Replay" (ICLR), appendix B.2.1: leaves hold
priorities ``p_i``, each inner node the sum of its children, so drawing ``u ~ U(0, total)`` and walking
down picks leaf ``i`` with probability ``p_i / total``. Both directions are vectorised over a batch in
numpy: an update sets its leaves and recomputes the touched parents level by level (no drift from
incremental additions); sampling walks every draw down the levels at once.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


class SumTree:
    """Priorities of ``size`` leaves (indices ``0 .. size-1``), all 0 at first."""

    def __init__(self, size: int):
        self.size = int(size)
        self.capacity = 1 << max(0, (self.size - 1).bit_length())  # leaves: a power of two
        self.depth = self.capacity.bit_length() - 1
        self.tree = np.zeros(2 * self.capacity, dtype=np.float64)  # tree[1] is the root

    @property
    def total(self) -> float:
        return float(self.tree[1])

    @property
    def leaves(self) -> np.ndarray:
        """A view of the ``size`` leaf priorities (read only: write through :meth:`update`)."""
        return self.tree[self.capacity:self.capacity + self.size]

    def update(self, idx: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of leaves ``idx`` (for repeated indices the last one wins)."""
        node = np.asarray(idx, dtype=np.int64).ravel() + self.capacity
        p = np.broadcast_to(np.asarray(priorities, dtype=np.float64).ravel(), node.shape)
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise ValueError("priorities must be finite and >= 0.")
        self.tree[node] = p
        node = np.unique(node >> 1)
        while node.size and node[0] >= 1:
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]
            if node[0] == 1:
                break
            node = np.unique(node >> 1)

    def find(self, u: np.ndarray) -> np.ndarray:
        """Leaf index for each prefix-sum value ``u`` in ``[0, total)``."""
        u = np.array(u, dtype=np.float64)
        node = np.ones(u.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * node
            left_sum = self.tree[left]
            go_right = u >= left_sum
            u -= np.where(go_right, left_sum, 0.0)
            node = left + go_right
        return node - self.capacity

    def sample(self, n: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """``n`` leaves drawn with probability proportional to their priority, stratified (one draw per
        ``1/n`` slice of the total, as in Schaul et al.); returns ``(indices, priorities)``."""
        total = self.total
        if not total > 0:
            raise ValueError("cannot sample from a sum tree whose priorities are all 0.")
        u = (np.arange(n) + rng.random(n)) * (total / n)
        idx = self.find(np.minimum(u, np.nextafter(total, 0)))
        p = self.tree[idx + self.capacity]
        bad = (p <= 0) | (idx >= self.size)
        while bad.any():  # float rounding at a slice edge landed on an empty leaf: redraw those
            k = np.nonzero(bad)[0]
            idx[k] = self.find(rng.random(k.size) * total)
            p[k] = self.tree[idx[k] + self.capacity]
            bad = (p <= 0) | (idx >= self.size)
        return idx, p
