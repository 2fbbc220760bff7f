"""Actor-critic models for policy-gradient agents (A2C: Mnih et al. 2016; PPO: Schulman et al. 2017).

Each model encodes the observation (flat MLP input, Dict observations concatenated, or images
through a small conv net), then a policy head and a value head, on a shared trunk or on separate
trunks (``shared=False``, SB3's default for PPO). Orthogonal initialisation with SB3's gains:
sqrt(2) for hidden layers, 0.01 for the policy head, 1 for the value head; ``ortho_init=False`` keeps
torch's default ``nn.Linear``/``nn.Conv2d`` initialisation instead (SB3's ``ortho_init=False``, which
RL-zoo's MuJoCo PPO sets use).

Inputs may be ``[...]``, ``[B, ...]`` or ``[T, B, ...]``; outputs keep the same leading dims. The
observation shape is checked on every call (a :class:`~rlframe.errors.ShapeMismatchError` names the
model class and both shapes). ``prev_action`` and ``prev_reward`` are accepted for the agent
contract and ignored.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Type

import torch
from torch import nn

from rlframe.core.leading_dims import restore_leading_dims
from rlframe.models.conv import ConvEncoder
from rlframe.models.mlp import MlpModel, TwinMlpModel, orthogonal_init, writable_grad
from rlframe.models.observation import FlatObservationEncoder, ObservationShape


class ActorCriticModel(nn.Module):
    """Encoder → (policy trunk → policy head of ``pi_size``, value trunk → scalar value).

    Args:
        encoder: module returning ``(features, lead_dim, T, B)`` with an ``output_size``.
        pi_size: size of the policy head's output.
        hidden_sizes: trunk layer sizes.
        shared: one trunk feeds both heads (True) or one trunk each (False).
        nonlinearity: trunk nonlinearity.
        ortho_init: orthogonal weights with SB3's gains and zero biases (True), or torch's default
            ``nn.Linear`` initialisation for trunks and heads (False; SB3's ``ortho_init=False``).

    Separate trunks are evaluated together (:class:`~rlframe.models.mlp.TwinMlpModel`: one batched
    matmul per layer, heads included when ``pi_size <= FUSED_HEAD_MAX``), which is the same function
    as two independent MLPs at a fraction of the per-op overhead that dominates small networks.
    """

    FUSED_HEAD_MAX = 32

    def __init__(self, encoder: nn.Module, pi_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh, ortho_init: bool = True):
        super().__init__()
        self.ortho_init = bool(ortho_init)
        self.encoder = encoder
        self.observation_shape = encoder.observation_shape
        self.shared = bool(shared)
        self.pi_size = int(pi_size)
        in_size = encoder.output_size
        self.fused_heads = not self.shared and self.pi_size <= self.FUSED_HEAD_MAX
        if self.shared:
            self.trunk = MlpModel(in_size, hidden_sizes, None, nonlinearity)
            if ortho_init:
                orthogonal_init(self.trunk, math.sqrt(2))
            out = self.trunk.output_size
        elif self.fused_heads:
            self.trunk = TwinMlpModel(in_size, hidden_sizes, (self.pi_size, 1), nonlinearity,
                                      output_gains=(0.01, 1.0), ortho_init=ortho_init)
        else:
            self.trunk = TwinMlpModel(in_size, hidden_sizes, None, nonlinearity, ortho_init=ortho_init)
            out = self.trunk.output_size
        if not self.fused_heads:
            self.pi_head, self.v_head = nn.Linear(out, self.pi_size), nn.Linear(out, 1)
            if ortho_init:
                orthogonal_init(self.pi_head, 0.01)
                orthogonal_init(self.v_head, 1.0)

    def _heads(self, x):
        """``(pi_output [N, pi_size], value [N])`` from encoded features ``x [N, D]``."""
        if self.fused_heads:
            out = self.trunk(x)
            return out[0], out[1, :, 0]
        if self.shared:
            h = self.trunk(x)
            return self.pi_head(h), self.v_head(h).squeeze(-1)
        h = self.trunk(x)
        return self.pi_head(h[0]), self.v_head(h[1]).squeeze(-1)

    def forward(self, observation, prev_action=None, prev_reward=None):
        """Return ``(pi_output, value)`` with the input's leading dims."""
        x, lead_dim, T, B = self.encoder(observation)
        pi, v = self._heads(x)
        return restore_leading_dims((pi, v), lead_dim, T, B)

    # --- gradients written out (PPO's fast_gradients path: algos/pg/closed_form.py) -----------------------
    @property
    def supports_manual_gradients(self) -> bool:
        """True when :meth:`forward_saving` / :meth:`backward_from` can replace autograd for this model:
        separate trunks with fused heads (:class:`~rlframe.models.mlp.TwinMlpModel`, tanh or ReLU) on a
        parameter-free encoder."""
        return (self.fused_heads and self.trunk.supports_backward_into
                and not any(True for _ in self.encoder.parameters()))

    def forward_saving(self, observation):
        """``(pi_outputs, value, saved)`` for ``[N, ...]`` observations without an autograd graph:
        ``pi_outputs`` is the tuple :meth:`forward` returns before the value, ``saved`` what
        :meth:`backward_from` needs. Only when :attr:`supports_manual_gradients`."""
        return self.forward_saving_features(self.encode(observation))

    def encode(self, observation) -> torch.Tensor:
        """The encoder's features ``[N, D]`` of ``[N, ...]`` observations, without a graph. With
        :attr:`supports_manual_gradients` the encoder has no parameters, so a batch's features can be computed once
        and given to :meth:`forward_saving_features` at every step on it."""
        with torch.no_grad():
            return self.encoder(observation)[0]

    def forward_saving_features(self, x: torch.Tensor, reuse: bool = False):
        """:meth:`forward_saving` from the encoder's features ``x`` (:meth:`encode`). ``reuse``: ``saved`` lives in
        buffers kept between calls, valid until the next ``reuse`` call (``TwinMlpModel.forward_saving``)."""
        out, saved = self.trunk.forward_saving(x, reuse)
        return self._pi_outputs(out[0]), out[1, :, 0], saved

    def _pi_outputs(self, pi: torch.Tensor):
        return (pi,)

    def backward_from(self, saved, pi_grads, value_grad: torch.Tensor) -> None:
        """Set the parameters' ``.grad`` from the loss gradients with respect to :meth:`forward_saving`'s
        ``pi_outputs`` (a tuple of ``[N, ...]``) and ``value`` (``[N]``), overwriting any earlier ones."""
        g, g_pi, g_value = self._grad_output_buffer(value_grad)
        g_pi.copy_(self._pi_head_grad(pi_grads))
        g_value.copy_(value_grad)
        self.trunk.backward_into(saved, g)

    def _grad_output_buffer(self, value_grad: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A zeroed ``[2, N, trunk outputs]`` tensor for :meth:`backward_from`, kept between calls of the same ``N``,
        with its views ``[0, :, :pi_size]`` (policy columns) and ``[1, :, 0]`` (value column), made once: only those
        are ever written (the padding stays zero)."""
        shape = (2, value_grad.shape[0], self.trunk.output_size)
        bufs = getattr(self, "_grad_out", None)
        buf = None if bufs is None else bufs[0]
        if buf is None or buf.shape != shape or buf.dtype != value_grad.dtype or buf.device != value_grad.device:
            with torch.inference_mode(False):  # kept between calls, in or out of inference mode: normal tensors
                buf = value_grad.new_zeros(shape)
                bufs = self._grad_out = (buf, buf[0, :, :self.pi_size], buf[1, :, 0])
        return bufs

    def _pi_head_grad(self, pi_grads) -> torch.Tensor:
        return pi_grads[0]

    def value(self, observation, prev_action=None, prev_reward=None) -> torch.Tensor:
        """Only the value (skips the policy trunk when trunks are separate)."""
        x, lead_dim, T, B = self.encoder(observation)
        return restore_leading_dims(self._value_head(x), lead_dim, T, B)

    def _value_head(self, x):
        """``value [N]`` from encoded features ``x [N, D]``."""
        if self.shared:
            v = self.v_head(self.trunk(x))
        elif self.fused_heads:
            v = self.trunk.forward_one(x, 1)[:, :1]
        else:
            v = self.v_head(self.trunk.forward_one(x, 1))
        return v.squeeze(-1)


class CategoricalPgMlpModel(ActorCriticModel):
    """MLP actor-critic for discrete actions: ``forward`` returns ``(logits, value)``.

    Args:
        observation_shape: the env's observation shape, or ``{field: shape}`` for Dict observations
            (fields flattened and concatenated; ``fields`` picks a subset).
        action_size: number of discrete actions.
        hidden_sizes, shared, nonlinearity, ortho_init: see :class:`ActorCriticModel`.
        obs_scale: input multiplier (e.g. 1/255 for uint8 pixels).
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh,
                 fields: Optional[Sequence[str]] = None, obs_scale: float = 1.0, ortho_init: bool = True):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        super().__init__(encoder, action_size, hidden_sizes, shared, nonlinearity, ortho_init)
        self.action_size = int(action_size)


class GaussianPgMlpModel(ActorCriticModel):
    """MLP actor-critic for continuous actions: ``forward`` returns ``(mean, log_std, value)``.

    ``log_std`` is a state-independent parameter (initialised to ``init_log_std``) unless
    ``state_dependent_std`` is set, in which case the policy head outputs it too.
    """

    def __init__(self, observation_shape: ObservationShape, action_size: int, hidden_sizes: Sequence[int] = (64, 64),
                 shared: bool = False, nonlinearity: Type[nn.Module] = nn.Tanh, init_log_std: float = 0.0,
                 state_dependent_std: bool = False, fields: Optional[Sequence[str]] = None, obs_scale: float = 1.0,
                 ortho_init: bool = True):
        encoder = FlatObservationEncoder(observation_shape, type(self).__name__, fields, obs_scale)
        self.action_size = int(action_size)
        self.state_dependent_std = bool(state_dependent_std)
        pi_size = 2 * self.action_size if self.state_dependent_std else self.action_size
        super().__init__(encoder, pi_size, hidden_sizes, shared, nonlinearity, ortho_init)
        if self.state_dependent_std:
            with torch.no_grad():
                if self.fused_heads:
                    self.trunk.biases[-1][0, 0, self.action_size:self.pi_size] = float(init_log_std)
                else:
                    self.pi_head.bias[self.action_size:] = float(init_log_std)
            self.log_std = None
        else:
            self.log_std = nn.Parameter(torch.full((self.action_size,), float(init_log_std)))

    def forward(self, observation, prev_action=None, prev_reward=None):
        x, lead_dim, T, B = self.encoder(observation)
        out, v = self._heads(x)
        if self.state_dependent_std:
            mu, log_std = out[:, :self.action_size], out[:, self.action_size:]
        else:
            mu, log_std = out, self.log_std.expand_as(out)
        return restore_leading_dims((mu, log_std, v), lead_dim, T, B)

    def _pi_outputs(self, pi: torch.Tensor):
        if self.state_dependent_std:
            return pi[:, :self.action_size], pi[:, self.action_size:]
        return pi, self.log_std.detach().expand_as(pi)

    def _pi_head_grad(self, pi_grads) -> torch.Tensor:
        g_mean, g_log_std = pi_grads
        if self.state_dependent_std:
            return torch.cat((g_mean, g_log_std), dim=-1)
        if writable_grad(self.log_std):  # keep it where it is (e.g. in a FlatGradients buffer)
            torch.sum(g_log_std, 0, out=self.log_std.grad)
        else:
            self.log_std.grad = g_log_std.sum(0)
        return g_mean


class CategoricalPgConvModel(ActorCriticModel):
    """Conv encoder + MLP trunk(s) for discrete actions on ``(C, H, W)`` image observations.

    The conv encoder is always shared between policy and value; ``shared`` refers to the MLP trunks.
    """

    def __init__(self, observation_shape: Sequence[int], action_size: int, channels: Sequence[int] = (16, 32),
                 kernel_sizes: Sequence[int] = (3, 3), strides: Sequence[int] = (1, 1),
                 paddings: Optional[Sequence[int]] = None, hidden_sizes: Sequence[int] = (256,),
                 shared: bool = True, nonlinearity: Type[nn.Module] = nn.ReLU, obs_scale: float = 1.0,
                 ortho_init: bool = True):
        encoder = ConvEncoder(observation_shape, type(self).__name__, obs_scale, channels=channels,
                              kernel_sizes=kernel_sizes, strides=strides, paddings=paddings)
        if ortho_init:
            orthogonal_init(encoder, math.sqrt(2))
        super().__init__(encoder, action_size, hidden_sizes, shared, nonlinearity, ortho_init)
        self.action_size = int(action_size)
