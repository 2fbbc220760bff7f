"""Leading-dims helpers for models: accept ``[...]``, ``[B, ...]`` or ``[T, B, ...]`` inputs.

Unlike rlpyt's, :func:`infer_leading_dims` checks the trailing dims against the shape the model
was built for and raises :class:`ShapeMismatchError` naming the model, instead of letting a matmul
fail with ``size mismatch, m1: [1 x 365], m2: [461 x 32]``.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

from rlframe.errors import ShapeMismatchError


def infer_leading_dims(
    tensor: torch.Tensor, expected_shape: Sequence[int], component: str = "model", field: str = "observation"
) -> Tuple[int, int, int, Tuple[int, ...]]:
    """Return ``(lead_dim, T, B, shape)`` for ``tensor`` whose trailing dims must equal ``expected_shape``.

    ``lead_dim`` is 0, 1 or 2 (no leading dims, ``[B]``, ``[T, B]``).
    """
    expected = tuple(int(d) for d in expected_shape)
    shape = tuple(tensor.shape)
    n = len(expected)
    lead_dim = len(shape) - n
    if lead_dim < 0 or lead_dim > 2 or shape[lead_dim:] != expected:
        raise ShapeMismatchError(
            component,
            field,
            expected,
            shape[max(lead_dim, 0):] if 0 <= lead_dim <= 2 else shape,
            detail=f"input tensor of shape {shape}; allowed are {expected}, [B, *{expected}] or [T, B, *{expected}]",
            hint=f"the model was built for {field} shape {expected}: build it from the env's actual "
            f"{field} space, or fix the env so that it emits what it declares.",
        )
    if lead_dim == 2:
        T, B = shape[0], shape[1]
    elif lead_dim == 1:
        T, B = 1, shape[0]
    else:
        T, B = 1, 1
    return lead_dim, T, B, expected


def restore_leading_dims(tensors, lead_dim: int, T: int = 1, B: int = 1):
    """Reshape outputs of leading size ``T*B`` back to ``[T, B, ...]``, ``[B, ...]`` or ``[...]``."""
    is_seq = isinstance(tensors, (tuple, list))
    tensors = tensors if is_seq else (tensors,)
    if lead_dim == 2:
        out = tuple(t.view((T, B) + t.shape[1:]) for t in tensors)
    elif lead_dim == 0:
        out = tuple(t.squeeze(0) for t in tensors)
    else:
        out = tuple(tensors)
    return out if is_seq else out[0]
