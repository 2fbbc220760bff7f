"""Diagonal Gaussian distribution (``DistInfoStd(mean, log_std)``) for continuous actions.

``log_std`` is either a state-independent parameter of the model (broadcast to the batch, as in
PPO's MuJoCo set-up, Schulman et al. 2017) or a state-dependent model output. Optional
``min_std``/``max_std`` clamp the standard deviation. Log-likelihoods sum over action dims.
Actions are *not* clipped here: agents store the unclipped sample (its log-likelihood is the one
that matters) and clipping to Box bounds happens at the env boundary.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.distributions.base import Distribution

DistInfoStd = namedarraytuple("DistInfoStd", ["mean", "log_std"])

_LOG_2PI = math.log(2 * math.pi)


class Gaussian(Distribution):
    """Diagonal Gaussian over ``dim`` action dims."""

    def __init__(self, dim: int, min_std: Optional[float] = None, max_std: Optional[float] = None):
        self.dim = int(dim)
        self.min_log_std = None if min_std is None else math.log(min_std)
        self.max_log_std = None if max_std is None else math.log(max_std)

    def _log_std(self, dist_info: DistInfoStd) -> torch.Tensor:
        log_std = dist_info.log_std
        if self.min_log_std is not None or self.max_log_std is not None:
            log_std = log_std.clamp(self.min_log_std, self.max_log_std)
        return log_std.expand_as(dist_info.mean)

    def sample(self, dist_info: DistInfoStd) -> torch.Tensor:
        mean = dist_info.mean
        return mean + torch.randn_like(mean) * self._log_std(dist_info).exp()

    def log_likelihood(self, x: torch.Tensor, dist_info: DistInfoStd) -> torch.Tensor:
        log_std = self._log_std(dist_info)
        z = (x - dist_info.mean) * torch.exp(-log_std)
        return -(0.5 * z * z + log_std).sum(-1) - 0.5 * self.dim * _LOG_2PI

    def entropy(self, dist_info: DistInfoStd) -> torch.Tensor:
        return (self._log_std(dist_info) + 0.5 * (_LOG_2PI + 1.0)).sum(-1)

    def kl(self, old_dist_info: DistInfoStd, new_dist_info: DistInfoStd) -> torch.Tensor:
        old_ls, new_ls = self._log_std(old_dist_info), self._log_std(new_dist_info)
        num = (old_dist_info.mean - new_dist_info.mean) ** 2 + torch.exp(2 * old_ls) - torch.exp(2 * new_ls)
        den = 2 * torch.exp(2 * new_ls) + 1e-8
        return (num / den + new_ls - old_ls).sum(-1)

    def mode(self, dist_info: DistInfoStd) -> torch.Tensor:
        return dist_info.mean

    mean = mode
