"""R2D1's agent (Kapturowski et al., 2019, "Recurrent Experience Replay in Distributed Reinforcement
Learning"; R2D1 is R2D2 on one machine): an epsilon-greedy :class:`~rlframe.agents.dqn.dqn.DqnAgent` over an
LSTM Q-network (default :class:`~rlframe.models.rnn.RecurrentDuelingQModel`, fed the previous action and reward).

The LSTM state of each env is kept between steps, zeroed when the env resets, and reported in
``agent_info.prev_rnn_state`` (the state the agent acted from: ``rlframe.agents.recurrent``), so the sequence
replay stores it and training sequences start from it (R2D2's "stored state").

Training calls ``agent(observation, prev_action, prev_reward, init_rnn_state, reset)`` and ``agent.target(...)``
on ``[S, N]`` sequences: Q-values ``[S, N, A]`` of the online / target network (the target without a graph).
Samplers: ``SerialSampler`` and ``CpuSampler`` (the GPU samplers refuse recurrent agents with a ConfigError).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from rlframe.agents.base import AgentStep
from rlframe.agents.dqn.dqn import DqnAgent
from rlframe.agents.recurrent import RecurrentStateMixin
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import map_leaves, namedarraytuple
from rlframe.models.rnn import RecurrentDuelingQModel

R2d1AgentInfo = namedarraytuple("R2d1AgentInfo", ["q", "prev_rnn_state"])


class R2d1Agent(RecurrentStateMixin, DqnAgent):
    """Recurrent epsilon-greedy agent; arguments as :class:`~rlframe.agents.dqn.dqn.DqnAgent` (epsilon schedule,
    ``mask_field``), with ``ModelCls`` defaulting to :class:`~rlframe.models.rnn.RecurrentDuelingQModel`
    (``model_kwargs``: ``fc_sizes``, ``lstm_size``, ``head_sizes``, ``dueling``, ``prev_action``, ``prev_reward``)."""

    def __init__(self, ModelCls: type = RecurrentDuelingQModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 **kwargs: Any):
        super().__init__(ModelCls, model_kwargs, **kwargs)

    def _sequence(self, model: torch.nn.Module, observation, prev_action, prev_reward, init_rnn_state, reset,
                  burn_in: int = 0) -> torch.Tensor:
        inputs = self._inputs(observation, prev_action, prev_reward)
        state, reset = (init_rnn_state, reset) if self.device.type == "cpu" else buffer_to((init_rnn_state, reset),
                                                                                             self.device)
        if burn_in:  # warm the state up without a graph (R2D2's burn-in), then the rest with one
            with torch.no_grad():
                head = map_leaves(lambda x: x[:burn_in], inputs)
                state = model(*head, state, None if reset is None else reset[:burn_in])[1]
            inputs = map_leaves(lambda x: x[burn_in:], inputs)
            reset = None if reset is None else reset[burn_in:]
        return model(*inputs, state, reset)[0]

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state=None, reset=None,
                 burn_in: int = 0) -> torch.Tensor:
        """Online Q-values of ``[T, B]`` sequences from ``init_rnn_state`` (zeroed before ``t`` where ``reset[t]``);
        the first ``burn_in`` steps only advance the state (no graph) and are left out: ``[T - burn_in, B, A]``."""
        return self._sequence(self.model, observation, prev_action, prev_reward, init_rnn_state, reset, burn_in)

    @torch.no_grad()
    def target(self, observation, prev_action, prev_reward, init_rnn_state=None, reset=None) -> torch.Tensor:
        """Target-network Q-values of the same sequences, every step (no graph)."""
        return self._sequence(self.target_model, observation, prev_action, prev_reward, init_rnn_state, reset)

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        """Epsilon-greedy actions on ``[B]`` inputs from each env's LSTM state, which then advances."""
        inputs = self._inputs(observation, prev_action, prev_reward)
        prev_state = self.current_rnn_state(prev_reward.shape[0])
        q, next_state = self.model(*inputs, prev_state)
        action = self.distribution.sample(q, self.action_mask(inputs[0]))
        self.advance_rnn_state(next_state)
        step = AgentStep(action=action, agent_info=R2d1AgentInfo(q=q, prev_rnn_state=prev_state))
        return step if self.device.type == "cpu" else buffer_to(step, "cpu")
