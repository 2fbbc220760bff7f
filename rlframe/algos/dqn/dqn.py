"""DQN (Mnih et al. 2015, "Human-level control through deep reinforcement learning") with the usual
improvements: double DQN (van Hasselt et al. 2016), dueling networks (Wang et al. 2016; a model option,
``dueling=True``), n-step returns and prioritized replay (Schaul et al. 2016; both in the replay), Huber loss
and gradient-norm clipping.

One gradient step on a replay batch ``(s, a, R, gamma^K, s')`` (``R`` the n-step return, ``gamma^K = 0``
after a termination, ``s'`` the true final observation after a truncation; see ``rlframe/replays/base.py``):

1. ``y = R + gamma^K * Q_target(s', a*)``, ``a* = argmax Q_target(s', .)`` or, with ``double_dqn``,
   ``argmax Q_online(s', .)`` (:func:`~rlframe.algos.dqn.targets.q_learning_target`), no graph;
2. loss ``mean_i w_i * huber(Q(s_i, a_i) - y_i)`` (``w``: importance weights, ones for uniform replay);
3. clip the gradient norm, Adam step; ``|Q(s, a) - y|`` goes back to a prioritized replay.

The target network belongs to the agent (:meth:`~rlframe.agents.dqn.dqn.DqnAgent.update_target`) and
travels in the algorithm's ``state_dict`` (the replay base's ``target_model`` entry); the replay base (:class:`~rlframe.algos.replay_base.ReplayAlgorithm`) calls :meth:`DQN.update_targets` every
``target_update_interval`` env steps with ``target_update_tau`` (1: hard copy; < 1: Polyak averaging).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from rlframe.algos.dqn.targets import huber, q_learning_target
from rlframe.algos.optim import FastAdam, clip_grad_norm
from rlframe.algos.replay_base import ReplayAlgorithm
from rlframe.core.buffers import buffer_to
from rlframe.errors import ConfigError


class DQN(ReplayAlgorithm):
    """Deep Q-learning on a replay (see the module docstring).

    Args:
        double_dqn: select the bootstrap action with the online network (van Hasselt et al. 2016).
        delta_clip: Huber loss threshold (None: squared error).
        adam_eps: Adam's epsilon (Rainbow used 1.5e-4 with lr 6.25e-5 on Atari).
        other arguments: :class:`~rlframe.algos.replay_base.ReplayAlgorithm` (``discount``, ``batch_size``,
            ``replay_size``, ``min_steps_learn``, ``replay_ratio``, ``target_update_interval``,
            ``target_update_tau``, ``n_step_return``, prioritized replay, ``clip_grad_norm``, ``learning_rate``).
    """

    opt_info_fields = ("loss", "q_mean", "td_abs_mean", "grad_norm")

    def __init__(self, discount: float = 0.99, batch_size: int = 32, replay_size: int = 100_000,
                 min_steps_learn: int = 1000, replay_ratio: float = 0.25, target_update_interval: int = 1000,
                 target_update_tau: float = 1.0, learning_rate: float = 1e-4, clip_grad_norm: Optional[float] = 10.0,
                 double_dqn: bool = False, delta_clip: Optional[float] = 1.0, adam_eps: float = 1e-8,
                 **kwargs: Any):
        super().__init__(discount=discount, batch_size=batch_size, replay_size=replay_size,
                         min_steps_learn=min_steps_learn, replay_ratio=replay_ratio,
                         target_update_interval=target_update_interval, target_update_tau=target_update_tau,
                         learning_rate=learning_rate, clip_grad_norm=clip_grad_norm, **kwargs)
        if delta_clip is not None and delta_clip <= 0:
            raise ConfigError(f"{type(self).__name__}: delta_clip must be > 0 or None (squared error), got {delta_clip}.")
        self.double_dqn = bool(double_dqn)
        self.delta_clip = None if delta_clip is None else float(delta_clip)
        self.adam_eps = float(adam_eps)

    # --- set-up ---------------------------------------------------------------------------------------
    def build_optimizers(self) -> None:
        self._params = [p for p in self.agent.parameters() if p.requires_grad]
        self.optimizer = FastAdam(self._params, lr=self.learning_rate, eps=self.adam_eps)
        # The agent reads its epsilon schedule in env steps; tell it how many one iteration makes.
        self.agent.set_env_steps_per_itr(self.batch_spec.size)

    # --- one gradient step -------------------------------------------------------------------------------
    def train_step(self, batch) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        if batch.return_.device != self.agent.device:
            batch = buffer_to(batch, self.agent.device)
        loss, td_abs, q_mean = self.loss(batch)
        for p in self._params:
            p.grad = None
        loss.backward()
        grad_norm = clip_grad_norm(self._params, self.clip_grad_norm)
        self.optimizer.step()
        info = dict(loss=loss.detach(), q_mean=q_mean, td_abs_mean=td_abs.mean(), grad_norm=grad_norm)
        return info, td_abs

    def next_action_values(self, batch) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(target output at s', online Q(s', .) for double DQN or None)``, no graph."""
        agent = self.agent
        target_out = agent.target(*batch.target_inputs)
        online_q = None
        if self.double_dqn:
            with torch.no_grad():
                online_q = agent.q_values(agent(*batch.target_inputs))
        return target_out, online_q

    def loss(self, batch) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, |TD error| per sample (no graph), mean Q(s, a))`` of one batch."""
        agent = self.agent
        q = agent(*batch.agent_inputs)
        q_a = q.gather(-1, batch.action.long().unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            target_q, online_q = self.next_action_values(batch)
            mask = agent.action_mask(batch.target_inputs.observation)
            y = q_learning_target(batch.return_, batch.bootstrap_discount, target_q, online_q, mask)
        delta = q_a - y
        loss = (batch.is_weights * huber(delta, self.delta_clip)).mean()
        return loss, delta.detach().abs(), q_a.detach().mean()

    def update_targets(self, tau: float) -> None:
        self.agent.update_target(tau)

    def log_values(self) -> Dict[str, float]:
        """The replay's scalars plus ``train/epsilon``, the agent's sampling epsilon."""
        return dict(super().log_values(), **{"train/epsilon": self.agent.sample_epsilon})
