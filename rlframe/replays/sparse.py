"""``SparseSlots``: values stored for a few ``(row, b)`` cells of a ring buffer, not for all of them.

A replay needs the true final observation only where an episode was truncated, and a frame replay
the whole frame stack only where an episode starts. Keeping a second ``[T, B]`` copy of observations
for those few cells would double the memory; this store keeps an index ``slot[row, b]`` (-1: none)
and a payload array that grows (doubling) when it runs out of free slots. Slots are released when the
ring overwrites their row, so the payload holds at most as many entries as such cells are in the ring.
A shared store (``shared=True``, ``replays/shared.py``) lives in shared memory and cannot grow: its
capacity is fixed, and running out is a :class:`~rlframe.errors.ConfigError` naming the replay argument.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch

from rlframe.core.buffers import buffer_from_example
from rlframe.core.namedarraytuple import iter_leaves
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.replays.shared import SharedArrays


def leaves_to_dict(buf: Any) -> Dict[str, torch.Tensor]:
    """``{dotted field name: zero-copy tensor}`` of a (nested) numpy buffer, for checkpoints."""
    return {name or "value": torch.from_numpy(np.ascontiguousarray(a)) for name, a in iter_leaves(buf)}


def load_leaves(buf: Any, state: Dict[str, torch.Tensor], component: str, what: str) -> None:
    """Copy :func:`leaves_to_dict` output into the matching leaves of ``buf`` (same structure),
    raising :class:`ShapeMismatchError` (naming ``component`` and the field) where shapes differ."""
    for name, a in iter_leaves(buf):
        key = name or "value"
        if key not in state:
            raise ShapeMismatchError(component, f"{what}.{key}", "a stored field", "none",
                                     hint="load a replay saved for the same env and agent.")
        src = state[key].numpy()
        if src.shape != a.shape or src.dtype != a.dtype:
            raise ShapeMismatchError(component, f"{what}.{key}", f"{a.shape} {a.dtype}", f"{src.shape} {src.dtype}",
                                     hint="load a replay saved for the same env, agent, replay_size and batch_B.")
        a[...] = src


class SparseSlots(SharedArrays):
    """Payloads shaped like ``example`` for some cells of a ``[T, B]`` ring.

    Args:
        example: one value (array or namedarraytuple of arrays) giving each payload's shape and dtype.
        T, B: the ring's leading dims.
        initial_capacity: payload slots allocated up front (grows by doubling unless ``shared``).
        shared: keep everything in shared memory, with a fixed capacity.
    """

    def __init__(self, example: Any, T: int, B: int, initial_capacity: int = 16, shared: bool = False):
        self.example = example
        self.shared = bool(shared)
        self._alloc("slot", np.int64(0), (int(T), int(B)))
        self.slot[...] = -1
        self.capacity = max(int(initial_capacity), 1)
        self._alloc("data", example, (self.capacity,))
        self._alloc("free", np.int64(0), (self.capacity,))
        self.free[...] = np.arange(self.capacity - 1, -1, -1, dtype=np.int64)  # a stack: pop from the end
        self._alloc("_n_free", np.int64(0), (1,))
        self.n_free = self.capacity

    @property
    def n_free(self) -> int:
        return int(self._n_free[0])

    @n_free.setter
    def n_free(self, value: int) -> None:
        self._n_free[0] = value

    def __len__(self) -> int:
        """Cells currently holding a payload."""
        return self.capacity - self.n_free

    def release(self, rows: np.ndarray) -> None:
        """Forget the payloads of every cell in ``rows`` (rows about to be overwritten)."""
        ids = self.slot[rows].ravel()
        ids = ids[ids >= 0]
        if ids.size:
            self.free[self.n_free:self.n_free + ids.size] = ids
            self.n_free += ids.size
        self.slot[rows] = -1

    def put(self, rows: np.ndarray, bs: np.ndarray, values: Any) -> None:
        """Store ``values`` (leading dim ``len(rows)``) for the cells ``(rows[i], bs[i])``; each cell must be free."""
        k = int(len(rows))
        if k == 0:
            return
        if k > self.n_free:
            self._grow(len(self) + k)
        ids = self.free[self.n_free - k:self.n_free].copy()
        self.n_free -= k
        self.data[ids] = values
        self.slot[rows, bs] = ids

    def has(self, rows: np.ndarray, bs: np.ndarray) -> np.ndarray:
        return self.slot[rows, bs] >= 0

    def get(self, rows: np.ndarray, bs: np.ndarray) -> Any:
        """Payloads of cells that hold one (see :meth:`has`)."""
        return self.data[self.slot[rows, bs]]

    def _grow(self, needed: int) -> None:
        if self.shared:
            raise ConfigError(
                f"a shared replay ran out of its {self.capacity} slots for true final observations (or frame "
                f"stacks at episode starts); {needed} are needed at once. Raise the replay's final_obs_capacity "
                "(replay_kwargs=dict(final_obs_capacity=N)), e.g. to replay_size // (shortest episode length).")
        new_cap = max(2 * self.capacity, int(needed))
        data = buffer_from_example(self.example, (new_cap,))
        data[:self.capacity] = self.data
        free = np.empty(new_cap, dtype=np.int64)
        free[:self.n_free] = self.free[:self.n_free]
        added = np.arange(new_cap - 1, self.capacity - 1, -1, dtype=np.int64)
        free[self.n_free:self.n_free + added.size] = added
        self.n_free += added.size
        self.data, self.free, self.capacity = data, free, new_cap

    # --- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Plain tensors (``torch.load(weights_only=True)`` reads them back)."""
        return {"slot": torch.from_numpy(self.slot), "data": leaves_to_dict(self.data),
                "free": torch.from_numpy(self.free[:self.n_free].copy())}

    def load_state_dict(self, state: Dict[str, Any], component: str = "replay") -> None:
        slot = state["slot"].numpy()
        if slot.shape != self.slot.shape:
            raise ShapeMismatchError(component, "sparse slots", self.slot.shape, tuple(slot.shape),
                                     hint="load a replay saved with the same replay_size and batch_B.")
        free = state["free"].numpy()
        capacity = int(free.size + (slot >= 0).sum())
        if self.shared:
            self._load_shared(slot, free, state, component)
            return
        self.capacity = max(capacity, 1)
        self.data = buffer_from_example(self.example, (self.capacity,))
        load_leaves(self.data, state["data"], component, "sparse")
        self.slot = np.array(slot, dtype=np.int64)
        self.free = np.empty(self.capacity, dtype=np.int64)
        self.free[:free.size] = free
        self.n_free = int(free.size)

    def _load_shared(self, slot: np.ndarray, free: np.ndarray, state: Dict[str, Any], component: str) -> None:
        """Load into the fixed shared arrays: the stored payloads are renumbered into this store's slots."""
        used = np.nonzero(slot.ravel() >= 0)[0]
        if used.size > self.capacity:
            self._grow(int(used.size))
        saved = buffer_from_example(self.example, (int(free.size + used.size),))
        load_leaves(saved, state["data"], component, "sparse")
        self.slot[...] = -1
        self.free[...] = np.arange(self.capacity - 1, -1, -1, dtype=np.int64)
        self.n_free = self.capacity
        rows, bs = np.unravel_index(used, slot.shape)
        self.put(rows, bs, saved[slot.ravel()[used]])
