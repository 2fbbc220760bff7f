"""Tanh-squashed diagonal Gaussian (SAC's policy, Haarnoja et al. 2018, appendix C).

An action is ``a = tanh(u)`` with ``u ~ N(mean, exp(log_std))``, so it lies in ``(-1, 1)`` per dim
(agents scale it to the env's Box bounds: :class:`rlframe.agents.qpg.base.BoxActionScaler`). Its
log-density carries the change-of-variables correction

    log pi(a) = log N(u; mean, std) - sum_i log(1 - tanh(u_i)^2),

with ``log(1 - tanh(u)^2)`` evaluated as ``2 * (log 2 - u - softplus(-2u))``, exact and finite even
where ``tanh(u)`` rounds to +-1 in float32 (no ``1e-6`` fudge inside the log).
:meth:`TanhGaussian.sample_loglikelihood` draws with the reparameterisation trick (gradients flow
to ``mean`` and ``log_std``) and returns the log-prob from the pre-squash sample ``u``, which never
needs ``atanh``.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F

from rlframe.distributions.gaussian import DistInfoStd, Gaussian

_LOG_2 = math.log(2.0)
_LOG_2PI = math.log(2 * math.pi)


def log_tanh_jacobian(u: torch.Tensor) -> torch.Tensor:
    """``log(1 - tanh(u)^2)`` elementwise, numerically stable for large ``|u|``."""
    return 2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))


class TanhGaussian(Gaussian):
    """``tanh`` of a diagonal Gaussian over ``dim`` action dims; actions in ``(-1, 1)``.

    ``dist_info`` is the Gaussian's :data:`~rlframe.distributions.gaussian.DistInfoStd` (pre-squash
    ``mean`` and ``log_std``); ``min_std``/``max_std`` clamp the standard deviation as in
    :class:`~rlframe.distributions.gaussian.Gaussian`.
    """

    def sample_loglikelihood(self, dist_info: DistInfoStd) -> Tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised draw: ``(action [..., dim] in (-1, 1), log pi(action) [...])``."""
        log_std = self._log_std(dist_info)
        noise = torch.randn_like(dist_info.mean)
        u = dist_info.mean + noise * log_std.exp()
        # log N(u; mean, std) with (u - mean) / std == noise exactly
        logp = -(0.5 * noise * noise + log_std).sum(-1) - 0.5 * self.dim * _LOG_2PI
        return torch.tanh(u), logp - log_tanh_jacobian(u).sum(-1)

    def sample(self, dist_info: DistInfoStd) -> torch.Tensor:
        return torch.tanh(super().sample(dist_info))

    def log_likelihood(self, x: torch.Tensor, dist_info: DistInfoStd) -> torch.Tensor:
        """``log pi(x)`` of squashed actions ``x`` (clamped just inside ``(-1, 1)`` before ``atanh``)."""
        eps = torch.finfo(x.dtype).eps
        u = torch.atanh(x.clamp(-1.0 + eps, 1.0 - eps))
        return super().log_likelihood(u, dist_info) - log_tanh_jacobian(u).sum(-1)

    def entropy(self, dist_info: DistInfoStd) -> torch.Tensor:
        raise NotImplementedError(
            "TanhGaussian has no closed-form entropy; estimate it as -log_likelihood of samples "
            "(sample_loglikelihood), as SAC does."
        )

    def kl(self, old_dist_info: DistInfoStd, new_dist_info: DistInfoStd) -> torch.Tensor:
        # tanh is a bijection: the KL between the squashed distributions equals the Gaussians' KL.
        return super().kl(old_dist_info, new_dist_info)

    def mode(self, dist_info: DistInfoStd) -> torch.Tensor:
        """``tanh(mean)``: the deterministic action used in evaluation (SB3's and the SAC paper's choice)."""
        return torch.tanh(dist_info.mean)

    mean = mode
