"""Shared machinery of the policy-gradient agents (rlpyt's ``BaseAgent`` + PG agents, reworked).

A PG agent wraps an actor-critic model (``forward(obs, prev_action, prev_reward) -> (*pi_params, value)``)
and a distribution. ``step`` samples (``sample`` mode) or acts greedily / on the mean (``eval`` mode)
without building a graph and returns CPU tensors; ``__call__`` runs the model on ``[T, B]`` training
batches; ``value`` gives ``V(observation)`` for bootstrapping (collectors call it on truncation and
after the last step of a batch).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from rlframe.agents.base import AgentStep, BaseAgent, no_grad
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import namedarraytuple

AgentInfo = namedarraytuple("AgentInfo", ["dist_info", "value"])


class PgAgentBase(BaseAgent):
    """Common ``step``/``__call__``/``value`` for PG agents; subclasses define :meth:`_dist_info`
    (model outputs → dist_info) and :meth:`_env_action`."""

    def _to_device(self, *inputs):
        if self.device.type == "cpu":
            return inputs
        return buffer_to(inputs, self.device)

    def _dist_info(self, pi_out: Tuple[torch.Tensor, ...], observation: Any):
        raise NotImplementedError

    def __call__(self, observation, prev_action, prev_reward):
        """Training forward on ``[T, B]`` (or ``[B]``) inputs: returns ``(dist_info, value)`` on the model's device."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        *pi_out, value = self.model(observation, prev_action, prev_reward)
        return self._dist_info(pi_out, observation), value

    @no_grad
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        """Act on ``[B]`` inputs: sampled actions in train/sample mode, greedy/mean actions in eval mode."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        *pi_out, value = self.model(observation, prev_action, prev_reward)
        dist_info = self._dist_info(pi_out, observation)
        if self._mode == "eval":
            action = self.distribution.mode(dist_info)
        else:
            action = self.distribution.sample(dist_info)
        action = self._env_action(action)
        step = AgentStep(action=action, agent_info=AgentInfo(dist_info=dist_info, value=value))
        if self.device.type != "cpu":
            step = buffer_to(step, "cpu")
        return step

    def _env_action(self, action: torch.Tensor) -> torch.Tensor:
        return action

    @no_grad
    def value(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """``V(observation)`` (CPU tensor, the observation's leading dims) for bootstrapping."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        model = self.model.module if hasattr(self.model, "module") else self.model
        if hasattr(model, "value"):
            v = model.value(observation, prev_action, prev_reward)
        else:
            v = self.model(observation, prev_action, prev_reward)[-1]
        return v.cpu() if v.device.type != "cpu" else v
