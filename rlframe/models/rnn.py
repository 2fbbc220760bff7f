"""Recurrent (LSTM) models: an actor-critic for policy gradients and a dueling Q-network for R2D1.

Both share one body, :class:`LstmBody`: observation encoder → MLP → LSTM (Hochreiter & Schmidhuber 1997),
optionally fed the previous action (one-hot for discrete actions) and the previous reward as R2D2 does
(Kapturowski et al. 2019). Every forward takes and returns the recurrent state explicitly:

    forward(observation, prev_action, prev_reward, rnn_state=None, reset=None) -> (*outputs, next_rnn_state)

- ``observation`` is ``[B, ...]`` (one step of ``B`` envs, what ``agent.step`` passes) or ``[T, B, ...]``
  (sequences, what algorithms pass); outputs keep the leading dims.
- ``rnn_state`` is an :data:`RnnState` ``(h, c)`` with each field ``[B, num_layers, hidden]``: env-major, so it
  is stored in ``agent_info`` / samples / replays with leading ``[T, B]`` like every other field. None: zeros.
- ``reset`` (``[T, B]`` bool/0-1, sequences only): where set, the state is zeroed *before* step ``t``, so one
  sequence may hold the end of an episode and the start of the next (algorithms pass ``done[t-1]``).
  One ``nn.LSTM`` call either way (:func:`lstm_sequence` packs the episodes that start inside a sequence).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Type

import torch
from torch import nn

from rlframe.core.leading_dims import restore_leading_dims
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ShapeMismatchError
from rlframe.models.mlp import MlpModel, orthogonal_init
from rlframe.models.observation import FlatObservationEncoder, ObservationShape

RnnState = namedarraytuple("RnnState", ["h", "c"])
RnnState.__doc__ = "LSTM state, each field ``[B, num_layers, hidden_size]`` (env-major, as stored in agent_info)."


def lstm_sequence(lstm: nn.LSTM, x: torch.Tensor, state: Tuple[torch.Tensor, torch.Tensor],
                  reset: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Run ``lstm`` over ``x [T, B, D]`` from ``state`` (``(h, c)``, each ``[L, B, H]``), zeroing the state of
    env ``b`` before step ``t`` wherever ``reset[t, b]``; returns ``(output [T, B, H], (h, c))``.

    Episodes that start inside the sequence become sequences of their own (zero initial state), all run in one
    packed ``nn.LSTM`` call (``pack_padded_sequence``): one call however many resets there are, instead of one
    call per stretch between reset times (the per-call overhead dominated small LSTMs on CPU).
    """
    h0, c0 = state
    if reset is None:
        return lstm(x, (h0, c0))
    reset = reset.to(device=x.device, dtype=torch.bool)
    if bool(reset[0].any()):
        keep = (~reset[0]).to(h0.dtype).view(1, -1, 1)
        h0, c0 = h0 * keep, c0 * keep
    inner = reset.clone()
    inner[0] = False
    if not bool(inner.any()):
        return lstm(x, (h0, c0))
    T, B = inner.shape
    seg = inner.long().cumsum(0)  # segment number within each column
    n_seg = seg[-1] + 1
    first = torch.cumsum(n_seg, 0) - n_seg  # global index of each column's first segment
    gid = first.unsqueeze(0) + seg  # [T, B] global segment of each step
    steps = torch.arange(T, device=x.device).unsqueeze(1).expand(T, B)
    pos = steps - torch.cummax(torch.where(inner, steps, torch.zeros_like(steps)), dim=0).values
    G = int(n_seg.sum())
    lengths = torch.bincount(gid.flatten(), minlength=G)
    padded = x.new_zeros((int(lengths.max()), G, x.shape[-1]))
    padded[pos, gid] = x
    L, _, H = h0.shape
    h_init, c_init = h0.new_zeros((L, G, H)), c0.new_zeros((L, G, H))
    h_init[:, first], c_init[:, first] = h0, c0
    packed = nn.utils.rnn.pack_padded_sequence(padded, lengths.cpu(), enforce_sorted=False)
    out, (h, c) = lstm(packed, (h_init, c_init))
    out, _ = nn.utils.rnn.pad_packed_sequence(out)
    last = first + n_seg - 1
    return out[pos, gid], (h[:, last], c[:, last])


def check_state(component: str, state: RnnState, expected: Tuple[int, ...]) -> None:
    """Raise a ShapeMismatchError naming ``component`` unless every field of ``state`` has shape ``expected``."""
    for name, v in zip(state._fields, state):
        if tuple(v.shape) != tuple(expected):
            raise ShapeMismatchError(
                component, f"rnn_state.{name}", tuple(expected), tuple(v.shape),
                detail="the recurrent state is [B, num_layers, hidden_size] per env",
                hint="pass the state the model returned (or stored in agent_info.prev_rnn_state) for the same "
                "envs, or None for zeros; a checkpoint of another hidden size does not fit this model.",
            )


class LstmBody(nn.Module):
    """Observation → MLP (``fc_sizes``) → LSTM (``hidden_size``, ``num_layers``) features.

    Args:
        observation_shape: the env's observation shape (``{field: shape}`` for Dict observations).
        fc_sizes: MLP layers before the LSTM (may be empty: the LSTM sees the flat observation).
        hidden_size, num_layers: the LSTM's.
        prev_action_size: size of the previous-action input (0: not used); ``prev_action_onehot`` turns an
            integer action into a one-hot of that size (Discrete actions), else it is a vector of that size.
        prev_reward: feed the previous reward to the LSTM too.
        nonlinearity: of the MLP.
        component: name used in shape errors (the owning model's class).
    """

    def __init__(self, observation_shape: ObservationShape, fc_sizes: Sequence[int] = (64,), hidden_size: int = 64,
                 num_layers: int = 1, prev_action_size: int = 0, prev_action_onehot: bool = True,
                 prev_reward: bool = False, nonlinearity: Type[nn.Module] = nn.ReLU, component: str = "LstmBody"):
        super().__init__()
        self.encoder = FlatObservationEncoder(observation_shape, component)
        self.observation_shape = self.encoder.observation_shape
        self.component = component
        self.mlp = orthogonal_init(MlpModel(self.encoder.output_size, fc_sizes, None, nonlinearity), math.sqrt(2))
        self.prev_action_size = int(prev_action_size)
        self.prev_action_onehot = bool(prev_action_onehot)
        self.prev_reward = bool(prev_reward)
        lstm_in = self.mlp.output_size + self.prev_action_size + int(self.prev_reward)
        self.hidden_size, self.num_layers = int(hidden_size), int(num_layers)
        self.lstm = nn.LSTM(lstm_in, self.hidden_size, self.num_layers)
        self.output_size = self.hidden_size

    def state_shape(self) -> Tuple[int, int]:
        """Per-env shape of each state field: ``(num_layers, hidden_size)``."""
        return self.num_layers, self.hidden_size

    def zero_state(self, B: int, device=None) -> RnnState:
        z = torch.zeros((B,) + self.state_shape(), device=device)
        return RnnState(z, z.clone())

    def _inputs(self, x: torch.Tensor, prev_action, prev_reward, N: int) -> torch.Tensor:
        parts = [x]
        if self.prev_action_size:
            a = torch.as_tensor(prev_action, device=x.device)
            if self.prev_action_onehot:
                a = nn.functional.one_hot(a.reshape(N).long(), self.prev_action_size).to(x.dtype)
            else:
                a = a.reshape(N, self.prev_action_size).to(x.dtype)
            parts.append(a)
        if self.prev_reward:
            parts.append(torch.as_tensor(prev_reward, device=x.device).reshape(N, 1).to(x.dtype))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else x

    def _check_state(self, state: RnnState, B: int) -> None:
        check_state(self.component, state, (B,) + self.state_shape())

    def forward(self, observation, prev_action=None, prev_reward=None, rnn_state: Optional[RnnState] = None,
                reset: Optional[torch.Tensor] = None):
        """``(features [T*B, H], lead_dim, T, B, next_rnn_state)``; see the module docstring."""
        x, lead_dim, T, B = self.encoder(observation)
        x = self._inputs(self.mlp(x), prev_action, prev_reward, T * B).view(T, B, -1)
        if rnn_state is None:
            rnn_state = self.zero_state(B, x.device)
        else:
            self._check_state(rnn_state, B)
        state = (rnn_state.h.transpose(0, 1).contiguous(), rnn_state.c.transpose(0, 1).contiguous())
        if reset is not None and lead_dim == 2:
            reset = torch.as_tensor(reset).reshape(T, B)
        else:
            reset = None
        out, (h, c) = lstm_sequence(self.lstm, x, state, reset)
        return out.reshape(T * B, -1), lead_dim, T, B, RnnState(h.transpose(0, 1), c.transpose(0, 1))


class RecurrentActorCriticModel(nn.Module):
    """LSTM actor-critic: :class:`LstmBody` → policy MLP head (``pi_size`` outputs) and value MLP head.

    With ``critic_lstm`` (default, as SB3-contrib's RecurrentPPO ``enable_critic_lstm``) the value head has
    its own :class:`LstmBody`, so the critic's large early errors do not disturb the policy's memory; the two
    states are stacked along the layer dim (state fields ``[B, 2 * num_layers, lstm_size]``).
    ``forward`` returns ``(pi_output, value, next_rnn_state)``; see the module docstring for the inputs.
    Subclasses below shape ``pi_output`` for categorical and gaussian policies.
    """

    def __init__(self, observation_shape: ObservationShape, pi_size: int, fc_sizes: Sequence[int] = (64,),
                 lstm_size: int = 64, num_layers: int = 1, head_sizes: Sequence[int] = (64,),
                 critic_lstm: bool = True, prev_action_size: int = 0, prev_action_onehot: bool = True,
                 prev_reward: bool = False, nonlinearity: Type[nn.Module] = nn.ReLU):
        super().__init__()
        body_args = (observation_shape, fc_sizes, lstm_size, num_layers, prev_action_size, prev_action_onehot,
                     prev_reward, nonlinearity, type(self).__name__)
        self.body = LstmBody(*body_args)
        self.critic_body = LstmBody(*body_args) if critic_lstm else None
        self.observation_shape = self.body.observation_shape
        self.pi_size = int(pi_size)
        h = self.body.output_size
        self.pi_head = MlpModel(h, head_sizes, self.pi_size, nonlinearity)
        self.v_head = MlpModel(h, head_sizes, 1, nonlinearity)
        orthogonal_init(self.pi_head, math.sqrt(2))
        orthogonal_init(self.v_head, math.sqrt(2))
        orthogonal_init(self.pi_head.model[-1], 0.01)
        orthogonal_init(self.v_head.model[-1], 1.0)

    def state_shape(self) -> Tuple[int, int]:
        L, H = self.body.state_shape()
        return (2 * L if self.critic_body is not None else L), H

    def zero_state(self, B: int, device=None) -> RnnState:
        z = torch.zeros((B,) + self.state_shape(), device=device)
        return RnnState(z, z.clone())

    def forward(self, observation, prev_action=None, prev_reward=None, rnn_state=None, reset=None):
        if self.critic_body is None:
            x, lead_dim, T, B, next_state = self.body(observation, prev_action, prev_reward, rnn_state, reset)
            x_v = x
        else:
            pi_state = v_state = None
            if rnn_state is not None:
                check_state(type(self).__name__, rnn_state, (rnn_state.h.shape[0],) + self.state_shape())
                L = self.body.num_layers
                pi_state, v_state = RnnState(*(s[:, :L] for s in rnn_state)), RnnState(*(s[:, L:] for s in rnn_state))
            x, lead_dim, T, B, pi_next = self.body(observation, prev_action, prev_reward, pi_state, reset)
            x_v, _, _, _, v_next = self.critic_body(observation, prev_action, prev_reward, v_state, reset)
            next_state = RnnState(*(torch.cat(pair, dim=1) for pair in zip(pi_next, v_next)))
        pi, v = restore_leading_dims((self.pi_head(x), self.v_head(x_v).squeeze(-1)), lead_dim, T, B)
        return pi, v, next_state


class RecurrentCategoricalPgModel(RecurrentActorCriticModel):
    """LSTM actor-critic for ``Discrete(action_size)``: ``forward`` returns ``(logits, value, next_rnn_state)``.
    The previous action enters the LSTM as a one-hot unless ``prev_action=False``."""

    def __init__(self, observation_shape: ObservationShape, action_size: int, prev_action: bool = True, **kwargs):
        kwargs.setdefault("prev_action_size", int(action_size) if prev_action else 0)
        super().__init__(observation_shape, int(action_size), prev_action_onehot=True, **kwargs)
        self.action_size = int(action_size)


class RecurrentGaussianPgModel(RecurrentActorCriticModel):
    """LSTM actor-critic for 1-D ``Box`` actions: ``forward`` returns ``(mean, log_std, value, next_rnn_state)``
    with a state-independent learned ``log_std`` (initialised to ``init_log_std``)."""

    def __init__(self, observation_shape: ObservationShape, action_size: int, prev_action: bool = True,
                 init_log_std: float = 0.0, **kwargs):
        kwargs.setdefault("prev_action_size", int(action_size) if prev_action else 0)
        super().__init__(observation_shape, int(action_size), prev_action_onehot=False, **kwargs)
        self.action_size = int(action_size)
        self.log_std = nn.Parameter(torch.full((self.action_size,), float(init_log_std)))

    def forward(self, observation, prev_action=None, prev_reward=None, rnn_state=None, reset=None):
        mu, v, next_state = super().forward(observation, prev_action, prev_reward, rnn_state, reset)
        return mu, self.log_std.expand_as(mu), v, next_state


class RecurrentDuelingQModel(nn.Module):
    """LSTM Q-network for R2D1 (Kapturowski et al. 2019): :class:`LstmBody` (previous action one-hot and
    previous reward fed to the LSTM) → dueling heads ``Q = V + A - mean(A)`` (Wang et al. 2016), or one
    plain head with ``dueling=False``. ``forward`` returns ``(q [.., action_size], next_rnn_state)``."""

    def __init__(self, observation_shape: ObservationShape, action_size: int, fc_sizes: Sequence[int] = (64,),
                 lstm_size: int = 64, num_layers: int = 1, head_sizes: Sequence[int] = (64,), dueling: bool = True,
                 prev_action: bool = True, prev_reward: bool = True, nonlinearity: Type[nn.Module] = nn.ReLU):
        super().__init__()
        self.action_size = int(action_size)
        self.body = LstmBody(observation_shape, fc_sizes, lstm_size, num_layers,
                             self.action_size if prev_action else 0, True, prev_reward, nonlinearity,
                             component=type(self).__name__)
        self.observation_shape = self.body.observation_shape
        self.dueling = bool(dueling)
        h = self.body.output_size
        self.head = MlpModel(h, head_sizes, self.action_size, nonlinearity)
        self.value_head = MlpModel(h, head_sizes, 1, nonlinearity) if self.dueling else None

    def zero_state(self, B: int, device=None) -> RnnState:
        return self.body.zero_state(B, device)

    def forward(self, observation, prev_action=None, prev_reward=None, rnn_state=None, reset=None):
        x, lead_dim, T, B, next_state = self.body(observation, prev_action, prev_reward, rnn_state, reset)
        q = self.head(x)
        if self.dueling:
            q = self.value_head(x) + q - q.mean(dim=-1, keepdim=True)
        return restore_leading_dims(q, lead_dim, T, B), next_state
