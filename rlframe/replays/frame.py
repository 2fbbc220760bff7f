"""Frame replays: stacked image observations with each frame stored once.

An Atari observation is a stack of the last ``k`` frames (Mnih et al., 2015), so consecutive
observations share ``k - 1`` frames; storing whole stacks would keep every frame ``k`` times. As rlpyt's
``FrameBufferMixin``, these replays store only the newest frame of each step and rebuild a stack from the
``k - 1`` rows before it. Unlike rlpyt, they assume nothing about how the env pads the stack at an episode
start (zeros, or copies of the first frame: gymnasium's ``FrameStackObservation`` does either): the whole
first stack of every episode is kept (one per episode, in a :class:`~rlframe.replays.sparse.SparseSlots`),
and frames older than the episode's start come from it. Rebuilt stacks equal the env's observations exactly.

Observations must be arrays ``(k, *frame_shape)``, the stack on axis 0 (``FrameStackObservation``'s layout).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch

from rlframe.errors import ShapeMismatchError
from rlframe.replays.prioritized import PrioritizedReplayBuffer
from rlframe.replays.shared import locked
from rlframe.replays.uniform import UniformReplayBuffer


class FrameBufferMixin:
    """Frame storage for any replay (put it first in the bases: ``class X(FrameBufferMixin, SomeReplay)``)."""

    def __init__(self, examples: Mapping[str, Any], size: int, B: int, *args, **kwargs):
        obs = examples["observation"]
        if not isinstance(obs, np.ndarray) or obs.ndim < 2:
            raise ShapeMismatchError(
                type(self).__name__, "observation", "shape (n_frames, *frame_shape)", tuple(np.shape(obs)),
                hint="frame replays need stacked frames (e.g. gymnasium's FrameStackObservation); use "
                     "UniformReplayBuffer/PrioritizedReplayBuffer for other observations.")
        self.n_frames = int(obs.shape[0])
        super().__init__(examples, size, B, *args, **kwargs)
        self._alloc("start", np.bool_(False), (self.T, self.B))  # first step of an episode (or of a time line)
        self.start_stacks = self.sparse_slots(obs)

    @property
    def history(self) -> int:
        return self.n_frames - 1

    def allocate(self, fields_example: Any) -> Any:
        return self._alloc("buf", fields_example._replace(observation=fields_example.observation[-1]),
                           (self.T, self.B))

    def write_fields(self, rows: np.ndarray, fields: Any) -> None:
        obs = fields.observation
        if self.total == 0 or self._cut:
            prev_done = np.ones(self.B, dtype=bool)
        else:
            prev_done = self.buf.done[(self.t - 1) % self.T].copy()  # read before this batch overwrites it
        self.buf[rows] = fields._replace(observation=obs[:, :, -1])
        start = np.empty(obs.shape[:2], dtype=bool)
        start[0] = prev_done
        start[1:] = fields.done[:-1]
        self.start[rows] = start
        self.start_stacks.release(rows)
        ti, bi = np.nonzero(start)
        self.start_stacks.put(rows[ti], bi, obs[ti, bi])

    def gather_observation(self, rows: np.ndarray, bs: np.ndarray) -> np.ndarray:
        k, T = self.n_frames, self.T
        back = np.arange(k)  # rows back from t
        out = self.buf.observation[(rows[:, None] - back[::-1]) % T, bs[:, None]]  # [N, k, *frame]
        starts = self.start[(rows[:, None] - back) % T, bs[:, None]]
        e = np.where(starts.any(axis=1), starts.argmax(axis=1), k)  # rows back to the latest episode start
        m = np.nonzero(e < k - 1)[0]  # stacks reaching back before their episode's start
        if m.size:
            em = e[m]
            stacks = self.start_stacks.get((rows[m] - em) % T, bs[m])
            i = np.arange(k)[None, :]
            # position i of this stack is position i + e of the episode's first stack when it precedes the start
            picked = stacks[np.arange(m.size)[:, None], np.minimum(i + em[:, None], k - 1)]
            before = (i < (k - 1 - em)[:, None]).reshape((m.size, k) + (1,) * (out.ndim - 2))
            out[m] = np.where(before, picked, out[m])
        return out

    @locked("saving the replay")
    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state.update(start=torch.from_numpy(self.start), start_stacks=self.start_stacks.state_dict())
        return state

    @locked("loading the replay")
    def load_state_dict(self, state: Dict[str, Any], component: Optional[str] = None) -> None:
        super().load_state_dict(state, component)
        self.start[...] = state["start"].numpy()
        self.start_stacks.load_state_dict(state["start_stacks"], component or self.name)


class FrameReplayBuffer(FrameBufferMixin, UniformReplayBuffer):
    """Uniform replay of stacked frames, each frame stored once; constructor of
    :class:`~rlframe.replays.base.BaseReplayBuffer`."""


class PrioritizedFrameReplayBuffer(FrameBufferMixin, PrioritizedReplayBuffer):
    """Prioritized replay of stacked frames, each frame stored once; constructor of
    :class:`~rlframe.replays.prioritized.PrioritizedReplayBuffer`."""
