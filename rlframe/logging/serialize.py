"""Turning a run's configuration into JSON (``params.json``) and into flat hyper-parameter tables.

Launch scripts pass whatever they built their objects from (dicts of numbers, strings, classes,
numpy scalars, dataclasses); :func:`to_jsonable` makes all of it JSON-safe without losing what it was:
classes become ``"module.QualName"``, arrays become lists, anything else its ``repr``.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import PurePath
from typing import Any, Dict, Mapping

import numpy as np


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-serialisable copy of ``value`` (nested dicts, lists, numbers, strings, None)."""
    if _depth > 32:
        return repr(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else str(f)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), _depth + 1)
    if hasattr(value, "_asdict"):  # namedtuple
        return {k: to_jsonable(v, _depth + 1) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # torch scalars
        return to_jsonable(value.item(), _depth + 1)
    return repr(value)


def flatten(params: Mapping[str, Any], prefix: str = "", sep: str = "/") -> Dict[str, Any]:
    """Flatten nested dicts into ``{"a/b": v}``; lists become strings (TensorBoard's hparams take scalars)."""
    out: Dict[str, Any] = {}
    for k, v in params.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key, sep))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        elif v is None:
            out[key] = "None"
        else:
            out[key] = str(v)
    return out
