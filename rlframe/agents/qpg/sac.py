"""SAC agent: a tanh-squashed Gaussian actor and twin critics (Haarnoja et al. 2018).

Sampling draws from the squashed Gaussian (:class:`~rlframe.distributions.tanh_gaussian.TanhGaussian`);
evaluation acts with ``tanh(mean)``. SAC keeps no target actor: its targets evaluate the online actor on the
next observations (``target_model`` is None); ``target_q_model`` holds the target critics.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from rlframe.agents.qpg.base import QpgAgentBase
from rlframe.distributions.gaussian import DistInfoStd
from rlframe.distributions.tanh_gaussian import TanhGaussian
from rlframe.models.qpg import PiMlpModel, QMlpModel


class SacAgent(QpgAgentBase):
    """Squashed-Gaussian actor ``pi`` + ``n_critics`` Q-functions (default 2, 256x256 each, SB3's SAC).

    Args:
        model_kwargs: actor arguments (:class:`~rlframe.models.qpg.PiMlpModel`: ``hidden_sizes``,
            ``log_std_bounds``).
        q_model_kwargs: critic arguments (:class:`~rlframe.models.qpg.QMlpModel`).
    """

    has_target_actor = False

    def __init__(self, ModelCls: type = PiMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 QModelCls: type = QMlpModel, q_model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None):
        q_model_kwargs = dict(dict(n_critics=2), **(q_model_kwargs or {}))
        super().__init__(ModelCls, model_kwargs, QModelCls, q_model_kwargs, initial_model_state_dict)

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None) -> None:
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.distribution = TanhGaussian(self.action_size)

    def dist_info(self, observation) -> DistInfoStd:
        mean, log_std = self.model(observation)
        return DistInfoStd(mean=mean, log_std=log_std)

    def pi(self, observation) -> Tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised ``(action, log pi(action))`` for ``observation`` (normalised actions, with a graph)."""
        return self.distribution.sample_loglikelihood(self.dist_info(observation))

    def _act(self, observation, prev_action, prev_reward) -> torch.Tensor:
        return self.distribution.sample(self.dist_info(observation))

    def _act_greedy(self, observation, prev_action, prev_reward) -> torch.Tensor:
        return self.distribution.mode(self.dist_info(observation))
