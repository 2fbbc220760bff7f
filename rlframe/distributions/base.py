"""The distribution contract (rlpyt's): stateless objects that act on ``dist_info`` structures.

A distribution never holds parameters; the model outputs them and the agent packs them in a
``dist_info`` namedarraytuple (stored in the samples buffer as ``agent_info.dist_info``). The same
object then samples actions, scores them and measures entropy and KL for the algorithm.
"""
from __future__ import annotations

from typing import Any

import torch


class Distribution:
    """Interface: ``sample``, ``log_likelihood``, ``likelihood_ratio``, ``entropy``, ``kl``, ``mode``."""

    def sample(self, dist_info: Any) -> torch.Tensor:
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor, dist_info: Any) -> torch.Tensor:
        raise NotImplementedError

    def likelihood_ratio(self, x: torch.Tensor, old_dist_info: Any, new_dist_info: Any) -> torch.Tensor:
        """``p_new(x) / p_old(x)`` computed in log space."""
        return torch.exp(self.log_likelihood(x, new_dist_info) - self.log_likelihood(x, old_dist_info))

    def entropy(self, dist_info: Any) -> torch.Tensor:
        raise NotImplementedError

    def log_likelihood_and_entropy(self, x: torch.Tensor, dist_info: Any, entropy_grad: bool = True):
        """``(log_likelihood(x), entropy)`` in one pass where the two share work (losses use both);
        ``entropy_grad=False`` computes the entropy without recording it for autograd (logging only)."""
        logp = self.log_likelihood(x, dist_info)
        if entropy_grad:
            return logp, self.entropy(dist_info)
        with torch.no_grad():
            return logp, self.entropy(dist_info)

    def kl(self, old_dist_info: Any, new_dist_info: Any) -> torch.Tensor:
        """``KL(old || new)`` per sample."""
        raise NotImplementedError

    def mode(self, dist_info: Any) -> torch.Tensor:
        """The most likely action (greedy / mean), used in eval mode."""
        raise NotImplementedError

    mean = mode

    def mean_entropy(self, dist_info: Any, valid: Any = None) -> torch.Tensor:
        return valid_mean(self.entropy(dist_info), valid)

    def mean_kl(self, old_dist_info: Any, new_dist_info: Any, valid: Any = None) -> torch.Tensor:
        return valid_mean(self.kl(old_dist_info, new_dist_info), valid)


def valid_mean(x: torch.Tensor, valid: Any = None) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``valid`` is true (all entries when ``valid`` is None)."""
    if valid is None:
        return x.mean()
    valid = valid.to(x.dtype)
    return (x * valid).sum() / valid.sum().clamp_min(1.0)
