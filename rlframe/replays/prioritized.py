"""``PrioritizedReplayBuffer``: proportional prioritized experience replay.

Schaul et al., 2016, "Prioritized Experience Replay" (ICLR): transition ``i`` is drawn with probability
``P(i) = p_i^alpha / sum_k p_k^alpha`` (a :class:`~rlframe.replays.sum_tree.SumTree` over every cell of the
ring), its loss weighted by the importance-sampling weight ``w_i = (N P(i))^-beta / max_j w_j`` (normalised
by the batch's largest weight, as rlpyt does), and after the update its priority set to
``|td_error| + eps`` (``update_batch_priorities``). New transitions enter with the largest priority seen so
far, so each is replayed at least once soon; ``beta`` is annealed towards 1 by the algorithm
(:class:`~rlframe.algos.replay_base.ReplayAlgorithm`, ``set_beta``).

Cells that cannot be sampled (the newest ``n_step_return`` rows, rows whose history was overwritten,
wait-reset blank slots) have priority 0 until they become sampleable.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from rlframe.errors import ConfigError
from rlframe.replays.base import BaseReplayBuffer
from rlframe.replays.shared import locked
from rlframe.replays.sum_tree import SumTree


class PrioritizedReplayBuffer(BaseReplayBuffer):
    """Constructor: :class:`~rlframe.replays.base.BaseReplayBuffer`'s arguments and

    Args:
        alpha: priority exponent (0: uniform).
        beta: initial importance-sampling exponent (1: full correction); change it with :meth:`set_beta`.
        default_priority: priority of the first transitions (before any update).
        eps: added to ``|td_error|`` so no transition gets priority 0.
    """

    def __init__(self, examples: Mapping[str, Any], size: int, B: int, discount: float = 0.99,
                 n_step_return: int = 1, seed: Optional[int] = None, alpha: float = 0.6, beta: float = 0.4,
                 default_priority: float = 1.0, eps: float = 1e-6, **kwargs: Any):
        super().__init__(examples, size, B, discount=discount, n_step_return=n_step_return, seed=seed, **kwargs)
        if alpha < 0 or default_priority <= 0 or eps < 0:
            raise ConfigError(f"prioritized replay needs alpha >= 0, default_priority > 0 and eps >= 0; got "
                              f"alpha={alpha}, default_priority={default_priority}, eps={eps}.")
        self.alpha = float(alpha)
        self.set_beta(beta)
        self.eps = float(eps)
        self._alloc("_max_priority", np.zeros((), np.float64), (1,))
        self.max_priority = float(default_priority)
        self.tree = SumTree(self.T * self.B, shared=self.shared)
        self._last_idxs: Optional[np.ndarray] = None

    @property
    def max_priority(self) -> float:
        """The largest priority seen (new transitions enter with it); shared with the sampler process."""
        return float(self._max_priority[0])

    @max_priority.setter
    def max_priority(self, value: float) -> None:
        self._max_priority[0] = value

    def set_beta(self, beta: float) -> None:
        if not 0.0 <= float(beta) <= 1.0:
            raise ConfigError(f"prioritized replay beta must lie in [0, 1], got {beta}.")
        self.beta = float(beta)

    # --- priorities follow what can be sampled ---------------------------------------------------------
    def _set_rows(self, abs_rows: np.ndarray, value: float) -> None:
        rows = abs_rows % self.T
        flat = (rows[:, None] * self.B + np.arange(self.B)).ravel()
        self.tree.update(flat, value * self.valid[rows].ravel())

    def after_append(self, total0: int, total1: int) -> None:
        self._set_rows(np.arange(total0, total1), 0.0)  # written rows wait for their bootstrap rows
        _, hi0 = self.sampleable_range(total0)
        lo1, hi1 = self.sampleable_range(total1)
        self._set_rows(np.arange(max(hi0, lo1), hi1), self.max_priority ** self.alpha)
        self._set_rows(np.arange(max(0, total1 - self.T), lo1), 0.0)  # history overwritten

    # --- sampling --------------------------------------------------------------------------------------
    def _sample_idxs(self, batch_B: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_sampleable()
        if not self.tree.total > 0:
            raise ConfigError(f"{self.name}: every stored step is a wait-reset blank slot; nothing to sample.")
        idx, p = self.tree.sample(batch_B, self.rng)
        self._last_idxs = idx
        # w_i / max_j w_j with w_i = (N P(i))^-beta: N and the total cancel.
        is_weights = (p / p.min()) ** (-self.beta)
        return idx // self.B, idx % self.B, is_weights.astype(np.float32)

    @locked("updating priorities")
    def update_batch_priorities(self, priorities: Any, idxs: Optional[Any] = None) -> None:
        """Set the priorities of the last sampled batch (or of ``idxs``, flat indices as in
        ``batch.idxs``) to ``(|priorities| + eps) ** alpha``; ``priorities`` is typically ``|td_error|``.
        Cells overwritten or made unsampleable since they were drawn keep priority 0."""
        idxs = self._last_idxs if idxs is None else np.asarray(idxs.cpu() if isinstance(idxs, torch.Tensor) else idxs)
        if idxs is None:
            raise ConfigError("update_batch_priorities before any sample_batch: pass idxs or sample first.")
        p = np.abs(np.asarray(priorities.detach().cpu() if isinstance(priorities, torch.Tensor) else priorities,
                              dtype=np.float64)).ravel() + self.eps
        if p.shape != idxs.shape:
            raise ConfigError(f"update_batch_priorities got {p.size} priorities for a batch of {idxs.size}.")
        live = self.tree.leaves[idxs] > 0
        self.max_priority = max(self.max_priority, float(p.max(initial=0.0)))
        self.tree.update(idxs[live], p[live] ** self.alpha)

    def priorities(self) -> np.ndarray:
        """``p_i^alpha`` of every cell, ``[T_ring, B]`` (a copy)."""
        return self.tree.leaves.reshape(self.T, self.B).copy()

    # --- checkpoints -------------------------------------------------------------------------------------
    @locked("saving the replay")
    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state.update(priorities=torch.from_numpy(self.tree.leaves.copy()), max_priority=self.max_priority)
        return state

    @locked("loading the replay")
    def load_state_dict(self, state: Dict[str, Any], component: Optional[str] = None) -> None:
        super().load_state_dict(state, component)
        self.max_priority = float(state["max_priority"])
        self.tree.update(np.arange(self.tree.size), state["priorities"].numpy() * self.valid.ravel())
