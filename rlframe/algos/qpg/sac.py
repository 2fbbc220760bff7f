"""SAC: Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"), with twin
Q-functions, a tanh-squashed Gaussian actor and automatic entropy tuning.

One gradient step on a replay batch ``(s, a, R, gamma^K, s')``:

1. ``a', log pi(a'|s')`` from the actor (no graph); target
   ``y = R + gamma^K * (min_i Q'_i(s', a') - alpha * log pi(a'|s'))``;
2. critic loss ``0.5 * sum_i mean_w (Q_i(s, a) - y)^2`` (both critics in one fused forward);
3. reparameterised ``a~, log pi(a~|s)``; actor loss ``mean(alpha * log pi(a~|s) - min_i Q_i(s, a~))`` with the
   critics' weights detached (the actor's gradient only);
4. temperature loss ``-mean(log_alpha * (log pi(a~|s) + target_entropy))``, ``target_entropy = -dim(A)`` by
   default (``alpha`` in 1-3 is ``exp(log_alpha)`` before this step's update, as SB3);
5. ONE backward pass through the sum of the three losses (they touch disjoint parameters), one fused Adam step
   over actor, critics and ``log_alpha`` (one parameter group each), Polyak update of the target critics.

As in :mod:`rlframe.algos.qpg.ddpg`, the actor is scored with the critics from before this step's critic
update (SB3 scores with the updated ones). ``train/alpha`` logs the temperature.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple, Union

import torch

from rlframe.algos.optim import FastAdam, clip_grad_norm
from rlframe.algos.replay_base import ReplayAlgorithm
from rlframe.errors import ConfigError


class SAC(ReplayAlgorithm):
    """Soft actor-critic with automatic entropy tuning (SB3's defaults unless noted).

    Args:
        learning_rate: Adam learning rate of actor, critics and temperature (``q_learning_rate`` and
            ``alpha_learning_rate`` override the critics' and the temperature's).
        initial_alpha: starting temperature (SB3: 1.0).
        fixed_alpha: a constant temperature instead of tuning it (None: tune).
        target_entropy: ``"auto"`` (``-dim(A)``) or a number.
        random_steps: env steps of uniformly random actions first (default ``min_steps_learn``).
        other arguments: :class:`~rlframe.algos.replay_base.ReplayAlgorithm`.
    """

    opt_info_fields = ("q_loss", "pi_loss", "alpha_loss", "alpha", "entropy", "q_mean", "td_abs_mean",
                       "q_grad_norm")

    def __init__(self, discount: float = 0.99, batch_size: int = 256, replay_size: int = 1_000_000,
                 min_steps_learn: int = 100, replay_ratio: float = 1.0, target_update_tau: float = 0.005,
                 learning_rate: float = 3e-4, q_learning_rate: Optional[float] = None,
                 alpha_learning_rate: Optional[float] = None, initial_alpha: float = 1.0,
                 fixed_alpha: Optional[float] = None, target_entropy: Union[str, float] = "auto",
                 random_steps: Optional[int] = None, **kwargs: Any):
        kwargs.setdefault("target_update_interval", 1)
        super().__init__(discount=discount, batch_size=batch_size, replay_size=replay_size,
                         min_steps_learn=min_steps_learn, replay_ratio=replay_ratio,
                         target_update_tau=target_update_tau, learning_rate=learning_rate, **kwargs)
        if initial_alpha <= 0 or (fixed_alpha is not None and fixed_alpha < 0):
            raise ConfigError(f"SAC: initial_alpha must be > 0 and fixed_alpha >= 0, got {initial_alpha}, "
                              f"{fixed_alpha}.")
        if target_entropy != "auto" and not isinstance(target_entropy, (int, float)):
            raise ConfigError(f"SAC: target_entropy must be 'auto' or a number, got {target_entropy!r}.")
        self.q_learning_rate = float(learning_rate if q_learning_rate is None else q_learning_rate)
        self.alpha_learning_rate = float(learning_rate if alpha_learning_rate is None else alpha_learning_rate)
        self.initial_alpha = float(initial_alpha)
        self.fixed_alpha = None if fixed_alpha is None else float(fixed_alpha)
        self.target_entropy_arg = target_entropy
        self.random_steps = int(min_steps_learn if random_steps is None else random_steps)

    # --- set-up --------------------------------------------------------------------------------------
    def build_optimizers(self) -> None:
        agent = self.agent
        if not callable(getattr(agent, "pi", None)) or getattr(agent, "distribution", None) is None:
            raise ConfigError(f"SAC needs a stochastic actor (SacAgent), got {type(agent).__name__}.")
        self.target_entropy = (-float(agent.action_size) if self.target_entropy_arg == "auto"
                               else float(self.target_entropy_arg))
        device = agent.device
        self.log_alpha = torch.full((1,), math.log(self.fixed_alpha or self.initial_alpha), device=device,
                                    requires_grad=self.fixed_alpha is None)
        if self.fixed_alpha == 0.0:
            self.log_alpha.data.fill_(-math.inf)
        self._pi_params = agent.actor_parameters()
        self._q_params = agent.q_parameters()
        groups = [dict(params=self._pi_params, lr=self.learning_rate),
                  dict(params=self._q_params, lr=self.q_learning_rate)]
        if self.fixed_alpha is None:
            groups.append(dict(params=[self.log_alpha], lr=self.alpha_learning_rate))
        self._all_params = [p for g in groups for p in g["params"]]
        self.optimizer = FastAdam(groups, lr=self.learning_rate)
        agent.explore_uniform_until(-(-self.random_steps // self.batch_spec.size))

    # --- one gradient step ------------------------------------------------------------------------------
    def train_step(self, batch) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        agent = self.agent
        obs = batch.agent_inputs.observation
        next_obs = batch.target_inputs.observation
        action = agent.action_scaler.from_env(batch.action)
        log_alpha = self.log_alpha
        alpha = log_alpha.detach().exp()
        with torch.no_grad():
            next_action, next_logp = agent.pi(next_obs)
            q_next = agent.target_q(next_obs, next_action).min(0).values - alpha * next_logp
            y = batch.return_ + batch.bootstrap_discount * q_next
        q = agent.q(obs, action)  # [2, N], both critics in one forward
        td = q - y
        q_loss = 0.5 * (td.pow(2) * batch.is_weights).mean(-1).sum()
        new_action, logp = agent.pi(obs)
        q_pi = agent.q(obs, new_action, detach_params=True).min(0).values
        pi_loss = (alpha * logp - q_pi).mean()
        loss = q_loss + pi_loss
        if self.fixed_alpha is None:
            alpha_loss = -(log_alpha * (logp.detach() + self.target_entropy)).mean()
            loss = loss + alpha_loss
        else:
            alpha_loss = torch.zeros(())
        for p in self._all_params:
            p.grad = None
        loss.backward()
        q_grad_norm = clip_grad_norm(self._q_params, self.clip_grad_norm)
        if self.clip_grad_norm is not None:
            clip_grad_norm(self._pi_params, self.clip_grad_norm)
        self.optimizer.step()
        td_abs = td.detach().abs().mean(0)
        info = dict(q_loss=q_loss.detach(), pi_loss=pi_loss.detach(), alpha_loss=alpha_loss.detach(),
                    alpha=alpha.squeeze(0), entropy=-logp.detach().mean(), q_mean=q.detach().mean(),
                    td_abs_mean=td_abs.mean(), q_grad_norm=q_grad_norm)
        return info, td_abs

    def update_targets(self, tau: float) -> None:
        self.agent.update_targets(tau)

    # --- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["log_alpha"] = self.log_alpha.detach().cpu().clone()
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        if "log_alpha" in state:
            with torch.no_grad():
                self.log_alpha.copy_(state["log_alpha"].to(self.log_alpha.device))
