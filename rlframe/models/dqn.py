"""Q-networks for value-based agents: DQN (Mnih et al. 2015), dueling heads (Wang et al. 2016) and
C51's distributional head (Bellemare, Dabney & Munos 2017, "A Distributional Perspective on RL").

Every model is ``encoder -> QHead``: the encoder is :class:`~rlframe.models.observation.FlatObservationEncoder`
(MLP models; Dict observations flattened and concatenated) or :class:`~rlframe.models.conv.ConvEncoder`
(image models, the Nature-DQN torso by default), so the observation shape is checked on every call and a
model that does not fit the env raises :class:`~rlframe.errors.ShapeMismatchError` naming the model class.

Outputs keep the input's leading dims (``[...]``, ``[B, ...]`` or ``[T, B, ...]``):

- :class:`DqnMlpModel`, :class:`DqnConvModel`: ``q`` of shape ``[..., A]``.
- :class:`CatDqnMlpModel`, :class:`CatDqnConvModel`: ``log_p`` of shape ``[..., A, n_atoms]``, the
  log-probabilities of each action's return distribution over ``n_atoms`` fixed atoms (log-softmax over
  atoms: the cross-entropy loss then needs no extra ``log``). ``q = (exp(log_p) * atoms).sum(-1)``.

``prev_action`` and ``prev_reward`` are accepted for the agent contract and ignored.
"""
from __future__ import annotations

from typing import Optional, Sequence, Type

import torch
from torch import nn

from rlframe.core.leading_dims import restore_leading_dims
from rlframe.models.conv import ConvEncoder
from rlframe.models.mlp import MlpModel
from rlframe.models.observation import FlatObservationEncoder, ObservationShape

# The Nature-DQN torso (Mnih et al. 2015): 32 8x8/4, 64 4x4/2, 64 3x3/1, no padding, then 512 units.
NATURE_CONV = dict(channels=(32, 64, 64), kernel_sizes=(8, 4, 3), strides=(4, 2, 1), paddings=(0, 0, 0))


class QHead(nn.Module):
    """Features ``[N, D]`` -> ``[N, A, n_atoms]`` action values (``n_atoms`` = 1 for scalar Q).

    Plain: one MLP with ``A * n_atoms`` outputs. Dueling (Wang et al. 2016): a value stream ``V [N, 1, n_atoms]``
    and an advantage stream ``Adv [N, A, n_atoms]`` combined as ``V + Adv - mean_a(Adv)`` (per atom for C51,
    as in Rainbow, Hessel et al. 2018).
    """

    def __init__(self, input_size: int, action_size: int, hidden_sizes: Sequence[int] = (256, 256),
                 n_atoms: int = 1, dueling: bool = False, nonlinearity: Type[nn.Module] = nn.ReLU):
        super().__init__()
        self.action_size = int(action_size)
        self.n_atoms = int(n_atoms)
        self.dueling = bool(dueling)
        self.advantage = MlpModel(input_size, hidden_sizes, self.action_size * self.n_atoms, nonlinearity)
        self.value = MlpModel(input_size, hidden_sizes, self.n_atoms, nonlinearity) if self.dueling else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.advantage(x).view(-1, self.action_size, self.n_atoms)
        if self.dueling:
            out = self.value(x).view(-1, 1, self.n_atoms) + out - out.mean(dim=1, keepdim=True)
        return out


class QModel(nn.Module):
    """``encoder`` + :class:`QHead`. ``n_atoms=None``: scalar Q ``[..., A]``; an int: C51 log-probabilities
    ``[..., A, n_atoms]``.

    Args:
        encoder: module returning ``(features, lead_dim, T, B)`` with ``output_size`` and ``observation_shape``.
        action_size: number of discrete actions.
        hidden_sizes: layer sizes of the head's MLP (of each stream when dueling).
        dueling: dueling value/advantage streams.
        n_atoms: atoms of the return distribution (C51), or None.
        nonlinearity: the head's nonlinearity.
    """

    def __init__(self, encoder: nn.Module, action_size: int, hidden_sizes: Sequence[int] = (256, 256),
                 dueling: bool = False, n_atoms: Optional[int] = None, nonlinearity: Type[nn.Module] = nn.ReLU):
        super().__init__()
        self.encoder = encoder
        self.observation_shape = encoder.observation_shape
        self.action_size = int(action_size)
        self.n_atoms = None if n_atoms is None else int(n_atoms)
        if self.n_atoms is not None and self.n_atoms < 2:
            raise ValueError(f"{type(self).__name__}: a distributional head needs n_atoms >= 2, got {n_atoms}.")
        self.head = QHead(encoder.output_size, action_size, hidden_sizes, self.n_atoms or 1, dueling, nonlinearity)

    def forward(self, observation, prev_action=None, prev_reward=None) -> torch.Tensor:
        x, lead_dim, T, B = self.encoder(observation)
        out = self.head(x)
        out = out.squeeze(-1) if self.n_atoms is None else torch.log_softmax(out, dim=-1)
        return restore_leading_dims(out, lead_dim, T, B)


class DqnMlpModel(QModel):
    """MLP Q-network: ``q [..., A]``. Defaults are RL-zoo's CartPole DQN (two ReLU layers of 256)."""

    def __init__(self, observation_shape: ObservationShape, action_size: int, hidden_sizes: Sequence[int] = (256, 256),
                 dueling: bool = False, nonlinearity: Type[nn.Module] = nn.ReLU,
                 fields: Optional[Sequence[str]] = None, obs_scale: float = 1.0):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        super().__init__(encoder, action_size, hidden_sizes, dueling, None, nonlinearity)


class CatDqnMlpModel(QModel):
    """MLP C51 network: ``log_p [..., A, n_atoms]``."""

    def __init__(self, observation_shape: ObservationShape, action_size: int, n_atoms: int = 51,
                 hidden_sizes: Sequence[int] = (256, 256), dueling: bool = False,
                 nonlinearity: Type[nn.Module] = nn.ReLU, fields: Optional[Sequence[str]] = None,
                 obs_scale: float = 1.0):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        super().__init__(encoder, action_size, hidden_sizes, dueling, n_atoms, nonlinearity)


def _conv_encoder(component: str, observation_shape: Sequence[int], obs_scale: float, conv: Optional[dict]):
    return ConvEncoder(observation_shape, component, obs_scale, **dict(NATURE_CONV if conv is None else conv))


class DqnConvModel(QModel):
    """Conv Q-network on ``(C, H, W)`` images (e.g. 4 stacked 84x84 Atari frames): the Nature-DQN torso
    (``conv``: :class:`~rlframe.models.conv.Conv2dModel` arguments), then a (dueling by default) head.
    ``obs_scale`` 1/255 turns uint8 pixels into [0, 1]."""

    def __init__(self, observation_shape: Sequence[int], action_size: int, hidden_sizes: Sequence[int] = (512,),
                 dueling: bool = True, conv: Optional[dict] = None, obs_scale: float = 1.0 / 255):
        super().__init__(_conv_encoder(type(self).__name__, observation_shape, obs_scale, conv), action_size,
                         hidden_sizes, dueling, None, nn.ReLU)


class CatDqnConvModel(QModel):
    """Conv C51 network on ``(C, H, W)`` images: ``log_p [..., A, n_atoms]``."""

    def __init__(self, observation_shape: Sequence[int], action_size: int, n_atoms: int = 51,
                 hidden_sizes: Sequence[int] = (512,), dueling: bool = False, conv: Optional[dict] = None,
                 obs_scale: float = 1.0 / 255):
        super().__init__(_conv_encoder(type(self).__name__, observation_shape, obs_scale, conv), action_size,
                         hidden_sizes, dueling, n_atoms, nn.ReLU)
