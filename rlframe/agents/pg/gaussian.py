"""Diagonal-Gaussian policy-gradient agent for Box action spaces.

Actions and clipping: ``step`` returns the *unclipped* sample (eval mode: the mean) and that is what
goes into the samples buffer, so PPO/A2C score exactly the action that was drawn. Clipping to the
Box bounds belongs at the env boundary, just before the gymnasium env sees the action (SB3 clips
there too). Envs that do not clip themselves get out-of-bound actions: for them set
``clip_actions=True`` to clip inside the agent instead (the stored action is then the clipped one and
log-probs are biased at the bounds).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import torch

from rlframe.agents.base import box_action_model_kwargs
from rlframe.agents.pg.base import PgAgentBase
from rlframe.distributions.gaussian import DistInfoStd, Gaussian
from rlframe.models.pg import GaussianPgMlpModel


class GaussianPgAgent(PgAgentBase):
    """PG agent for 1-D ``Box`` actions.

    Args:
        ModelCls: actor-critic model returning ``(mean, log_std, value)`` (default :class:`GaussianPgMlpModel`).
        model_kwargs: extra model arguments (``hidden_sizes``, ``init_log_std``, ``state_dependent_std``, ...).
        min_std, max_std: optional clamps on the standard deviation.
        clip_actions: clip actions to the Box bounds in the agent (see the module docstring).
    """

    def __init__(self, ModelCls: type = GaussianPgMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, min_std: Optional[float] = None,
                 max_std: Optional[float] = None, clip_actions: bool = False):
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict)
        self.min_std, self.max_std = min_std, max_std
        self.clip_actions = bool(clip_actions)

    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        return box_action_model_kwargs(self, env_spaces, "use CategoricalPgAgent for Discrete actions")

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None) -> None:
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.distribution = Gaussian(self.env_model_kwargs["action_size"], self.min_std, self.max_std)
        space = env_spaces.action
        dtype = torch.float32
        self._low = torch.as_tensor(np.asarray(space.low, dtype=np.float32), dtype=dtype)
        self._high = torch.as_tensor(np.asarray(space.high, dtype=np.float32), dtype=dtype)

    def _dist_info(self, pi_out, observation) -> DistInfoStd:
        mean, log_std = pi_out
        return DistInfoStd(mean=mean, log_std=log_std)

    def _env_action(self, action: torch.Tensor) -> torch.Tensor:
        if self.clip_actions:
            low, high = self._low.to(action.device), self._high.to(action.device)
            action = torch.maximum(torch.minimum(action, high), low)
        return action
