"""``SumTree``: a tree of sums over leaf priorities, for proportional sampling in O(log N).

Schaul et al., 2016, "Prioritized Experience Replay" (ICLR), appendix B.2.1: leaves hold
priorities ``p_i``, each inner node the sum of its children, so drawing ``u ~ U(0, total)`` and walking
down picks leaf ``i`` with probability ``p_i / total``. Here each node has ``fanout`` (32) children instead
of 2, and both directions are vectorised over a batch in numpy: a walk visits 4 levels for a million
leaves instead of 20, and each level is a handful of array operations on ``[batch, fanout]`` blocks (a
batch's cost is the per-call overhead of numpy, not arithmetic, so fewer levels is what counts). An update
sets its leaves and recomputes the touched parents level by level from their children (no drift from
incremental additions). ``shared=True`` keeps the levels in shared memory (``replays/shared.py``).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from rlframe.replays.shared import SharedArrays


class SumTree(SharedArrays):
    """Priorities of ``size`` leaves (indices ``0 .. size-1``), all 0 at first.

    ``levels[d]`` holds the nodes at depth ``d`` (``levels[-1]``: the leaves, padded with zeros); the
    children of node ``i`` at depth ``d >= 1`` are ``levels[d + 1][i * fanout:(i + 1) * fanout]``, and the
    root's children are all of ``levels[1]`` (at most ``fanout`` nodes).
    """

    def __init__(self, size: int, fanout: int = 32, shared: bool = False):
        self.size, self.fanout = int(size), int(fanout)
        if self.size < 1 or self.fanout < 2:
            raise ValueError(f"SumTree needs size >= 1 and fanout >= 2, got {size} and {fanout}.")
        depth = 1
        while self.fanout ** depth < self.size:
            depth += 1
        self.depth = depth
        block = self.fanout ** (depth - 1)
        top = -(-self.size // block)  # nodes under the root
        self.shared = bool(shared)
        self.levels: List[np.ndarray] = [self._alloc(f"_level{d}", np.zeros((), np.float64), (n,)) for d, n in
                                         enumerate([1] + [top * self.fanout ** d for d in range(depth)])]
        self._derived = ("levels",)

    def _views(self) -> None:
        self.levels = [getattr(self, f"_level{d}") for d in range(self.depth + 1)]

    @property
    def total(self) -> float:
        return float(self.levels[1].sum())

    @property
    def leaves(self) -> np.ndarray:
        """A view of the ``size`` leaf priorities (read only: write through :meth:`update`)."""
        return self.levels[-1][:self.size]

    def update(self, idx: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of leaves ``idx`` (for repeated indices the last one wins)."""
        node = np.asarray(idx, dtype=np.int64).ravel()
        p = np.broadcast_to(np.asarray(priorities, dtype=np.float64).ravel(), node.shape)
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise ValueError("priorities must be finite and >= 0.")
        self.levels[-1][node] = p
        F = self.fanout
        for d in range(self.depth - 1, 0, -1):  # parents of repeated leaves are recomputed, to the same value
            node = node // F
            self.levels[d][node] = self.levels[d + 1].reshape(-1, F)[node].sum(axis=1)

    def find(self, u: np.ndarray) -> np.ndarray:
        """Leaf index for each prefix-sum value ``u`` in ``[0, total)``."""
        u = np.array(u, dtype=np.float64)
        cums = np.cumsum(self.levels[1])
        node = np.minimum(np.searchsorted(cums, u, side="right"), cums.size - 1)
        u -= np.where(node > 0, cums[np.maximum(node - 1, 0)], 0.0)
        F, rows = self.fanout, np.arange(u.size)
        for d in range(2, self.depth + 1):
            cums = np.cumsum(self.levels[d].reshape(-1, F)[node], axis=1)  # [N, F]
            child = np.minimum((cums <= u[:, None]).sum(axis=1), F - 1)
            u -= np.where(child > 0, cums[rows, np.maximum(child - 1, 0)], 0.0)
            node = node * F + child
        return node

    def sample(self, n: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """``n`` leaves drawn with probability proportional to their priority, stratified (one draw per
        ``1/n`` slice of the total, as in Schaul et al.); returns ``(indices, priorities)``."""
        total = self.total
        if not total > 0:
            raise ValueError("cannot sample from a sum tree whose priorities are all 0.")
        u = (np.arange(n) + rng.random(n)) * (total / n)
        idx = self.find(np.minimum(u, np.nextafter(total, 0)))
        leaves = self.levels[-1]
        p = leaves[idx]
        bad = (p <= 0) | (idx >= self.size)
        while bad.any():  # float rounding at a block edge landed on an empty leaf: redraw those
            k = np.nonzero(bad)[0]
            idx[k] = self.find(rng.random(k.size) * total)
            p[k] = leaves[idx[k]]
            bad = (p <= 0) | (idx >= self.size)
        return idx, p
