"""The metric names rlframe logs, and the reductions from trajectory infos and OptInfo to scalars.

Every tag here is documented in ``docs/metrics.md``; the x-axis of every TensorBoard scalar is
the number of environment steps taken so far (``time/env_steps``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from rlframe.envs.base import EpisodeMetrics

# TrajInfo fields with their own tags (or none); every other numeric field is an "extra".
CORE_TRAJ_FIELDS = frozenset({"Return", "Length", "DiscountedReturn", "NonzeroRewards", "Terminated", "Truncated"})


def mean_finite(values: Sequence[float]) -> float:
    """Mean of the finite values (None, NaN and inf left out); NaN when there is none (not logged)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


_mean = mean_finite


def _traj_dict(t: Any) -> Dict[str, Any]:
    if isinstance(t, dict):
        return t
    if hasattr(t, "to_dict"):
        return t.to_dict()
    return {k: v for k, v in vars(t).items() if not k.startswith("_")}


def _numeric_extras(trajs: List[Dict[str, Any]]) -> List[str]:
    names: List[str] = []
    for t in trajs:
        for k, v in t.items():
            if k in CORE_TRAJ_FIELDS or k in names:
                continue
            if isinstance(v, (bool, np.bool_)):
                continue
            if isinstance(v, (int, float, np.integer, np.floating)):
                names.append(k)
    return names


def traj_stats(traj_infos: Iterable[Any], group: str, metrics: Optional[EpisodeMetrics] = None) -> Dict[str, float]:
    """Scalars of a set of finished episodes for tag group ``group`` ("rollout" or "eval").

    ``{group}/return_mean``, ``{group}/length_mean`` and ``{group}/<name>`` = mean of each extra numeric
    field (env_info values the collector copied into the TrajInfo); then the env's own hook
    (``metrics.scalars``, :class:`~rlframe.envs.base.EpisodeMetrics`) may regroup, filter or add tags.
    Empty input gives an empty dict.
    """
    trajs = [_traj_dict(t) for t in traj_infos]
    if not trajs:
        return {}
    out = {
        f"{group}/return_mean": _mean([t.get("Return", float("nan")) for t in trajs]),
        f"{group}/length_mean": _mean([t.get("Length", float("nan")) for t in trajs]),
    }
    for name in _numeric_extras(trajs):
        out[f"{group}/{name}"] = _mean([t[name] for t in trajs if name in t])
    return out if metrics is None else metrics.scalars(trajs, group, out)


def opt_stats(opt_infos: Iterable[Any]) -> Dict[str, float]:
    """``train/<field>`` = mean over every gradient step of every iteration in the interval.

    Each OptInfo is a namedtuple whose fields are lists (one entry per gradient step) or scalars.
    Fields with no finite value are left out.
    """
    acc: Dict[str, List[float]] = {}
    for info in opt_infos:
        if info is None:
            continue
        items = info._asdict().items() if hasattr(info, "_asdict") else dict(info).items()
        for k, v in items:
            vals = acc.setdefault(k, [])
            if isinstance(v, (list, tuple, np.ndarray)):
                vals.extend(float(x) for x in np.asarray(v, dtype=float).ravel())
            elif hasattr(v, "detach"):
                vals.extend(float(x) for x in v.detach().cpu().reshape(-1).tolist())
            elif v is not None:
                vals.append(float(v))
    out = {}
    for k, vals in acc.items():
        m = _mean(vals)
        if math.isfinite(m):
            out[f"train/{k}"] = m
    return out
