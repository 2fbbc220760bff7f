"""Actor-critic models for policy-gradient agents (A2C: Mnih et al. 2016; PPO: Schulman et al. 2017).

Each model encodes the observation (flat MLP input, Dict observations concatenated, or images
through a small conv net), then a policy head and a value head, on a shared trunk or on separate
trunks (``shared=False``, SB3's default for PPO). Orthogonal initialisation with SB3's gains:
sqrt(2) for hidden layers, 0.01 for the policy head, 1 for the value head.

Inputs may be ``[...]``, ``[B, ...]`` or ``[T, B, ...]``; outputs keep the same leading dims. The
observation shape is checked on every call (a :class:`~rlframe.errors.ShapeMismatchError` names the
model class and both shapes). ``prev_action`` and ``prev_reward`` are accepted for the agent
contract and ignored.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Type

import torch
from torch import nn

from rlframe.core.leading_dims import restore_leading_dims
from rlframe.models.conv import ConvEncoder
from rlframe.models.mlp import MlpModel, orthogonal_init
from rlframe.models.observation import FlatObservationEncoder, ObservationShape


class ActorCriticModel(nn.Module):
    """Encoder → (policy trunk → policy head of ``pi_size``, value trunk → scalar value).

    Args:
        encoder: module returning ``(features, lead_dim, T, B)`` with an ``output_size``.
        pi_size: size of the policy head's output.
        hidden_sizes: trunk layer sizes.
        shared: one trunk feeds both heads (True) or one trunk each (False).
        nonlinearity: trunk nonlinearity.
    """

    def __init__(self, encoder: nn.Module, pi_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh):
        super().__init__()
        self.encoder = encoder
        self.observation_shape = encoder.observation_shape
        self.shared = bool(shared)
        in_size = encoder.output_size
        self.pi_trunk = orthogonal_init(MlpModel(in_size, hidden_sizes, None, nonlinearity), math.sqrt(2))
        self.v_trunk = None if self.shared else orthogonal_init(
            MlpModel(in_size, hidden_sizes, None, nonlinearity), math.sqrt(2))
        out = self.pi_trunk.output_size
        self.pi_head = orthogonal_init(nn.Linear(out, int(pi_size)), 0.01)
        self.v_head = orthogonal_init(nn.Linear(out, 1), 1.0)

    def _trunks(self, observation):
        x, lead_dim, T, B = self.encoder(observation)
        h_pi = self.pi_trunk(x)
        h_v = h_pi if self.shared else self.v_trunk(x)
        return h_pi, h_v, lead_dim, T, B

    def forward(self, observation, prev_action=None, prev_reward=None):
        """Return ``(pi_output, value)`` with the input's leading dims."""
        h_pi, h_v, lead_dim, T, B = self._trunks(observation)
        pi = self.pi_head(h_pi)
        v = self.v_head(h_v).squeeze(-1)
        return restore_leading_dims((pi, v), lead_dim, T, B)

    def value(self, observation, prev_action=None, prev_reward=None) -> torch.Tensor:
        """Only the value (skips the policy trunk when trunks are separate)."""
        x, lead_dim, T, B = self.encoder(observation)
        h_v = self.pi_trunk(x) if self.shared else self.v_trunk(x)
        return restore_leading_dims(self.v_head(h_v).squeeze(-1), lead_dim, T, B)


class CategoricalPgMlpModel(ActorCriticModel):
    """MLP actor-critic for discrete actions: ``forward`` returns ``(logits, value)``.

    Args:
        observation_shape: the env's observation shape, or ``{field: shape}`` for Dict observations
            (fields flattened and concatenated; ``fields`` picks a subset).
        action_size: number of discrete actions.
        hidden_sizes, shared, nonlinearity: see :class:`ActorCriticModel`.
        obs_scale: input multiplier (e.g. 1/255 for uint8 pixels).
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh,
                 fields: Optional[Sequence[str]] = None, obs_scale: float = 1.0):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        super().__init__(encoder, action_size, hidden_sizes, shared, nonlinearity)
        self.action_size = int(action_size)


class GaussianPgMlpModel(ActorCriticModel):
    """MLP actor-critic for continuous actions: ``forward`` returns ``(mean, log_std, value)``.

    ``log_std`` is a state-independent parameter (initialised to ``init_log_std``) unless
    ``state_dependent_std`` is set, in which case the policy head outputs it too.
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh, init_log_std: float = 0.0,
                 state_dependent_std: bool = False, fields: Optional[Sequence[str]] = None, obs_scale: float = 1.0):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        self.action_size = int(action_size)
        self.state_dependent_std = bool(state_dependent_std)
        pi_size = 2 * self.action_size if self.state_dependent_std else self.action_size
        super().__init__(encoder, pi_size, hidden_sizes, shared, nonlinearity)
        if self.state_dependent_std:
            with torch.no_grad():
                self.pi_head.bias[self.action_size:] = float(init_log_std)
            self.log_std = None
        else:
            self.log_std = nn.Parameter(torch.full((self.action_size,), float(init_log_std)))

    def forward(self, observation, prev_action=None, prev_reward=None):
        h_pi, h_v, lead_dim, T, B = self._trunks(observation)
        out = self.pi_head(h_pi)
        if self.state_dependent_std:
            mu, log_std = out[:, :self.action_size], out[:, self.action_size:]
        else:
            mu, log_std = out, self.log_std.expand_as(out)
        v = self.v_head(h_v).squeeze(-1)
        return restore_leading_dims((mu, log_std, v), lead_dim, T, B)


class CategoricalPgConvModel(ActorCriticModel):
    """Conv encoder + MLP trunk(s) for discrete actions on ``(C, H, W)`` image observations.

    The conv encoder is always shared between policy and value; ``shared`` refers to the MLP trunks.
    """

    def __init__(self, observation_shape: Sequence[int], action_size: int, channels: Sequence[int] = (16, 32),
                 kernel_sizes: Sequence[int] = (3, 3), strides: Sequence[int] = (1, 1),
                 paddings: Optional[Sequence[int]] = None, hidden_sizes: Sequence[int] = (256,),
                 shared: bool = True, nonlinearity: Type[nn.Module] = nn.ReLU, obs_scale: float = 1.0):
        encoder = ConvEncoder(observation_shape, type(self).__name__, obs_scale, channels=channels,
                              kernel_sizes=kernel_sizes, strides=strides, paddings=paddings)
        orthogonal_init(encoder, math.sqrt(2))
        super().__init__(encoder, action_size, hidden_sizes, shared, nonlinearity)
        self.action_size = int(action_size)
