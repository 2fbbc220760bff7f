"""C51 (Bellemare, Dabney & Munos 2017, "A Distributional Perspective on Reinforcement Learning"): DQN that
learns, per action, the distribution of the return on ``n_atoms`` fixed atoms ``z`` in ``[v_min, v_max]``
(held by :class:`~rlframe.agents.dqn.cat_dqn.CatDqnAgent`), not only its mean.

One gradient step on a replay batch ``(s, a, R, gamma^K, s')``:

1. ``a* = argmax_a sum_i z_i p_target(s', a)_i`` (double DQN: with the online network's probabilities);
2. the target distribution ``p_target(s', a*)`` shifted to ``R + gamma^K z``, clipped to the support and
   projected back onto ``z`` (:func:`~rlframe.algos.dqn.targets.categorical_projection`), no graph;
3. loss ``mean_i w_i * CE(projected_i, p(s_i, a_i))``, the cross-entropy, whose per-sample value is also the
   priority sent to a prioritized replay (Rainbow, Hessel et al. 2018).

Everything else (replay, n-step, target updates, clipping) is :class:`~rlframe.algos.dqn.dqn.DQN`'s.
"""
from __future__ import annotations

from typing import Tuple

import torch

from rlframe.algos.dqn.dqn import DQN
from rlframe.algos.dqn.targets import categorical_projection, greedy_action


class CatDQN(DQN):
    """C51 (see the module docstring); use with :class:`~rlframe.agents.dqn.cat_dqn.CatDqnAgent`.
    Arguments as :class:`~rlframe.algos.dqn.dqn.DQN` (``delta_clip`` is unused: the loss is a cross-entropy)."""

    def loss(self, batch) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, cross-entropy per sample (no graph), mean Q(s, a))`` of one batch."""
        agent = self.agent
        log_p = agent(*batch.agent_inputs)  # [N, A, K]
        action = batch.action.long()
        log_p_a = log_p[torch.arange(action.shape[0], device=action.device), action]  # [N, K]
        with torch.no_grad():
            target_log_p, online_q = self.next_action_values(batch)
            target_p = target_log_p.exp()
            select = agent.q_values(target_log_p) if online_q is None else online_q
            a_star = greedy_action(select, agent.action_mask(batch.target_inputs.observation))  # [N, 1]
            next_p = target_p.gather(1, a_star.unsqueeze(-1).expand(-1, 1, target_p.shape[-1])).squeeze(1)
            projected = categorical_projection(next_p, batch.return_, batch.bootstrap_discount, agent.atoms)
            q_mean = (log_p_a.exp() @ agent.atoms).mean()
        cross_entropy = -(projected * log_p_a).sum(-1)
        loss = (batch.is_weights * cross_entropy).mean()
        return loss, cross_entropy.detach(), q_mean
