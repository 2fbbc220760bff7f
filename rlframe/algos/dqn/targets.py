"""The target maths of the DQN family, as plain functions of tensors (tested against hand computations).

- :func:`q_learning_target`: ``y = R + gamma^k * Q_target(s', a*)`` with ``a* = argmax_a Q_target(s', a)``
  (DQN, Mnih et al. 2015) or ``a* = argmax_a Q_online(s', a)`` (double DQN, van Hasselt et al. 2016).
  ``R`` is the n-step discounted reward sum and ``gamma^k`` the replay's ``bootstrap_discount``
  (0 after a termination, so the target is then ``R`` alone).
- :func:`categorical_projection`: C51's projection of the shifted target distribution
  ``R + gamma^k * z`` back onto the fixed atoms ``z`` (Bellemare et al. 2017, Algorithm 1).
- :func:`huber`: the Huber loss used as DQN's error clipping.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from rlframe.distributions.categorical import mask_logits


def greedy_action(q: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``argmax_a q[..., a]`` over the allowed actions (``mask``: 1/True = allowed), keepdim ``[..., 1]``."""
    return mask_logits(q, mask).argmax(dim=-1, keepdim=True)


def q_learning_target(return_: torch.Tensor, bootstrap_discount: torch.Tensor, target_q_next: torch.Tensor,
                      online_q_next: Optional[torch.Tensor] = None,
                      mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``return_ + bootstrap_discount * target_q_next[a*]`` per sample (``[N]``).

    Args:
        return_, bootstrap_discount: ``[N]``.
        target_q_next: target network's ``Q(s', .)`` ``[N, A]``.
        online_q_next: online network's ``Q(s', .)`` ``[N, A]`` for double DQN (selects ``a*``); None: DQN's max.
        mask: allowed actions in ``s'`` ``[N, A]`` (None: all).
    """
    if online_q_next is None and mask is None:  # DQN's max: one reduction instead of argmax + gather
        return return_ + bootstrap_discount * target_q_next.max(dim=-1).values
    select = target_q_next if online_q_next is None else online_q_next
    a_star = greedy_action(select, mask)
    return return_ + bootstrap_discount * target_q_next.gather(-1, a_star).squeeze(-1)


def categorical_projection(next_p: torch.Tensor, return_: torch.Tensor, bootstrap_discount: torch.Tensor,
                           atoms: torch.Tensor) -> torch.Tensor:
    """Project the distribution ``next_p [N, K]`` on ``atoms [K]``, shifted to ``return_ + discount * atoms``
    and clipped to ``[atoms[0], atoms[-1]]``, back onto ``atoms``: ``[N, K]``, rows summing to 1.

    Each shifted atom ``Tz_j`` sits at fractional index ``b_j = (Tz_j - v_min) / dz`` and gives its mass to
    the atoms ``floor(b_j)`` and ``floor(b_j) + 1`` in proportion to closeness (all of it to ``floor(b_j)``
    when ``b_j`` is a whole number): ``m_i = sum_j p_j * max(0, 1 - |b_j - i|)``, with two scatter-adds.
    """
    K = atoms.numel()
    v_min, v_max = float(atoms[0]), float(atoms[-1])
    delta_z = (v_max - v_min) / (K - 1)
    tz = (return_.unsqueeze(-1) + bootstrap_discount.unsqueeze(-1) * atoms).clamp(v_min, v_max)  # [N, K]
    b = ((tz - v_min) / delta_z).clamp(0, K - 1)
    lower = b.floor()
    upper_w = b - lower  # weight of atom lower + 1
    lower = lower.long()
    projected = torch.zeros_like(next_p)
    projected.scatter_add_(-1, lower, next_p * (1.0 - upper_w))
    projected.scatter_add_(-1, (lower + 1).clamp(max=K - 1), next_p * upper_w)
    return projected


def huber(delta: torch.Tensor, kappa: Optional[float] = 1.0) -> torch.Tensor:
    """Elementwise Huber loss of the TD error ``delta``: ``0.5 * delta^2`` within ``kappa``,
    ``kappa * (|delta| - kappa / 2)`` outside; ``kappa=None``: the squared error ``0.5 * delta^2``.
    (torch's fused ``huber_loss`` kernel: one op forward and backward instead of six.)"""
    if kappa is None:
        return 0.5 * delta * delta
    return F.huber_loss(delta, delta.new_zeros(()).expand_as(delta), reduction="none", delta=float(kappa))
