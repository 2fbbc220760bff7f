"""DDPG (Lillicrap et al. 2016, "Continuous control with deep reinforcement learning") and the machinery TD3
(Fujimoto et al. 2018) adds to it: target policy smoothing, delayed actor updates, twin critics.

One gradient step on a replay batch ``(s, a, R, gamma^K, s')`` (n-step return ``R``, ``gamma^K = 0`` at a
termination; see ``rlframe/replays/base.py``):

1. target ``y = R + gamma^K * min_i Q'_i(s', a')`` with ``a' = mu'(s')`` (TD3: plus clipped Gaussian noise,
   :meth:`rlframe.agents.qpg.ddpg.Td3Agent.target_action`), no graph;
2. critic loss ``sum_i mean_w (Q_i(s, a) - y)^2`` (``w``: importance weights, ones for uniform replay), all
   critics in one fused forward (:class:`rlframe.models.qpg.QMlpModel`);
3. every ``policy_delay``-th step, actor loss ``-mean Q_1(s, mu(s))`` with the critic's weights detached, so
   it trains the actor only; both losses go through ONE backward pass, then each optimiser steps;
4. on actor steps, Polyak-average both targets (``target_update_tau``).

Step 3 scores the actor with the critic from before this step's critic update (SB3 and the TD3 paper's code
update the critic first and score with the new one); the difference is one step of a slowly moving critic,
and the single backward pass saves a third of the update's kernel launches. Actions from the replay are
normalised with ``agent.action_scaler.from_env`` (the agent's one place for the Box bounds).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from rlframe.algos.optim import FastAdam, clip_grad_norm
from rlframe.algos.replay_base import ReplayAlgorithm
from rlframe.errors import ConfigError


class DDPG(ReplayAlgorithm):
    """Deep deterministic policy gradient on a replay; the knobs of TD3 are here too (defaults off).

    Args:
        learning_rate: actor and critic Adam learning rate (``q_learning_rate`` overrides the critic's).
        policy_delay: actor (and target) update every this many critic updates (TD3: 2).
        target_noise, target_noise_clip: std and clip of the target policy smoothing noise, normalised
            action units (TD3: 0.2 and 0.5; 0 turns it off).
        random_steps: env steps of uniformly random actions before the policy acts (SB3's ``learning_starts``
            behaviour; default ``min_steps_learn``).
        other arguments: :class:`~rlframe.algos.replay_base.ReplayAlgorithm` (``discount``, ``batch_size``,
            ``replay_size``, ``min_steps_learn``, ``replay_ratio``, ``target_update_tau``, ``n_step_return``,
            prioritized replay, ``clip_grad_norm``).
    """

    opt_info_fields = ("q_loss", "pi_loss", "q_mean", "td_abs_mean", "q_grad_norm")

    def __init__(self, discount: float = 0.99, batch_size: int = 256, replay_size: int = 1_000_000,
                 min_steps_learn: int = 100, replay_ratio: float = 1.0, target_update_tau: float = 0.005,
                 learning_rate: float = 1e-3, q_learning_rate: Optional[float] = None, policy_delay: int = 1,
                 target_noise: float = 0.0, target_noise_clip: float = 0.5, random_steps: Optional[int] = None,
                 **kwargs: Any):
        kwargs.setdefault("target_update_interval", 1)
        super().__init__(discount=discount, batch_size=batch_size, replay_size=replay_size,
                         min_steps_learn=min_steps_learn, replay_ratio=replay_ratio,
                         target_update_tau=target_update_tau, learning_rate=learning_rate, **kwargs)
        if int(policy_delay) < 1:
            raise ConfigError(f"{type(self).__name__}: policy_delay must be >= 1, got {policy_delay}.")
        if target_noise < 0 or target_noise_clip < 0:
            raise ConfigError(f"{type(self).__name__}: target_noise and target_noise_clip must be >= 0.")
        self.q_learning_rate = float(learning_rate if q_learning_rate is None else q_learning_rate)
        self.policy_delay = int(policy_delay)
        self.target_noise = float(target_noise)
        self.target_noise_clip = float(target_noise_clip)
        self.random_steps = int(min_steps_learn if random_steps is None else random_steps)
        self._critic_updates = 0

    # --- set-up --------------------------------------------------------------------------------------
    def build_optimizers(self) -> None:
        agent = self.agent
        self._pi_params = agent.actor_parameters()
        self._q_params = agent.q_parameters()
        self.pi_optimizer = FastAdam(self._pi_params, lr=self.learning_rate)
        self.q_optimizer = FastAdam(self._q_params, lr=self.q_learning_rate)
        self._critic_updates = 0
        agent.explore_uniform_until(-(-self.random_steps // self.batch_spec.size))

    def optim_state_dict(self) -> Dict[str, Any]:
        return {"pi": self.pi_optimizer.state_dict(), "q": self.q_optimizer.state_dict()}

    def load_optim_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.pi_optimizer.load_state_dict(state_dict["pi"])
        self.q_optimizer.load_state_dict(state_dict["q"])

    # --- one gradient step ------------------------------------------------------------------------------
    def _target_action(self, next_obs) -> torch.Tensor:
        if self.target_noise > 0:
            return self.agent.target_action(next_obs, self.target_noise, self.target_noise_clip)
        return self.agent.target_pi(next_obs)

    def train_step(self, batch) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        agent = self.agent
        obs = batch.agent_inputs.observation
        next_obs = batch.target_inputs.observation
        action = agent.action_scaler.from_env(batch.action)
        with torch.no_grad():
            q_next = agent.target_q(next_obs, self._target_action(next_obs)).min(0).values
            y = batch.return_ + batch.bootstrap_discount * q_next
        q = agent.q(obs, action)  # [n_critics, N], one fused forward
        td = q - y
        q_loss = (td.pow(2) * batch.is_weights).mean(-1).sum()
        actor_step = self._critic_updates % self.policy_delay == 0
        if actor_step:
            pi_loss = -agent.q(obs, agent.pi(obs), detach_params=True, n_critics=1).mean()
            loss = q_loss + pi_loss
        else:
            pi_loss = None
            loss = q_loss
        for p in self._q_params:
            p.grad = None
        if actor_step:
            for p in self._pi_params:
                p.grad = None
        loss.backward()
        q_grad_norm = clip_grad_norm(self._q_params, self.clip_grad_norm)
        self.q_optimizer.step()
        if actor_step:
            clip_grad_norm(self._pi_params, self.clip_grad_norm)
            self.pi_optimizer.step()
        self._critic_updates += 1
        td_abs = td.detach().abs().mean(0)
        info = dict(q_loss=q_loss.detach(), q_mean=q.detach().mean(), td_abs_mean=td_abs.mean(),
                    q_grad_norm=q_grad_norm)
        if pi_loss is not None:
            info["pi_loss"] = pi_loss.detach()
        return info, td_abs

    def update_targets(self, tau: float) -> None:
        """Polyak update of the targets after actor steps only (TD3's delayed target updates); hard copies
        (``tau = 1``, at set-up) always."""
        if tau >= 1.0 or (self._critic_updates - 1) % self.policy_delay == 0:
            self.agent.update_targets(tau)

    # --- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["critic_updates"] = self._critic_updates
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._critic_updates = int(state.get("critic_updates", 0))
