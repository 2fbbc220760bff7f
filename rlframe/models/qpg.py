"""Models of the Q-value policy-gradient family: DDPG (Lillicrap et al. 2016), TD3 (Fujimoto et al. 2018),
SAC (Haarnoja et al. 2018).

- :class:`MuMlpModel`: deterministic actor, ``tanh(MLP(obs))`` in ``[-1, 1]^A`` (DDPG/TD3).
- :class:`PiMlpModel`: stochastic actor, ``(mean, log_std)`` of the pre-tanh Gaussian (SAC).
- :class:`QMlpModel`: ``n_critics`` Q-functions ``Q_i(obs, action)`` stored as one stack of weights
  (``[n_critics, in, out]`` per layer) and evaluated with one batched matmul per layer: the twin critics of
  TD3/SAC cost one forward and one backward, not two.

Every model works in the *normalised* action space ``[-1, 1]^A``; the agent maps to and from the env's Box
bounds in one place (:class:`rlframe.agents.qpg.base.BoxActionScaler`). Layers start from PyTorch's default
``nn.Linear`` initialisation, as SB3's and the papers' implementations. Observations are checked against the
shape the model was built for (:class:`~rlframe.models.observation.FlatObservationEncoder`); ``prev_action`` and
``prev_reward`` are accepted for the agent contract and ignored.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Type

import torch
from torch import nn

from rlframe.core.leading_dims import restore_leading_dims
from rlframe.errors import ShapeMismatchError
from rlframe.models.mlp import MlpModel, TwinMlpModel
from rlframe.models.mlp_function import mlp_forward
from rlframe.models.observation import FlatObservationEncoder, ObservationShape


def _torch_default_init_(weight: torch.Tensor, bias: torch.Tensor) -> None:
    """``nn.Linear``'s default initialisation for a ``[in, out]`` weight slice and its bias."""
    fan_in = weight.shape[0]
    nn.init.kaiming_uniform_(weight.T, a=math.sqrt(5))
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(bias, -bound, bound)


class MuMlpModel(nn.Module):
    """Deterministic policy ``mu(obs) = tanh(MLP(obs))`` (normalised actions in ``[-1, 1]``).

    Args:
        observation_shape: the env's observation shape (or ``{field: shape}`` for Dict observations).
        action_size: action dims.
        hidden_sizes: hidden layers (SB3's TD3 default: 400, 300).
        nonlinearity: hidden activation.
        compute_dtype: mixed precision, opt-in (``torch.bfloat16``): :class:`~rlframe.models.mlp.MlpModel`'s.
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int,
                 hidden_sizes: Sequence[int] = (400, 300), nonlinearity: Type[nn.Module] = nn.ReLU,
                 compute_dtype: Optional[torch.dtype] = None):
        super().__init__()
        self.encoder = FlatObservationEncoder(observation_shape, component=type(self).__name__)
        self.observation_shape = self.encoder.observation_shape
        self.action_size = int(action_size)
        self.mlp = MlpModel(self.encoder.output_size, hidden_sizes, self.action_size, nonlinearity,
                            compute_dtype)

    def forward(self, observation, prev_action=None, prev_reward=None) -> torch.Tensor:
        x, lead_dim, T, B = self.encoder(observation)
        return restore_leading_dims(torch.tanh(self.mlp(x)), lead_dim, T, B)


class PiMlpModel(nn.Module):
    """Gaussian policy head for SAC: ``(mean, log_std)`` of the pre-squash Gaussian, ``log_std`` clamped to
    ``log_std_bounds`` (SB3's and the SAC paper's (-20, 2)). One output layer gives both halves.

    Args:
        observation_shape, action_size, hidden_sizes, nonlinearity, compute_dtype: as
            :class:`MuMlpModel` (SB3's SAC default: 256, 256).
        log_std_bounds: clamp of the log standard deviation.
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int,
                 hidden_sizes: Sequence[int] = (256, 256), nonlinearity: Type[nn.Module] = nn.ReLU,
                 log_std_bounds: Tuple[float, float] = (-20.0, 2.0),
                 compute_dtype: Optional[torch.dtype] = None):
        super().__init__()
        self.encoder = FlatObservationEncoder(observation_shape, component=type(self).__name__)
        self.observation_shape = self.encoder.observation_shape
        self.action_size = int(action_size)
        self.log_std_bounds = (float(log_std_bounds[0]), float(log_std_bounds[1]))
        self.mlp = MlpModel(self.encoder.output_size, hidden_sizes, 2 * self.action_size, nonlinearity,
                            compute_dtype)

    def forward(self, observation, prev_action=None, prev_reward=None) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lead_dim, T, B = self.encoder(observation)
        mean, log_std = self.mlp(x).split(self.action_size, dim=-1)
        log_std = log_std.clamp(*self.log_std_bounds)
        return restore_leading_dims((mean, log_std), lead_dim, T, B)


class QMlpModel(nn.Module):
    """``n_critics`` Q-functions on ``concat(obs, action)``, evaluated together.

    ``forward(observation, action) -> q [n_critics, *leading dims]``. The weights of all critics live in one
    :class:`~rlframe.models.mlp.TwinMlpModel` (``weight_<n>: [n_critics, in, out]``) and each layer is one
    ``baddbmm`` over the critic dim; each critic is initialised on its own (``nn.Linear``'s default), so the
    module is the same function as ``n_critics`` independent MLPs.

    ``forward(..., detach_params=True)`` evaluates the critics with their weights cut from autograd:
    gradients reach the action (and the actor behind it) but never the critic, which lets an algorithm
    put critic and actor losses into one backward pass (see ``rlframe/algos/qpg/ddpg.py``).

    Args:
        observation_shape, action_size: as :class:`MuMlpModel`.
        hidden_sizes: hidden layers (SB3: 256, 256 for SAC; 400, 300 for TD3/DDPG).
        n_critics: number of Q-functions (1 for DDPG, 2 for TD3 and SAC).
        nonlinearity: hidden activation (ReLU or Tanh run as functions, anything else as a module).
        compute_dtype: mixed precision, opt-in (``torch.bfloat16``; ReLU or Tanh): hidden-layer matmuls in this
            dtype, weights, last layer, Q-values and gradients in fp32, all critics as one autograd node
            (:func:`rlframe.models.mlp_function.mlp_forward`). None (default): fp32 layer by layer.
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int,
                 hidden_sizes: Sequence[int] = (256, 256), n_critics: int = 2,
                 nonlinearity: Type[nn.Module] = nn.ReLU, compute_dtype: Optional[torch.dtype] = None):
        super().__init__()
        self.encoder = FlatObservationEncoder(observation_shape, component=type(self).__name__)
        self.observation_shape = self.encoder.observation_shape
        self.action_size = int(action_size)
        self.n_critics = int(n_critics)
        if self.n_critics < 1:
            raise ValueError(f"QMlpModel needs n_critics >= 1, got {n_critics}.")
        self.critics = TwinMlpModel(self.encoder.output_size + self.action_size, hidden_sizes,
                                    output_sizes=(1,) * self.n_critics, nonlinearity=nonlinearity,
                                    k=self.n_critics)
        with torch.no_grad():
            for w, b in zip(self.critics.weights, self.critics.biases):
                for j in range(self.n_critics):
                    _torch_default_init_(w[j], b[j, 0])
        # in place: each activation overwrites its layer's fresh output (one allocation less per layer, ~5% of
        # a SAC/TD3 update on 256- and 400-wide critics)
        self._act = {nn.ReLU: torch.relu_, nn.Tanh: torch.tanh}.get(nonlinearity, self.critics.nonlinearity)
        self.compute_dtype = compute_dtype
        self._mixed = {nn.ReLU: "relu", nn.Tanh: "tanh"}.get(nonlinearity) if compute_dtype is not None else None

    def _params(self, detach: bool, n: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        pairs = list(zip(self.critics.weights, self.critics.biases))
        if n < self.n_critics:
            pairs = [(w[:n], b[:n]) for w, b in pairs]
        if detach:
            pairs = [(w.detach(), b.detach()) for w, b in pairs]
        return pairs

    def forward(self, observation, action: torch.Tensor, prev_action=None, prev_reward=None,
                detach_params: bool = False, n_critics: Optional[int] = None) -> torch.Tensor:
        """``Q_i(observation, action)``, ``[k, *leading dims]`` for the first ``k = n_critics`` critics
        (default all; TD3's actor loss needs only the first)."""
        x, lead_dim, T, B = self.encoder(observation)
        if action.shape[-1:] != (self.action_size,) or action.numel() != T * B * self.action_size:
            raise ShapeMismatchError(
                type(self).__name__, "action", (self.action_size,), tuple(action.shape),
                detail=f"observation leading dims {(T, B)[2 - lead_dim:] if lead_dim else ()}",
                hint="pass one normalised action per observation, [..., action_size].",
            )
        x = torch.cat((x, action.reshape(T * B, self.action_size).to(x.dtype)), dim=-1)
        k = self.n_critics if n_critics is None else int(n_critics)
        params = self._params(detach_params, k)
        h = x.unsqueeze(0).expand(k, *x.shape)
        if self._mixed is not None:
            h = mlp_forward(h, [t for pair in params for t in pair], self._mixed, self.compute_dtype)
        else:
            last = len(params) - 1
            for i, (w, b) in enumerate(params):
                h = torch.baddbmm(b, h, w)
                if i < last:
                    h = self._act(h)
        q = h.squeeze(-1)  # [k, T*B]
        if lead_dim == 2:
            return q.view(k, T, B)
        if lead_dim == 0:
            return q.view(k)
        return q


def soft_update_(target_params: List[torch.Tensor], source_params: List[torch.Tensor], tau: float) -> None:
    """Polyak averaging ``target <- (1 - tau) * target + tau * source`` of two parameter lists in one
    ``torch._foreach_lerp_`` (``tau >= 1`` copies: a hard update)."""
    with torch.no_grad():
        if tau >= 1.0:
            torch._foreach_copy_(target_params, source_params)
        else:
            torch._foreach_lerp_(target_params, source_params, float(tau))


__all__ = ["MuMlpModel", "PiMlpModel", "QMlpModel", "soft_update_"]
