"""Buffers allocated once from a validated example, optionally in shared memory.

``buffer_from_example(example, (T, B))`` gives a namedarraytuple (or array) of zeros with
leading dims ``(T, B)`` and the example's trailing shape and dtype. With ``share_memory=True`` the
storage is torch shared memory, so the same bytes can be handed to worker processes under every
start method; ``torchify`` and ``numpify`` give zero-copy views of the other kind.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from rlframe.core.namedarraytuple import is_namedtuple, map_leaves

_NP_TO_TORCH = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float16): torch.float16,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.int8): torch.int8,
    np.dtype(np.uint8): torch.uint8,
    np.dtype(np.bool_): torch.bool,
}


def torch_dtype(np_dtype: Any) -> torch.dtype:
    dt = np.dtype(np_dtype)
    if dt not in _NP_TO_TORCH:
        raise TypeError(
            f"dtype {dt} has no zero-copy torch equivalent; use float32/64, int8/16/32/64, uint8 or bool "
            "in the env's spaces (cast in a wrapper)."
        )
    return _NP_TO_TORCH[dt]


def _leaf_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(np.float32)  # Python floats become float32 fields
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"cannot allocate a buffer for a value of type {type(x).__name__} (dtype {arr.dtype}): "
            "use numeric arrays or numbers."
        )
    return arr


def buffer_from_example(example: Any, leading_dims: Sequence[int], share_memory: bool = False) -> Any:
    """Allocate zeros shaped ``leading_dims + leaf.shape`` for every leaf of ``example``.

    Returns numpy arrays (in the example's structure). When ``share_memory`` is true they are
    views of torch tensors in shared memory; keep the structure from :func:`torch_buffer_from_example`
    if the buffer must be sent to other processes.
    """
    if share_memory:
        return numpify(torch_buffer_from_example(example, leading_dims, share_memory=True))
    leading = tuple(int(d) for d in leading_dims)
    return map_leaves(lambda x: np.zeros(leading + _leaf_array(x).shape, dtype=_leaf_array(x).dtype), example)


def torch_buffer_from_example(example: Any, leading_dims: Sequence[int], share_memory: bool = False) -> Any:
    """Like :func:`buffer_from_example` but returns torch tensors (shared-memory ones if asked).

    Shared tensors pickle to other processes as handles (torch.multiprocessing), so workers
    started with ``spawn`` or ``forkserver`` write into the same memory.
    """
    leading = tuple(int(d) for d in leading_dims)

    def alloc(x):
        arr = _leaf_array(x)
        t = torch.zeros(leading + arr.shape, dtype=torch_dtype(arr.dtype))
        return t.share_memory_() if share_memory else t

    return map_leaves(alloc, example)


def torchify(buf: Any) -> Any:
    """Zero-copy torch views of a (nested) numpy buffer."""
    return map_leaves(lambda x: torch.from_numpy(x) if isinstance(x, np.ndarray) else x, buf)


def numpify(buf: Any) -> Any:
    """Zero-copy numpy views of a (nested) CPU torch buffer."""
    return map_leaves(lambda x: x.numpy() if isinstance(x, torch.Tensor) else x, buf)


def buffer_to(buf: Any, device: Any) -> Any:
    """Move every tensor leaf to ``device`` (numpy leaves are converted first)."""
    return map_leaves(lambda x: (torch.as_tensor(x)).to(device), buf)


def buffer_method(buf: Any, method: str, *args, **kwargs) -> Any:
    """Call ``leaf.method(*args, **kwargs)`` on every leaf, keeping the structure."""
    return map_leaves(lambda x: getattr(x, method)(*args, **kwargs), buf)


def buffer_nbytes(buf: Any) -> int:
    total = 0

    def add(x):
        nonlocal total
        total += int(x.nelement() * x.element_size()) if isinstance(x, torch.Tensor) else int(np.asarray(x).nbytes)
        return x

    map_leaves(add, buf)
    return total


def get_leading(buf: Any) -> tuple:
    """Shape of the first leaf (used to read back leading dims)."""
    while is_namedtuple(buf):
        buf = next(x for x in buf if x is not None)
    return tuple(buf.shape)
