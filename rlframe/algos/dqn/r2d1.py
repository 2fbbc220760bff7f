"""R2D1: recurrent DQN on sequence replay (Kapturowski et al., 2019, "Recurrent Experience Replay in Distributed
Reinforcement Learning", ICLR; R2D1 is their single-machine R2D2), a subclass of :class:`~rlframe.algos.dqn.dqn.DQN`.

One gradient step on a batch of ``N`` sequences of ``burn_in + L + n`` steps
(:class:`~rlframe.replays.sequence.SequenceReplayBuffer`):

1. **stored state + burn-in**: both networks start from the state stored with the sequence's first step; the
   online network runs the ``burn_in`` steps without a graph, then the ``L`` trained steps (and the ``n``
   bootstrap steps) with one; episode ends inside the sequence zero the state (``reset = done[t-1]``);
2. **n-step double-Q target with value rescaling**: for trained step ``t``,
   ``y_t = h(R_t + gamma^K * h^-1(Q_target(s_{t+K}, a*)))``, ``a* = argmax_a Q_online(s_{t+K}, a)``,
   ``h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps * x`` (Pohlen et al., 2018); ``R_t`` stops at episode ends
   (:func:`~rlframe.replays.sequence.window_n_step_targets`): no bootstrap after a termination, the true final
   observation's value after a truncation (computed by re-running the sequence with that observation in place of
   the reset one, :meth:`R2D1.final_observation_values`);
3. loss: importance-weighted mean over sequences of the mean over trained steps of ``0.5 * delta^2``
   (Huber with ``delta_clip``); sequence priorities ``eta * max|delta| + (1 - eta) * mean|delta|``.

Defaults are R2D2's where they fit one machine (n = 5, gamma 0.997, Adam lr 1e-4 eps 1e-3, priority exponent
0.9, eta 0.9, IS exponent 0.6, value rescaling eps 1e-3, double Q, dueling heads), with shorter sequences
(L = 40, burn-in 20 instead of 80 and 40).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from rlframe.agents.recurrent import sequence_reset
from rlframe.algos.dqn.dqn import DQN
from rlframe.algos.dqn.targets import greedy_action, huber
from rlframe.algos.optim import clip_grad_norm
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import map_leaves
from rlframe.errors import ConfigError
from rlframe.replays.sequence import PrioritizedSequenceReplayBuffer, SequenceReplayBuffer, sequence_priorities


def value_rescale(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x`` (Pohlen et al., 2018): squashes large returns."""
    return torch.sign(x) * (torch.sqrt(x.abs() + 1.0) - 1.0) + eps * x


def inverse_value_rescale(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``h^-1(x) = sign(x) (((sqrt(1 + 4 eps (|x| + 1 + eps)) - 1) / (2 eps))^2 - 1)``, the exact inverse of
    :func:`value_rescale`."""
    if eps == 0:
        return torch.sign(x) * ((x.abs() + 1.0) ** 2 - 1.0)
    root = (torch.sqrt(1.0 + 4.0 * eps * (x.abs() + 1.0 + eps)) - 1.0) / (2.0 * eps)
    return torch.sign(x) * (root * root - 1.0)


class R2D1(DQN):
    """Recurrent replay DQN (see the module docstring).

    Args:
        sequence_length, burn_in, stride: the sequence replay's (trained steps, warm-up steps, steps between
            sequence starts; default stride ``sequence_length // 2``, R2D2's overlap).
        value_rescale: apply ``h`` / ``h^-1`` to the targets (``rescale_eps``: its ``eps``).
        priority_eta: the max/mean mixture of sequence priorities.
        batch_size: sequences per gradient step.
        other arguments: :class:`~rlframe.algos.dqn.dqn.DQN` and
            :class:`~rlframe.algos.replay_base.ReplayAlgorithm` (``replay_ratio`` counts gradient steps, each on
            ``batch_size`` sequences, per env step).
    """

    def __init__(self, sequence_length: int = 40, burn_in: int = 20, stride: Optional[int] = None,
                 value_rescale: bool = True, rescale_eps: float = 1e-3, priority_eta: float = 0.9,
                 discount: float = 0.997, n_step_return: int = 5, batch_size: int = 32, replay_size: int = 100_000,
                 min_steps_learn: int = 5_000, replay_ratio: float = 0.05, target_update_interval: int = 2_500,
                 learning_rate: float = 1e-4, adam_eps: float = 1e-3, clip_grad_norm: Optional[float] = 40.0,
                 double_dqn: bool = True, delta_clip: Optional[float] = None, prioritized_replay: bool = True,
                 pri_alpha: float = 0.9, pri_beta_init: float = 0.6, pri_beta_final: float = 0.6, **kwargs: Any):
        super().__init__(discount=discount, batch_size=batch_size, replay_size=replay_size,
                         min_steps_learn=min_steps_learn, replay_ratio=replay_ratio,
                         target_update_interval=target_update_interval, learning_rate=learning_rate,
                         clip_grad_norm=clip_grad_norm, double_dqn=double_dqn, delta_clip=delta_clip, adam_eps=adam_eps,
                         n_step_return=n_step_return, prioritized_replay=prioritized_replay, pri_alpha=pri_alpha,
                         pri_beta_init=pri_beta_init, pri_beta_final=pri_beta_final, **kwargs)
        self.sequence_length, self.burn_in = int(sequence_length), int(burn_in)
        self.stride = int(stride) if stride is not None else max(1, self.sequence_length // 2)
        self.value_rescale = bool(value_rescale)
        self.rescale_eps = float(rescale_eps)
        self.priority_eta = float(priority_eta)

    # --- set-up -----------------------------------------------------------------------------------------
    def build_replay(self, examples, batch_spec) -> Any:
        if not self.agent.recurrent:
            raise ConfigError(f"R2D1 trains recurrent agents (R2d1Agent); got {type(self.agent).__name__}. "
                              "Use DQN for feed-forward agents.")
        Cls = PrioritizedSequenceReplayBuffer if self.prioritized_replay else SequenceReplayBuffer
        return (self.ReplayCls or Cls)(examples, **self.replay_init_kwargs(
            batch_spec, sequence_length=self.sequence_length, burn_in=self.burn_in, stride=self.stride))

    # --- one gradient step -------------------------------------------------------------------------------
    def train_step(self, batch) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """One update on a batch of sequences; returns the logged values and the sequence priorities."""
        targets = self.replay.n_step_targets_of(batch)  # numpy, before the batch moves
        if batch.reward.device != self.agent.device:
            batch = buffer_to(batch, self.agent.device)
        loss, priorities, td_abs_mean, q_mean = self.loss(batch, targets)
        for p in self._params:
            p.grad = None
        loss.backward()
        grad_norm = clip_grad_norm(self._params, self.clip_grad_norm)
        self.optimizer.step()
        return dict(loss=loss.detach(), q_mean=q_mean, td_abs_mean=td_abs_mean, grad_norm=grad_norm), priorities

    def loss(self, batch, targets) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, sequence priorities [N], mean |delta|, mean Q(s, a))`` of a batch of sequences."""
        agent, b0, L = self.agent, self.burn_in, self.sequence_length
        device = agent.device
        ret, disc, pos, from_final = (torch.as_tensor(x, device=device) for x in targets)  # [L, N]
        reset = sequence_reset(batch.done)
        q = agent(*batch.agent_inputs, batch.init_rnn_state, reset, burn_in=b0)  # [S - b0, N, A], graph
        q_a = q[:L].gather(-1, batch.action[b0:b0 + L].long().unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            q_next = self.bootstrap_values(batch, reset, q.detach(), pos, from_final)
            x = inverse_value_rescale(q_next, self.rescale_eps) if self.value_rescale else q_next
            y = ret + disc * x
            y = value_rescale(y, self.rescale_eps) if self.value_rescale else y
        delta = q_a - y
        valid = batch.valid[b0:b0 + L].to(delta.dtype)
        per_seq = (huber(delta, self.delta_clip) * valid).sum(0) / valid.sum(0).clamp_min(1.0)
        loss = (batch.is_weights * per_seq).mean()
        td_abs = delta.detach().abs()
        priorities = sequence_priorities(td_abs, valid, self.priority_eta)
        td_abs_mean = (td_abs * valid).sum() / valid.sum().clamp_min(1.0)
        return loss, priorities, td_abs_mean, q_a.detach().mean()

    def bootstrap_values(self, batch, reset, q_online, pos, from_final) -> torch.Tensor:
        """``Q_target(s_{t+K}, a*)`` ``[L, N]`` with ``a*`` the online (double Q) or target argmax; the values of
        true final observations where an episode was truncated."""
        cols = torch.arange(pos.shape[1], device=pos.device).expand_as(pos)
        q_target = self.agent.target(*batch.agent_inputs, batch.init_rnn_state, reset)  # [S, N, A]
        next_target = q_target[pos, cols]
        next_online = q_online[pos - self.burn_in, cols] if self.double_dqn else None
        if bool(from_final.any()):
            final_target, final_online = self.final_observation_values(batch, reset, pos, from_final)
            next_target = torch.where(from_final.unsqueeze(-1), final_target, next_target)
            if next_online is not None:
                next_online = torch.where(from_final.unsqueeze(-1), final_online, next_online)
        mask = self.agent.action_mask(batch.agent_inputs.observation)
        mask = None if mask is None else mask[pos, cols]
        a_star = greedy_action(next_target if next_online is None else next_online, mask)
        return next_target.gather(-1, a_star).squeeze(-1)

    @torch.no_grad()
    def final_observation_values(self, batch, reset, pos, from_final) -> Tuple[torch.Tensor, torch.Tensor]:
        """Q-values ``[L, N, A]`` (target, online) of the true final observations of truncated episodes, read at
        the window index after the truncation: the sequence is re-run with the final observation (and the last
        action and reward as its previous ones) in place of the reset observation there, without the reset.
        One pass per truncation in a sequence (almost always one)."""
        S, N = batch.reward.shape[:2]
        ends = batch.truncated[:-1] & batch.done[:-1]  # truncated at t: its final observation goes to t + 1
        target_q = torch.zeros(pos.shape + (self.agent.env_model_kwargs["action_size"],), device=pos.device)
        online_q = torch.zeros_like(target_q)
        done_cols = torch.zeros_like(ends)
        while True:
            remaining = ends & ~done_cols
            if not bool(remaining.any()):
                break
            first = remaining & (remaining.cumsum(0) == 1)  # the first not yet handled truncation per column
            done_cols |= first
            t, n = torch.nonzero(first, as_tuple=True)
            obs, prev_action, prev_reward = (map_leaves(torch.clone, x) for x in batch.agent_inputs)
            obs[t + 1, n] = batch.final_observation[t, n]
            prev_action[t + 1, n] = batch.action[t, n]
            prev_reward[t + 1, n] = batch.reward[t, n]
            alt_reset = reset.clone()
            alt_reset[t + 1, n] = False
            q_t = self.agent.target(obs, prev_action, prev_reward, batch.init_rnn_state, alt_reset)
            q_o = self.agent(obs, prev_action, prev_reward, batch.init_rnn_state, alt_reset)
            at = torch.zeros(S, N, dtype=torch.bool, device=pos.device)
            at[t + 1, n] = True
            cols = torch.arange(N, device=pos.device).expand_as(pos)
            use = from_final & at[pos, cols]
            target_q[use] = q_t[pos, cols][use]
            online_q[use] = q_o[pos, cols][use]
        return target_q, online_q
