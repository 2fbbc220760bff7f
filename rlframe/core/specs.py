"""Specs: shape, dtype and bounds of every env, agent and buffer field, derived from gymnasium spaces.

A spec is what the rest of rlframe checks values against (DESIGN.md, "Shape checking"). Nested
spaces (``Dict``, ``Tuple``) become namedarraytuples of specs, with the same field names the
observation buffers use.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

import gymnasium as gym
import numpy as np

from rlframe.core.namedarraytuple import is_namedtuple, namedarraytuple
from rlframe.errors import ShapeMismatchError


@dataclass(frozen=True)
class Spec:
    """One array leaf: ``shape`` (without leading dims), ``dtype``, optional bounds.

    ``kind`` is the gymnasium space it came from ("box", "discrete", "multi_discrete",
    "multi_binary" or "array"); ``n`` holds Discrete's number of actions (and ``start``).
    """

    shape: Tuple[int, ...]
    dtype: np.dtype
    kind: str = "array"
    low: Any = None
    high: Any = None
    n: Optional[int] = None
    start: int = 0
    nvec: Any = field(default=None, compare=False)

    def zeros(self, leading: Tuple[int, ...] = ()) -> np.ndarray:
        return np.zeros(tuple(leading) + tuple(self.shape), dtype=self.dtype)

    def describe(self) -> str:
        s = f"shape {self.shape} {np.dtype(self.dtype).name}"
        if self.kind == "discrete":
            s += f" Discrete({self.n}{', start=' + str(self.start) if self.start else ''})"
        return s

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": np.dtype(self.dtype).name, "kind": self.kind, "n": self.n}


def field_name(key: Any) -> str:
    """A valid Python identifier for a Dict-space key (used as a namedarraytuple field)."""
    name = re.sub(r"\W", "_", str(key))
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = "f_" + name
    return name


def spec_from_space(space: gym.Space, name: str = "Observation") -> Any:
    """Spec (or namedarraytuple of specs for Dict/Tuple spaces) of a gymnasium space."""
    if isinstance(space, gym.spaces.Box):
        return Spec(tuple(space.shape), np.dtype(space.dtype), "box", space.low, space.high)
    if isinstance(space, gym.spaces.Discrete):
        return Spec((), np.dtype(np.int64), "discrete", n=int(space.n), start=int(space.start))
    if isinstance(space, gym.spaces.MultiDiscrete):
        return Spec(tuple(space.shape), np.dtype(np.int64), "multi_discrete", nvec=np.asarray(space.nvec))
    if isinstance(space, gym.spaces.MultiBinary):
        return Spec(tuple(np.atleast_1d(space.n)), np.dtype(np.int8), "multi_binary", 0, 1)
    if isinstance(space, gym.spaces.Dict):
        keys = list(space.spaces.keys())
        cls = namedarraytuple(name, [field_name(k) for k in keys])
        return cls(*(spec_from_space(space.spaces[k], f"{name}_{field_name(k)}") for k in keys))
    if isinstance(space, gym.spaces.Tuple):
        cls = namedarraytuple(name, [f"f{i}" for i in range(len(space.spaces))])
        return cls(*(spec_from_space(s, f"{name}_f{i}") for i, s in enumerate(space.spaces)))
    raise TypeError(
        f"rlframe has no spec for gymnasium space {type(space).__name__}; use Box, Discrete, "
        "MultiDiscrete, MultiBinary, Dict or Tuple (or wrap the env to produce one of those)."
    )


def to_structured(value: Any, spec: Any) -> Any:
    """Convert a gymnasium value (dict/tuple for Dict/Tuple spaces) into rlframe's namedarraytuple form."""
    if isinstance(spec, Spec):
        return value
    if isinstance(value, dict):
        keyed = {field_name(k): v for k, v in value.items()}
        return type(spec)(*(to_structured(keyed.get(f), s) for f, s in zip(spec._fields, spec)))
    return type(spec)(*(to_structured(v, s) for v, s in zip(value, spec)))


def example_from_spec(spec: Any) -> Any:
    """A zero-filled value matching ``spec`` (numpy leaves), for allocating buffers."""
    if isinstance(spec, Spec):
        return spec.zeros()
    return type(spec)(*(example_from_spec(s) for s in spec))


def validate(
    value: Any,
    spec: Any,
    component: str,
    field_: str = "observation",
    check_finite: bool = False,
    check_bounds: bool = False,
    where: str = "",
) -> None:
    """Raise :class:`ShapeMismatchError` unless ``value`` fits ``spec``.

    Checks shapes always (cheap tuple comparisons); bounds/Discrete range when ``check_bounds``;
    NaN and inf when ``check_finite`` (debug mode).
    """
    if not isinstance(spec, Spec):
        if is_namedtuple(spec):
            if isinstance(value, dict):
                value = to_structured(value, spec)
            if not (is_namedtuple(value) and tuple(value._fields) == tuple(spec._fields)):
                raise ShapeMismatchError(
                    component, field_, f"fields {list(spec._fields)}",
                    f"{type(value).__name__} {getattr(value, '_fields', '')}",
                    hint="return the structure the declared space describes.", detail=where,
                )
            for f, v, s in zip(spec._fields, value, spec):
                validate(v, s, component, f"{field_}.{f}", check_finite, check_bounds, where)
        return
    if isinstance(value, dict) or is_namedtuple(value):
        raise ShapeMismatchError(
            component, field_, tuple(spec.shape), f"a dict with keys {list(getattr(value, '_fields', value))}",
            detail=where, hint=f"the env declares {spec.describe()} for '{field_}' but returns a dict: declare a "
            "gymnasium.spaces.Dict observation space, or flatten the observation (gymnasium's FlattenObservation).",
        )
    shape = np.shape(value)
    if tuple(shape) != tuple(spec.shape):
        raise ShapeMismatchError(
            component, field_, tuple(spec.shape), tuple(shape), detail=where,
            hint=_shape_hint(field_, spec, shape),
        )
    if check_bounds or check_finite:
        arr = np.asarray(value)
        if check_finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = "NaN" if np.any(np.isnan(arr)) else "inf"
            raise ShapeMismatchError(
                component, field_, "finite values", f"{bad} in {arr.ravel()[:8].tolist()}", detail=where,
                hint="find where the env or model produces non-finite numbers (division by zero, overflow, log(0)).",
            )
        if check_bounds and spec.kind == "discrete":
            v = int(arr)
            if not spec.start <= v < spec.start + spec.n:
                raise ShapeMismatchError(
                    component, field_, f"an action in [{spec.start}, {spec.start + spec.n - 1}]", v, detail=where,
                    hint="the agent's output layer must have as many actions as the env's Discrete action space.",
                )
        if check_bounds and spec.kind in ("multi_discrete", "multi_binary"):
            high = np.asarray(spec.nvec) - 1 if spec.kind == "multi_discrete" else 1
            if np.any(arr < 0) or np.any(arr > high):
                raise ShapeMismatchError(
                    component, field_, f"values in [0, {np.asarray(high).tolist()}]", arr.tolist(), detail=where,
                    hint=f"produce values inside the declared {spec.kind.replace('_', ' ')} space.",
                )


def _shape_hint(field_: str, spec: Spec, shape: Tuple[int, ...]) -> str:
    if field_.startswith("observation"):
        return (
            f"the env declares observation shape {tuple(spec.shape)} but returns {tuple(shape)}: make the env's "
            "observation_space match what reset()/step() return (the model is built from the declared space)."
        )
    if field_.startswith("action"):
        return f"the agent must emit actions of shape {tuple(spec.shape)} for this env's action space."
    return f"produce values of shape {tuple(spec.shape)} for '{field_}'."


def specs_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Spec) and isinstance(b, Spec):
        return a.shape == b.shape and np.dtype(a.dtype) == np.dtype(b.dtype) and a.kind == b.kind and a.n == b.n
    if is_namedtuple(a) and is_namedtuple(b):
        return tuple(a._fields) == tuple(b._fields) and all(specs_equal(x, y) for x, y in zip(a, b))
    return False


def spec_to_json(spec: Any) -> Any:
    if isinstance(spec, Spec):
        return spec.to_json()
    return {f: spec_to_json(s) for f, s in zip(spec._fields, spec)}


def describe(spec: Any) -> str:
    if isinstance(spec, Spec):
        return spec.describe()
    return "{" + ", ".join(f"{f}: {describe(s)}" for f, s in zip(spec._fields, spec)) + "}"


# --- scalar fields of an env step (reward, terminated, truncated) --------------------------------------
def value_type(value: Any) -> str:
    """How a value is described in error messages: its type, and the value itself when short."""
    text = repr(value)
    return f"{type(value).__name__} {text}" if len(text) <= 40 else type(value).__name__


def _numeric_kind(value: Any) -> Optional[str]:
    """numpy dtype kind of a number (Python, numpy or 0-d array/tensor), None for anything else."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, (np.generic, np.ndarray)):
        return value.dtype.kind if value.dtype.kind in "biuf" else None
    if hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "numpy"):  # a torch tensor
        return "f" if value.dtype.is_floating_point else ("b" if str(value.dtype) == "torch.bool" else "i")
    return None


def check_reward(value: Any, component: str, where: str = "") -> None:
    """Raise :class:`ShapeMismatchError` unless ``value`` is a number (Python, numpy, or a 0-d array);
    numeric strings are refused too."""
    if _numeric_kind(value) is None:
        raise ShapeMismatchError(
            component, "reward", "a number (int, float or a numpy number)", value_type(value), detail=where,
            hint="step() must return the reward as a number: convert it in the env (or a wrapper), e.g. "
            "float(...); strings, None and other objects are not rewards.",
        )


def check_flag(value: Any, component: str, field_: str, where: str = "") -> None:
    """Raise :class:`ShapeMismatchError` unless ``value`` is a bool (Python or numpy) or an integer 0/1."""
    kind = _numeric_kind(value)
    ok = kind == "b" or (kind in ("i", "u") and np.ndim(value) == 0 and int(value) in (0, 1))
    if not ok:
        raise ShapeMismatchError(
            component, field_, "a bool (True/False)", value_type(value), detail=where,
            hint=f"step() must return '{field_}' as a bool (gymnasium API: obs, reward, terminated, truncated, "
            "info).",
        )
