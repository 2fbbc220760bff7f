"""Turning observations (a tensor or a namedarraytuple of tensors) into flat float features.

:class:`FlatObservationEncoder` remembers the observation shape it was built for and checks it on
every call through :func:`rlframe.core.leading_dims.infer_leading_dims`, so a model built for a
461-dim observation that is fed 365 raises :class:`~rlframe.errors.ShapeMismatchError` naming the
model class and both shapes, instead of torch's ``size mismatch, m1: [1 x 365], m2: [461 x 32]``.
Dict observations (namedarraytuples, e.g. the placement env's image planes plus ``action_mask``)
are flattened field by field and concatenated.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from rlframe.core.leading_dims import infer_leading_dims
from rlframe.core.namedarraytuple import is_namedtuple

ObservationShape = Union[Sequence[int], Mapping[str, Sequence[int]]]


def observation_shape_from_space(space: Any) -> ObservationShape:
    """``space.shape`` for array spaces; ``{field: shape}`` for gymnasium Dict/Tuple spaces
    (field names as rlframe's namedarraytuple observations spell them)."""
    import gymnasium as gym

    from rlframe.core.specs import field_name

    if isinstance(space, gym.spaces.Dict):
        out: Dict[str, Any] = {}
        for k, s in space.spaces.items():
            sub = observation_shape_from_space(s)
            if isinstance(sub, dict):
                raise TypeError(f"nested Dict observation field '{k}' is not supported by the flat encoders; "
                                "flatten it in an env wrapper.")
            out[field_name(k)] = sub
        return out
    if isinstance(space, gym.spaces.Tuple):
        return {f"f{i}": tuple(observation_shape_from_space(s)) for i, s in enumerate(space.spaces)}
    if isinstance(space, gym.spaces.Discrete):
        return ()
    return tuple(int(d) for d in space.shape)


def _normalise_shape(shape: ObservationShape) -> Union[Tuple[int, ...], Dict[str, Tuple[int, ...]]]:
    if isinstance(shape, Mapping):
        return {str(k): tuple(int(d) for d in v) for k, v in shape.items()}
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


class FlatObservationEncoder(nn.Module):
    """Flatten (and concatenate, for Dict observations) into ``[T*B, D]`` float features.

    Args:
        observation_shape: the shape the model is built for, or ``{field: shape}`` for Dict observations.
        component: name used in shape errors (the owning model's class name).
        fields: for Dict observations, which fields to use (default: all, in declaration order).
        scale: multiply inputs by this (e.g. 1/255 for uint8 images).

    ``forward(observation)`` returns ``(features, lead_dim, T, B)``.
    """

    def __init__(self, observation_shape: ObservationShape, component: str = "model",
                 fields: Sequence[str] = None, scale: float = 1.0):
        super().__init__()
        shape = _normalise_shape(observation_shape)
        self.component = component
        self.scale = float(scale)
        if isinstance(shape, dict):
            self.fields = tuple(fields) if fields is not None else tuple(shape.keys())
            missing = [f for f in self.fields if f not in shape]
            if missing:
                raise ValueError(f"{component}: fields {missing} are not in the observation ({list(shape)}).")
            self.field_shapes = {f: shape[f] for f in self.fields}
            self.output_size = int(sum(int(np.prod(s)) for s in self.field_shapes.values()))
        else:
            self.fields = None
            self.field_shapes = {"observation": shape}
            self.output_size = int(np.prod(shape)) if shape else 1
        self.observation_shape = shape

    def forward(self, observation: Any):
        if self.fields is None:
            if is_namedtuple(observation):
                from rlframe.errors import ShapeMismatchError

                raise ShapeMismatchError(
                    self.component, "observation", self.observation_shape, f"structure {observation._fields}",
                    hint="build the model from the env's Dict observation space (observation_shape={field: shape}).",
                )
            lead_dim, T, B, _ = infer_leading_dims(observation, self.observation_shape, self.component)
            x = observation.reshape(T * B, -1)
            return self._cast(x), lead_dim, T, B
        parts = []
        lead = None
        for f in self.fields:
            v = getattr(observation, f) if not isinstance(observation, Mapping) else observation[f]
            ld = infer_leading_dims(v, self.field_shapes[f], self.component, field=f"observation.{f}")
            if lead is None:
                lead = ld
            elif ld[:3] != lead[:3]:
                from rlframe.errors import ShapeMismatchError

                raise ShapeMismatchError(
                    self.component, f"observation.{f}", f"leading dims {tuple(lead[1:3])}",
                    f"leading dims {tuple(ld[1:3])}", hint="all observation fields must share their [T, B] dims.",
                )
            parts.append(self._cast(v.reshape(lead[1] * lead[2], -1)))
        lead_dim, T, B, _ = lead
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return x, lead_dim, T, B

    def _cast(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            x = x.float()
        if self.scale != 1.0:
            x = x * self.scale
        return x
