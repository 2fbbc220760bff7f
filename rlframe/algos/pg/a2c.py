"""Advantage Actor-Critic (synchronous A3C: Mnih et al. 2016) with GAE returns.

One gradient step per batch: ``-mean(log p(a) * A) + c_v * MSE(V, R) - c_e * entropy``. Defaults
are SB3's ``A2C`` (RMSprop alpha 0.99 eps 1e-5, lr 7e-4, lambda 1, no advantage normalisation,
gradient-norm clip 0.5, entropy coefficient 0).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

import torch

from rlframe.agents.base import AgentInputs
from rlframe.algos.pg.base import PolicyGradientAlgo, _as_tensor, normalize_advantage
from rlframe.algos.pg.recurrent import sequence_inputs
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import map_leaves
from rlframe.distributions.base import valid_mean


class A2C(PolicyGradientAlgo):
    """A2C (see the module docstring; arguments as :class:`~rlframe.algos.pg.base.PolicyGradientAlgo`)."""

    opt_info_fields = ("policy_loss", "value_loss", "entropy", "explained_variance", "learning_rate", "grad_norm")

    def __init__(
        self,
        discount: float = 0.99,
        gae_lambda: float = 1.0,
        learning_rate: float = 7e-4,
        linear_lr_schedule: bool = False,
        value_loss_coeff: float = 0.5,
        entropy_loss_coeff: float = 0.0,
        max_grad_norm: Optional[float] = 0.5,
        normalize_advantage: bool = False,
        OptimCls: Type[torch.optim.Optimizer] = torch.optim.RMSprop,
        optim_kwargs: Optional[Dict[str, Any]] = None,
        initial_optim_state_dict: Optional[Dict[str, Any]] = None,
    ):
        if optim_kwargs is None:
            optim_kwargs = dict(alpha=0.99, eps=1e-5) if OptimCls is torch.optim.RMSprop else dict(eps=1e-5)
        super().__init__(discount, gae_lambda, learning_rate, linear_lr_schedule, value_loss_coeff,
                         entropy_loss_coeff, max_grad_norm, normalize_advantage, OptimCls, optim_kwargs,
                         initial_optim_state_dict)

    def optimize_agent(self, itr: int, samples):
        """One gradient step on the ``[T, B]`` batch."""
        return_, advantage, valid = self.process_returns(samples)
        lr = self._set_learning_rate(itr)
        if self.agent.recurrent:  # [T, B] sequences from the stored LSTM state: algos/pg/recurrent.py
            agent_inputs = sequence_inputs(samples)
        else:
            agent_inputs = map_leaves(_as_tensor, AgentInputs(samples.env.observation, samples.agent.prev_action,
                                                              samples.env.prev_reward))
        action, return_t, adv_t = (_as_tensor(x) for x in (samples.agent.action, return_, advantage))
        valid_t = None if valid is None else torch.from_numpy(valid)
        if self.agent.device.type != "cpu":
            agent_inputs, action, return_t, adv_t, valid_t = buffer_to(
                (agent_inputs, action, return_t, adv_t, valid_t), self.agent.device)
        loss, (pi_loss, v_loss, ent) = self.loss(agent_inputs, action, return_t, adv_t, valid_t)
        self._zero_grad()
        loss.backward()
        grad_norm = self._clip_and_step()
        opt_info = self.make_opt_info()
        for name, x in zip(("policy_loss", "value_loss", "entropy", "grad_norm"),
                           torch.stack((pi_loss, v_loss, ent, grad_norm)).tolist()):
            getattr(opt_info, name).append(x)
        opt_info.explained_variance.append(self._explained_variance(samples.agent.agent_info.value, return_, valid))
        opt_info.learning_rate.append(lr)
        return opt_info

    def loss(self, agent_inputs, action, return_, advantage, valid):
        dist_info, value = self.agent(*agent_inputs)
        dist = self.agent.distribution
        return_ = torch.as_tensor(return_)
        advantage = torch.as_tensor(advantage)
        valid = None if valid is None else torch.as_tensor(valid)
        if self.normalize_advantage:
            advantage = normalize_advantage(advantage, valid)
        logp = dist.log_likelihood(torch.as_tensor(action), dist_info)
        policy_loss = -valid_mean(logp * advantage, valid)
        value_loss = valid_mean((return_ - value) ** 2, valid)
        entropy = valid_mean(dist.entropy(dist_info), valid)
        loss = policy_loss + self.value_loss_coeff * value_loss - self.entropy_loss_coeff * entropy
        return loss, (policy_loss.detach(), value_loss.detach(), entropy.detach())
