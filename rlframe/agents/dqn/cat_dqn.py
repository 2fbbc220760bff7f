"""C51's agent (Bellemare, Dabney & Munos 2017): a :class:`~rlframe.agents.dqn.dqn.DqnAgent` whose network
outputs, per action, a categorical return distribution over ``n_atoms`` fixed atoms evenly spaced in
``[v_min, v_max]``; it acts epsilon-greedily on the expected values ``Q(s, a) = sum_i p_i(s, a) z_i``.
The atoms live here (the algorithm reads :attr:`CatDqnAgent.atoms`), so acting and learning share them.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from rlframe.agents.dqn.dqn import DqnAgent
from rlframe.errors import ConfigError
from rlframe.models.dqn import CatDqnMlpModel


class CatDqnAgent(DqnAgent):
    """Epsilon-greedy agent over a distributional Q-network (``ModelCls`` returns ``log_p [..., A, n_atoms]``).

    Args:
        n_atoms: number of atoms (51 in the paper); passed to the model.
        v_min, v_max: support of the return distribution; returns outside are clipped onto it.
        Other arguments: see :class:`~rlframe.agents.dqn.dqn.DqnAgent`.
    """

    def __init__(self, ModelCls: type = CatDqnMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, n_atoms: int = 51,
                 v_min: float = -10.0, v_max: float = 10.0, **kwargs):
        if not v_min < v_max or int(n_atoms) < 2:
            raise ConfigError(f"CatDqnAgent needs v_min < v_max and n_atoms >= 2, got v_min={v_min}, "
                              f"v_max={v_max}, n_atoms={n_atoms}.")
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict, **kwargs)
        self.n_atoms, self.v_min, self.v_max = int(n_atoms), float(v_min), float(v_max)
        self.atoms = torch.linspace(self.v_min, self.v_max, self.n_atoms)

    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        return dict(super().make_env_to_model_kwargs(env_spaces), n_atoms=self.n_atoms)

    def to_device(self, device: Any = None) -> None:
        super().to_device(device)
        self.atoms = self.atoms.to(self.device)

    def q_values(self, model_output: torch.Tensor) -> torch.Tensor:
        """Expected values ``[..., A]`` of the log-probabilities ``[..., A, n_atoms]``."""
        return torch.exp(model_output) @ self.atoms
