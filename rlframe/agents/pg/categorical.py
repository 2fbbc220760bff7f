"""Categorical policy-gradient agent for Discrete action spaces, with action masks.

When the observation is a structure (gymnasium Dict → namedarraytuple) with an ``action_mask``
field (e.g. the placement env, whose mask marks feasible grid cells as in Mirhoseini et al. 2021),
masked actions get logits of :data:`~rlframe.distributions.categorical.MASK_VALUE` before sampling,
in training forwards too, so they are never sampled and never receive probability mass. The stored
``dist_info.logits`` are the masked ones.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import gymnasium as gym

from rlframe.agents.pg.base import PgAgentBase
from rlframe.core.namedarraytuple import is_namedtuple
from rlframe.distributions.categorical import Categorical, DistInfo, mask_logits
from rlframe.errors import ConfigError
from rlframe.models.observation import observation_shape_from_space
from rlframe.models.pg import CategoricalPgMlpModel


class CategoricalPgAgent(PgAgentBase):
    """PG agent for ``Discrete(n)`` actions.

    Args:
        ModelCls: actor-critic model returning ``(logits, value)`` (default :class:`CategoricalPgMlpModel`;
            it takes ``observation_shape`` and ``action_size``).
        model_kwargs: extra model arguments (``hidden_sizes``, ``shared``, ...).
        mask_field: name of the observation field holding the action mask (1/True = allowed);
            used whenever the observation has it.
    """

    def __init__(self, ModelCls: type = CategoricalPgMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, mask_field: str = "action_mask"):
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict)
        self.mask_field = mask_field

    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        space = env_spaces.action
        if not isinstance(space, gym.spaces.Discrete):
            raise ConfigError(
                f"CategoricalPgAgent needs a Discrete action space, got {space}: use GaussianPgAgent for Box "
                "actions, or wrap the env."
            )
        if int(space.start) != 0:
            raise ConfigError(
                f"CategoricalPgAgent: Discrete action space with start={space.start} is not supported; "
                "wrap the env so that actions start at 0."
            )
        return dict(observation_shape=observation_shape_from_space(env_spaces.observation), action_size=int(space.n))

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None) -> None:
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.distribution = Categorical(dim=self.env_model_kwargs["action_size"])

    def _dist_info(self, pi_out, observation) -> DistInfo:
        logits = pi_out[0]
        if is_namedtuple(observation) and self.mask_field in observation._fields:
            logits = mask_logits(logits, getattr(observation, self.mask_field))
        return DistInfo(logits=logits)
