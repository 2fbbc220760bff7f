"""Sequence replay for recurrent agents (R2D2: Kapturowski et al., 2019, "Recurrent Experience Replay in
Distributed Reinforcement Learning", ICLR), on the ring of :class:`~rlframe.replays.base.BaseReplayBuffer`.

A sample is a window of ``burn_in + sequence_length + n_step_return`` consecutive steps of one env:

- it may start only every ``stride`` steps (absolute time), so consecutive sequences overlap by
  ``window - stride`` steps (R2D2: length 80, stride 40);
- the recurrent state the agent acted from at the window's first step is stored with every step
  (``agent_info.prev_rnn_state``, an extra replay field) and handed out as ``init_rnn_state`` (R2D2's
  "stored state"); the first ``burn_in`` steps only warm the state up (no loss), the next
  ``sequence_length`` are trained on, the last ``n_step_return`` only provide bootstrap values;
- episodes may end inside a window: ``reset[t]`` (``done[t-1]``) tells the model where to zero its state,
  and :func:`window_n_step_targets` stops n-step returns at episode ends; a truncated episode bootstraps
  from its true final observation (``final_observation[t]``, zeros elsewhere), a terminated one not at all;
- :class:`PrioritizedSequenceReplayBuffer` keeps one priority per sequence in a
  :class:`~rlframe.replays.sum_tree.SumTree`: ``eta * max_t |delta_t| + (1 - eta) * mean_t |delta_t|``
  over the trained steps (R2D2's mixture, ``eta = 0.9``), computed by the algorithm
  (:func:`sequence_priorities`) and set with ``update_batch_priorities``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Tuple

import numpy as np
import torch

from rlframe.agents.base import AgentInputs
from rlframe.core.namedarraytuple import map_leaves, namedarraytuple
from rlframe.errors import ConfigError
from rlframe.replays.base import BaseReplayBuffer, torch_batch
from rlframe.replays.prioritized import PrioritizedReplayBuffer
from rlframe.replays.shared import locked
from rlframe.replays.sum_tree import SumTree

# One sampled batch, torch, leading dims [S, N] (S = burn_in + sequence_length + n_step_return window steps,
# N sequences) except init_rnn_state, is_weights and idxs ([N]).
SequenceBatch = namedarraytuple("SequenceBatch", [
    "agent_inputs",        # AgentInputs(observation, prev_action, prev_reward) [S, N]
    "action", "reward",    # [S, N]
    "terminated", "truncated", "done", "valid",  # [S, N] bool (valid: not a wait-reset blank)
    "final_observation",   # [S, N]: the true final observation where truncated, zeros elsewhere
    "init_rnn_state",      # [N, ...]: the state the agent acted from at the window's first step
    "is_weights", "idxs",  # [N]
])


def window_n_step_targets(reward: np.ndarray, done: np.ndarray, terminated: np.ndarray, start: int, length: int,
                          n: int, discount: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n-step targets for the window steps ``start .. start+length-1`` of ``[S, N]`` arrays.

    Returns ``(return_, bootstrap_discount, bootstrap_pos, from_final)``, each ``[length, N]``: the discounted
    reward sum up to ``n`` steps or the first episode end; ``gamma^K`` (0 after a termination); the window
    index ``i + K`` whose value bootstraps the target; and whether that value is the one of the true final
    observation of a truncated episode ended at ``i + K - 1`` (else the observation at ``i + K``).
    """
    idx = start + np.arange(length)[:, None] + np.arange(n)[None, :]  # [length, n] window rows
    d = done[idx]  # [length, n, N]
    ended = d.any(axis=1)  # [length, N]
    first = np.where(ended, d.argmax(axis=1), n - 1)
    alive = np.arange(n)[None, :, None] <= first[:, None, :]
    gammas = discount ** np.arange(n + 1, dtype=np.float64)
    return_ = (reward[idx] * alive * gammas[None, :n, None]).sum(axis=1).astype(np.float32)
    K = first + 1
    pos = start + np.arange(length)[:, None] + K
    cols = np.arange(done.shape[1])[None, :]
    term = ended & terminated[pos - 1, cols]
    bootstrap_discount = np.where(term, 0.0, gammas[K]).astype(np.float32)
    return return_, bootstrap_discount, pos, ended & ~term


def sequence_priorities(td_abs: torch.Tensor, valid: Optional[torch.Tensor] = None, eta: float = 0.9) -> torch.Tensor:
    """R2D2's priority of each sequence from ``|delta|`` ``[L, N]``: ``eta * max + (1 - eta) * mean`` over the
    valid steps (``valid`` ``[L, N]``, all when None)."""
    if valid is None:
        return eta * td_abs.max(dim=0).values + (1 - eta) * td_abs.mean(dim=0)
    w = valid.to(td_abs.dtype)
    mean = (td_abs * w).sum(0) / w.sum(0).clamp_min(1.0)
    return eta * (td_abs * w).max(dim=0).values + (1 - eta) * mean


class SequenceReplayBuffer(BaseReplayBuffer):
    """Uniform sequence replay (see the module docstring).

    Args:
        examples, size, B, discount, n_step_return, seed: as :class:`~rlframe.replays.base.BaseReplayBuffer`
            (``size`` is rounded up so that every env's ring holds a whole number of strides).
        sequence_length: trained steps per sequence.
        burn_in: steps before them that only warm up the recurrent state.
        stride: steps between the starts of consecutive sequences (default: ``sequence_length``, R2D2 used
            half of it); must be ``<= burn_in + sequence_length`` so that every step can be trained on.
        rnn_state_field: the ``agent_info`` field holding the state the agent acted from.
        kwargs: the next class's in the MRO (the prioritized variant's ``alpha``, ``beta``, ...).
    """

    def __init__(self, examples: Mapping[str, Any], size: int, B: int, discount: float = 0.99,
                 n_step_return: int = 1, seed: Optional[int] = None, sequence_length: int = 20, burn_in: int = 0,
                 stride: Optional[int] = None, rnn_state_field: str = "prev_rnn_state", **kwargs: Any):
        self.sequence_length, self.burn_in = int(sequence_length), int(burn_in)
        self.stride = int(stride) if stride is not None else self.sequence_length
        if self.sequence_length < 1 or self.burn_in < 0 or not 1 <= self.stride <= self.burn_in + self.sequence_length:
            raise ConfigError(
                f"{type(self).__name__}: need sequence_length >= 1, burn_in >= 0 and 1 <= stride <= burn_in + "
                f"sequence_length; got {sequence_length}, {burn_in}, {stride}.")
        self.rnn_state_field = rnn_state_field
        info = examples.get("agent_info")
        if info is None or not hasattr(info, "_fields") or rnn_state_field not in info._fields:
            fields = getattr(info, "_fields", None)
            raise ConfigError(
                f"{type(self).__name__} stores the recurrent state from agent_info.{rnn_state_field}, but the agent's "
                f"agent_info has fields {fields}: use a recurrent agent (e.g. rlframe.agents.dqn.r2d1.R2d1Agent).")
        rows = math.ceil(math.ceil(int(size) / int(B)) / self.stride) * self.stride
        super().__init__(examples, rows * int(B), B, discount=discount, n_step_return=n_step_return, seed=seed,
                         **kwargs)
        if self.T < 2 * self.window:
            raise ConfigError(f"{self.name}: replay_size {size} gives {self.T} rows per env, fewer than two windows of "
                              f"{self.window} steps; raise replay_size.")

    @property
    def window(self) -> int:
        """Steps of one sample: burn-in, trained steps, bootstrap steps."""
        return self.burn_in + self.sequence_length + self.n_step_return

    @property
    def lookahead(self) -> int:
        return self.window - 1

    @property
    def slots(self) -> int:
        """Sequence starts per env held by the ring."""
        return self.T // self.stride

    # --- the stored recurrent state ----------------------------------------------------------------
    def extra_fields_example(self, examples: Mapping[str, Any]) -> Any:
        return getattr(examples["agent_info"], self.rnn_state_field)

    def extra_fields_from_samples(self, samples: Any) -> Any:
        return getattr(samples.agent.agent_info, self.rnn_state_field)

    # --- where sequences may start -----------------------------------------------------------------
    def sampleable_range(self, total: Optional[int] = None) -> Tuple[int, int]:
        """Absolute rows ``[lo, hi)`` holding the sampleable starts (``lo`` on the stride grid)."""
        lo, hi = super().sampleable_range(total)
        lo = -(-lo // self.stride) * self.stride
        return lo, max(lo, hi)

    def _start_grid(self, lo: int, hi: int) -> np.ndarray:
        return np.arange(lo, hi, self.stride)

    def _sample_idxs(self, batch_B: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self._check_sampleable()
        starts = self._start_grid(lo, hi)
        for _ in range(64):
            rows = starts[self.rng.integers(0, starts.size, size=batch_B)] % self.T
            bs = self.rng.integers(0, self.B, size=batch_B)
            if self.valid[rows, bs].all():
                return rows, bs, np.ones(batch_B, dtype=np.float32)
        raise ConfigError(f"{self.name}: sequences keep starting in wait-reset blank slots; use the reset collector "
                          "(mid-batch resets) with sequence replays.")

    # --- batches ---------------------------------------------------------------------------------------
    @locked("sampling a batch")
    def sample_batch(self, batch_B: int) -> Any:
        """A :data:`SequenceBatch` of ``batch_B`` sequences (torch)."""
        rows, bs, is_weights = self._sample_idxs(int(batch_B))
        return self.sequence_batch(rows, bs, is_weights)

    def sequence_batch(self, rows: np.ndarray, bs: np.ndarray, is_weights: np.ndarray) -> Any:
        """The :data:`SequenceBatch` of the windows starting at ring rows ``rows`` of envs ``bs``."""
        win = (rows[None, :] + np.arange(self.window)[:, None]) % self.T  # [S, N]
        bb = np.broadcast_to(bs[None, :], win.shape)
        buf = self.buf
        truncated = buf.truncated[win, bb]
        final = map_leaves(np.zeros_like, self.gather_observation(win, bb))
        ti, ni = np.nonzero(truncated)
        if ti.size:
            has = self.final_obs.has(win[ti, ni], bb[ti, ni])
            ti, ni = ti[has], ni[has]
            if ti.size:
                final[ti, ni] = self.final_obs.get(win[ti, ni], bb[ti, ni])
        batch = SequenceBatch(
            agent_inputs=AgentInputs(self.gather_observation(win, bb), buf.prev_action[win, bb],
                                     buf.prev_reward[win, bb]),
            action=buf.action[win, bb], reward=buf.reward[win, bb], terminated=buf.terminated[win, bb],
            truncated=truncated, done=buf.done[win, bb], valid=self.valid[win, bb], final_observation=final,
            init_rnn_state=self.extra[rows, bs], is_weights=np.asarray(is_weights, dtype=np.float32),
            idxs=(rows // self.stride) * self.B + bs)
        return torch_batch(batch)

    def n_step_targets_of(self, batch: Any) -> Tuple[np.ndarray, ...]:
        """:func:`window_n_step_targets` of a :data:`SequenceBatch` for its trained steps."""
        return window_n_step_targets(batch.reward.numpy(), batch.done.numpy(), batch.terminated.numpy(),
                                     self.burn_in, self.sequence_length, self.n_step_return, self.discount)


class PrioritizedSequenceReplayBuffer(SequenceReplayBuffer, PrioritizedReplayBuffer):
    """Sequence replay drawing sequence ``i`` with probability ``p_i^alpha / sum_k p_k^alpha``: the machinery of
    :class:`~rlframe.replays.prioritized.PrioritizedReplayBuffer` (``alpha``, ``beta``, ``default_priority``,
    ``eps``; importance weights, ``update_batch_priorities``, checkpoints) with one sum-tree leaf per sequence
    start instead of one per step; new sequences enter with the largest priority seen."""

    def __init__(self, examples: Mapping[str, Any], size: int, B: int, discount: float = 0.99,
                 n_step_return: int = 1, seed: Optional[int] = None, sequence_length: int = 20, burn_in: int = 0,
                 stride: Optional[int] = None, rnn_state_field: str = "prev_rnn_state", alpha: float = 0.6,
                 beta: float = 0.4, default_priority: float = 1.0, eps: float = 1e-6, **kwargs: Any):
        super().__init__(examples, size, B, discount, n_step_return, seed, sequence_length, burn_in, stride,
                         rnn_state_field, alpha=alpha, beta=beta, default_priority=default_priority, eps=eps,
                         **kwargs)
        self.tree = SumTree(self.slots * self.B, shared=self.shared)

    def _set_starts(self, abs_lo: int, abs_hi: int, value: float) -> None:
        """Priority ``value`` (0 where the start is blank) for every grid start in absolute rows ``[lo, hi)``."""
        starts = self._start_grid(-(-abs_lo // self.stride) * self.stride, abs_hi)
        if not starts.size:
            return
        rows = starts % self.T
        flat = ((rows // self.stride)[:, None] * self.B + np.arange(self.B)).ravel()
        self.tree.update(flat, value * self.valid[rows].ravel())

    def after_append(self, total0: int, total1: int) -> None:
        _, hi0 = self.sampleable_range(total0)
        lo1, hi1 = self.sampleable_range(total1)
        self._set_starts(max(0, total0 - self.T), lo1, 0.0)  # windows reaching into overwritten rows
        self._set_starts(max(hi0, lo1), hi1, self.max_priority ** self.alpha)

    def _sample_idxs(self, batch_B: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, bs, is_weights = PrioritizedReplayBuffer._sample_idxs(self, batch_B)  # rows are slot numbers here
        return rows * self.stride, bs, is_weights

    def priorities(self) -> np.ndarray:
        """``p_i^alpha`` of every sequence start, ``[slots, B]`` (a copy)."""
        return self.tree.leaves.reshape(self.slots, self.B).copy()

    @locked("loading the replay")
    def load_state_dict(self, state, component: Optional[str] = None) -> None:
        BaseReplayBuffer.load_state_dict(self, state, component)
        self.max_priority = float(state["max_priority"])
        self.tree.update(np.arange(self.tree.size), state["priorities"].numpy() * self.valid[::self.stride].ravel())
