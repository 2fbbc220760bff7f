"""Proximal Policy Optimization (Schulman et al. 2017), clipped surrogate objective.

rlpyt's structure, SB3's loss details: ratio ``exp(log p_new - log p_old)`` (old log-probs from the
``dist_info`` stored at sampling time), ``-min(r A, clip(r, 1-eps, 1+eps) A)``, optional value
clipping around the sampling-time values (SB3's ``clip_range_vf``), value loss = MSE to the GAE
returns, entropy bonus, global gradient-norm clipping, ``epochs`` passes of ``minibatches``
shuffled minibatches, linear decay of the learning rate and of the clip range over ``n_itr``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

import torch

from rlframe.agents.base import AgentInputs
from rlframe.algos.pg.base import PolicyGradientAlgo, _as_tensor
from rlframe.distributions.base import valid_mean
from rlframe.errors import ConfigError


class PPO(PolicyGradientAlgo):
    """PPO-clip. Defaults are SB3's (``PPO``), except the batch layout, which comes from the sampler.

    Args:
        epochs: passes over each batch.
        minibatches: minibatches per pass (batch size = T*B / minibatches; RL-zoo's CartPole
            ``batch_size=256`` with 8 envs x 32 steps is ``minibatches=1``).
        ratio_clip: initial clip range epsilon.
        linear_clip_schedule: decay the clip range linearly like the learning rate (RL-zoo ``lin_0.2``).
        value_clip: clip the value prediction to ``old_value +- value_clip`` (None: no clipping).
        target_kl: stop the epochs of an iteration early once the approximate KL exceeds 1.5x this (SB3).
        other arguments: see :class:`~rlframe.algos.pg.base.PolicyGradientAlgo`.
    """

    opt_info_fields = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                       "explained_variance", "learning_rate", "grad_norm", "ratio_clip")

    def __init__(
        self,
        discount: float = 0.99,
        gae_lambda: float = 0.95,
        learning_rate: float = 3e-4,
        linear_lr_schedule: bool = True,
        value_loss_coeff: float = 0.5,
        entropy_loss_coeff: float = 0.0,
        max_grad_norm: Optional[float] = 0.5,
        normalize_advantage: bool = True,
        epochs: int = 10,
        minibatches: int = 4,
        ratio_clip: float = 0.2,
        linear_clip_schedule: bool = False,
        value_clip: Optional[float] = None,
        target_kl: Optional[float] = None,
        OptimCls: Type[torch.optim.Optimizer] = torch.optim.Adam,
        optim_kwargs: Optional[Dict[str, Any]] = None,
        initial_optim_state_dict: Optional[Dict[str, Any]] = None,
    ):
        if optim_kwargs is None:
            optim_kwargs = dict(eps=1e-5)
            if OptimCls is torch.optim.Adam:
                optim_kwargs["foreach"] = True
        super().__init__(discount, gae_lambda, learning_rate, linear_lr_schedule, value_loss_coeff,
                         entropy_loss_coeff, max_grad_norm, normalize_advantage, OptimCls, optim_kwargs,
                         initial_optim_state_dict)
        if int(epochs) < 1 or int(minibatches) < 1:
            raise ConfigError(f"PPO needs epochs >= 1 and minibatches >= 1, got {epochs} and {minibatches}.")
        self.epochs = int(epochs)
        self.minibatches = int(minibatches)
        self.ratio_clip = float(ratio_clip)
        self.linear_clip_schedule = bool(linear_clip_schedule)
        self.value_clip = None if value_clip is None else float(value_clip)
        self.target_kl = None if target_kl is None else float(target_kl)

    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = True,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        super().initialize(agent, n_itr, batch_spec, mid_batch_reset, examples, world_size, rank)
        size = batch_spec.size
        if self.minibatches > size:
            raise ConfigError(
                f"PPO: minibatches={self.minibatches} exceeds the batch size T*B={size}; use fewer minibatches."
            )

    def optimize_agent(self, itr: int, samples):
        """``epochs`` x ``minibatches`` gradient steps on one ``[T, B]`` batch; returns OptInfo lists."""
        T, B = samples.env.reward.shape[:2]
        n = T * B
        return_, advantage, valid = self.process_returns(samples)
        lr = self._set_learning_rate(itr)
        clip = self.ratio_clip * (self._frac_remaining(itr) if self.linear_clip_schedule else 1.0)

        agent_inputs = AgentInputs(samples.env.observation, samples.agent.prev_action, samples.env.prev_reward)
        agent_inputs = self._flat(agent_inputs, n)
        action = self._flat(samples.agent.action, n)
        old_value = _as_tensor(samples.agent.agent_info.value).reshape(n)
        dist = self.agent.distribution
        old_dist_info = self._flat(samples.agent.agent_info.dist_info, n)
        with torch.no_grad():
            old_logp = dist.log_likelihood(action, old_dist_info)
        return_t = torch.from_numpy(return_.reshape(n))
        adv_t = torch.from_numpy(advantage.reshape(n))
        valid_t = None if valid is None else torch.from_numpy(valid.reshape(n))

        stats = []  # per gradient step: stacked at the end, one conversion per iteration
        mb_size = n // self.minibatches
        stop = False
        for _ in range(self.epochs):
            perm = torch.randperm(n) if self.minibatches > 1 else None
            for m in range(self.minibatches):
                if perm is None:
                    idx = slice(None)
                else:
                    idx = perm[m * mb_size:(m + 1) * mb_size]
                vmb = None if valid_t is None else valid_t[idx]
                inputs = agent_inputs if perm is None else agent_inputs[idx]
                loss, s = self.loss(inputs, action[idx], old_logp[idx], old_value[idx], return_t[idx],
                                    adv_t[idx], vmb, clip)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = self._clip_and_step()
                stats.append(torch.stack((*s, grad_norm)))
                if self.target_kl is not None and s[3].item() > 1.5 * self.target_kl:
                    stop = True
                    break
            if stop:
                break

        opt_info = self.make_opt_info()
        cols = torch.stack(stats).T.tolist()
        for name, col in zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"),
                             cols):
            getattr(opt_info, name).extend(col)
        opt_info.explained_variance.append(self._explained_variance(samples.agent.agent_info.value, return_, valid))
        opt_info.learning_rate.append(lr)
        opt_info.ratio_clip.append(clip)
        return opt_info

    def loss(self, agent_inputs, action, old_logp, old_value, return_, advantage, valid, clip):
        """PPO loss on one minibatch; returns ``(loss, (policy_loss, value_loss, entropy, approx_kl,
        clip_fraction))`` with the statistics detached."""
        dist_info, value = self.agent(*agent_inputs)
        dist = self.agent.distribution
        if self.normalize_advantage and advantage.numel() > 1:
            if valid is None:
                advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
            else:
                mean = valid_mean(advantage, valid)
                std = valid_mean((advantage - mean) ** 2, valid).sqrt()
                advantage = (advantage - mean) / (std + 1e-8)
        log_ratio = dist.log_likelihood(action, dist_info) - old_logp
        ratio = torch.exp(log_ratio)
        surr1 = ratio * advantage
        surr2 = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantage
        policy_loss = -valid_mean(torch.min(surr1, surr2), valid)
        if self.value_clip is not None:
            value = old_value + torch.clamp(value - old_value, -self.value_clip, self.value_clip)
        value_loss = valid_mean((return_ - value) ** 2, valid)
        entropy = valid_mean(dist.entropy(dist_info), valid)
        loss = policy_loss + self.value_loss_coeff * value_loss - self.entropy_loss_coeff * entropy
        with torch.no_grad():
            approx_kl = valid_mean((ratio - 1.0) - log_ratio, valid)
            clip_fraction = valid_mean(((ratio - 1.0).abs() > clip).float(), valid)
        return loss, (policy_loss.detach(), value_loss.detach(), entropy.detach(), approx_kl, clip_fraction)
