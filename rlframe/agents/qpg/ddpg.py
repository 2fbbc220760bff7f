"""DDPG and TD3 agents: a deterministic actor with exploration noise (Lillicrap et al. 2016; Fujimoto et al. 2018).

Exploration adds noise to the normalised action and clips to ``[-1, 1]`` (SB3's rule): Gaussian
(``noise_type="normal"``, std ``exploration_noise``) or Ornstein-Uhlenbeck (``"ou"``: temporally correlated,
DDPG's original choice; one process per env, reset when that env's episode resets). Evaluation acts with
``mu(obs)``. :class:`Td3Agent` adds TD3's target policy smoothing (:meth:`Td3Agent.target_action`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

import torch

from rlframe.agents.qpg.base import QpgAgentBase
from rlframe.errors import ConfigError
from rlframe.models.qpg import MuMlpModel, QMlpModel

NOISE_TYPES = ("normal", "ou")


class DdpgAgent(QpgAgentBase):
    """Deterministic actor ``mu`` + critic(s), with Gaussian or Ornstein-Uhlenbeck exploration noise.

    Args:
        model_kwargs: actor arguments (default ``hidden_sizes=(400, 300)``, SB3's TD3/DDPG net).
        q_model_kwargs: critic arguments (default one critic, 400x300).
        exploration_noise: noise scale in normalised action units (std of the Gaussian, sigma of OU).
        noise_type: ``"normal"`` or ``"ou"``.
        ou_theta, ou_dt: OU mean reversion and time step (SB3's defaults 0.15 and 1e-2).
    """

    default_n_critics = 1

    def __init__(self, ModelCls: type = MuMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 QModelCls: type = QMlpModel, q_model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, exploration_noise: float = 0.1,
                 noise_type: str = "normal", ou_theta: float = 0.15, ou_dt: float = 1e-2):
        if noise_type not in NOISE_TYPES:
            raise ConfigError(f"{type(self).__name__}: noise_type must be one of {NOISE_TYPES}, got {noise_type!r}.")
        if exploration_noise < 0:
            raise ConfigError(f"{type(self).__name__}: exploration_noise must be >= 0, got {exploration_noise}.")
        model_kwargs = dict(dict(hidden_sizes=(400, 300)), **(model_kwargs or {}))
        q_model_kwargs = dict(dict(hidden_sizes=(400, 300), n_critics=self.default_n_critics),
                              **(q_model_kwargs or {}))
        super().__init__(ModelCls, model_kwargs, QModelCls, q_model_kwargs, initial_model_state_dict)
        self.exploration_noise = float(exploration_noise)
        self.noise_type = noise_type
        self.ou_theta, self.ou_dt = float(ou_theta), float(ou_dt)
        self._ou_state: Optional[torch.Tensor] = None

    def pi(self, observation) -> torch.Tensor:
        """``mu(observation)``, normalised actions, with a graph (actor loss)."""
        return self.model(observation)

    @torch.no_grad()
    def target_pi(self, observation) -> torch.Tensor:
        return self.target_model(observation)

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        if self.noise_type == "normal":
            return torch.randn_like(like) * self.exploration_noise
        if self._ou_state is None or self._ou_state.shape != like.shape or self._ou_state.device != like.device:
            self._ou_state = torch.zeros_like(like)
        x = self._ou_state
        x += -self.ou_theta * self.ou_dt * x + self.exploration_noise * math.sqrt(self.ou_dt) * torch.randn_like(x)
        return x.clone()

    def _act(self, observation, prev_action, prev_reward) -> torch.Tensor:
        mu = self.model(observation)
        if self.exploration_noise == 0.0:
            return mu
        return (mu + self._noise(mu)).clamp_(-1.0, 1.0)

    def _act_greedy(self, observation, prev_action, prev_reward) -> torch.Tensor:
        return self.model(observation)

    def reset(self) -> None:
        self._ou_state = None

    def sampling_state_dict(self) -> Dict[str, Any]:
        """The Ornstein-Uhlenbeck noise state carried between steps (None with normal noise or after a reset)."""
        return {"ou_state": None if self._ou_state is None else self._ou_state.detach().clone().cpu()}

    def load_sampling_state_dict(self, state: Dict[str, Any]) -> None:
        ou = state.get("ou_state")
        self._ou_state = None if ou is None else ou.to(self.device)

    def reset_one(self, idx: int) -> None:
        if self._ou_state is not None and self._ou_state.dim() > 1:
            self._ou_state[idx] = 0.0


class Td3Agent(DdpgAgent):
    """:class:`DdpgAgent` with twin critics and TD3's target policy smoothing.

    ``target_action(next_obs, noise_std, noise_clip) = clip(mu'(next_obs) + clip(N(0, noise_std), +-noise_clip),
    -1, 1)`` (Fujimoto et al. 2018, eq. 14), in normalised action units.
    """

    default_n_critics = 2

    @torch.no_grad()
    def target_action(self, observation, noise_std: float, noise_clip: float) -> torch.Tensor:
        a = self.target_model(observation)
        if noise_std > 0:
            a = a + (torch.randn_like(a) * noise_std).clamp_(-noise_clip, noise_clip)
        return a.clamp_(-1.0, 1.0)
