"""Epsilon-greedy over Q-values (DQN, Mnih et al. 2015), with per-env epsilons and action masks.

``dist_info`` here is the Q-value tensor itself (``[..., dim]``). ``sample`` picks the greedy action
and, with probability ``epsilon`` (a float or a tensor broadcast over the leading dims, e.g. one
epsilon per env as in Ape-X), a uniformly random *feasible* action.
"""
from __future__ import annotations

from typing import Optional, Union

import torch

from rlframe.distributions.base import Distribution
from rlframe.distributions.categorical import mask_logits


class EpsilonGreedy(Distribution):
    """Epsilon-greedy action selection over ``dim`` discrete actions."""

    def __init__(self, dim: int, epsilon: Union[float, torch.Tensor] = 1.0, dtype: torch.dtype = torch.long):
        self.dim = int(dim)
        self.dtype = dtype
        self._epsilon = epsilon

    def set_epsilon(self, epsilon: Union[float, torch.Tensor]) -> None:
        self._epsilon = epsilon

    @property
    def epsilon(self):
        return self._epsilon

    def sample(self, q: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        qm = mask_logits(q, mask)
        greedy = qm.argmax(dim=-1)
        if mask is None:
            rand = torch.randint(0, self.dim, greedy.shape, device=q.device)
        else:
            weights = (mask != 0).to(torch.float32).reshape(-1, self.dim)
            weights = torch.where(weights.sum(-1, keepdim=True) > 0, weights, torch.ones_like(weights))
            rand = torch.multinomial(weights, 1).view(greedy.shape)
        eps = torch.as_tensor(self._epsilon, dtype=torch.float32, device=q.device)
        explore = torch.rand(greedy.shape, device=q.device) < eps
        return torch.where(explore, rand, greedy).to(self.dtype)

    def mode(self, q: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return mask_logits(q, mask).argmax(dim=-1).to(self.dtype)

    mean = mode

    def log_likelihood(self, x, dist_info):  # pragma: no cover - not a likelihood-based policy
        raise NotImplementedError("EpsilonGreedy has no likelihood; it is for value-based agents (DQN).")

    def entropy(self, dist_info):  # pragma: no cover
        raise NotImplementedError("EpsilonGreedy has no entropy; it is for value-based agents (DQN).")
