"""Recurrent (LSTM) policy-gradient agents: ``RecurrentCategoricalPgAgent`` and ``RecurrentGaussianPgAgent``.

The models (``rlframe.models.rnn``) take and return the LSTM state; the agent keeps it per env between
steps (``rlframe.agents.recurrent.RecurrentStateMixin``: zeroed when an env resets, a separate slot for
evaluation envs) and reports the state it acted from in ``agent_info.prev_rnn_state``, so it is stored in the
samples like any other field. A2C and PPO train on whole env columns (``[T, B]`` sequences) started from the
stored ``prev_rnn_state[0]`` and reset inside the sequence where an episode ended (``rlframe.algos.pg``).

Samplers: ``SerialSampler`` and ``CpuSampler`` (each worker's agent copy keeps its envs' state);
``GpuSampler``/``AlternatingSampler`` refuse recurrent agents with a ``ConfigError``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from rlframe.agents.base import AgentStep, no_grad
from rlframe.agents.pg.base import PgAgentBase
from rlframe.agents.pg.categorical import CategoricalPgAgent
from rlframe.agents.pg.gaussian import GaussianPgAgent
from rlframe.agents.recurrent import RecurrentStateMixin
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.models.rnn import RecurrentCategoricalPgModel, RecurrentGaussianPgModel

AgentInfoRnn = namedarraytuple("AgentInfoRnn", ["dist_info", "value", "prev_rnn_state"])


class RecurrentPgAgentBase(RecurrentStateMixin, PgAgentBase):
    """``step``/``__call__``/``value`` of the recurrent PG agents (the distribution side comes from the
    feed-forward agent each subclass also derives from)."""

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state=None, reset=None):
        """Training forward on ``[T, B]`` sequences from ``init_rnn_state`` (``[B, ...]`` fields, e.g.
        ``agent_info.prev_rnn_state[0]``), zeroing the state before step ``t`` where ``reset[t]``:
        returns ``(dist_info, value)`` on the model's device."""
        observation, prev_action, prev_reward, init_rnn_state, reset = self._to_device(
            observation, prev_action, prev_reward, init_rnn_state, reset)
        *pi_out, value, _ = self.model(observation, prev_action, prev_reward, init_rnn_state, reset)
        return self._dist_info(pi_out, observation), value

    @no_grad
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        """Act on ``[B]`` inputs from the envs' current state and advance it (see the module docstring)."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        prev_state = self.current_rnn_state(prev_reward.shape[0])
        *pi_out, value, next_state = self.model(observation, prev_action, prev_reward, prev_state)
        dist_info = self._dist_info(pi_out, observation)
        action = self.distribution.mode(dist_info) if self._mode == "eval" else self.distribution.sample(dist_info)
        self.advance_rnn_state(next_state)
        info = AgentInfoRnn(dist_info=dist_info, value=value, prev_rnn_state=prev_state)
        step = AgentStep(action=self._env_action(action), agent_info=info)
        return step if self.device.type == "cpu" else buffer_to(step, "cpu")

    @no_grad
    def value(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """``V(observation)`` of all ``B`` envs from their current state (the state is not advanced)."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        state = self.current_rnn_state(prev_reward.shape[0])
        v = self.model(observation, prev_action, prev_reward, state)[-2]
        return v.cpu() if v.device.type != "cpu" else v


class RecurrentCategoricalPgAgent(RecurrentPgAgentBase, CategoricalPgAgent):
    """LSTM PG agent for ``Discrete`` actions (action masks as :class:`CategoricalPgAgent`); default model
    :class:`~rlframe.models.rnn.RecurrentCategoricalPgModel` (``model_kwargs``: ``fc_sizes``, ``lstm_size``,
    ``head_sizes``, ``prev_action``, ``prev_reward``, ...)."""

    def __init__(self, ModelCls: type = RecurrentCategoricalPgModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, mask_field: str = "action_mask"):
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict, mask_field)


class RecurrentGaussianPgAgent(RecurrentPgAgentBase, GaussianPgAgent):
    """LSTM PG agent for 1-D ``Box`` actions (clipping options as :class:`GaussianPgAgent`); default model
    :class:`~rlframe.models.rnn.RecurrentGaussianPgModel`."""

    def __init__(self, ModelCls: type = RecurrentGaussianPgModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, min_std: Optional[float] = None,
                 max_std: Optional[float] = None, clip_actions: bool = False):
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict, min_std, max_std, clip_actions)
