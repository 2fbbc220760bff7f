"""The metric names rlframe logs, and the reductions from trajectory infos and OptInfo to scalars.

Every tag here is documented in ``docs/metrics.md``; the x-axis of every TensorBoard scalar is
the number of environment steps taken so far (``time/env_steps``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Sequence

import numpy as np

# TrajInfo fields with their own tags (or none); every other numeric field is an "extra".
CORE_TRAJ_FIELDS = frozenset({"Return", "Length", "DiscountedReturn", "NonzeroRewards", "Terminated", "Truncated"})
# Extra TrajInfo fields that belong to the chip-placement group (DESIGN.md, "Logging and runs").
PLACEMENT_FIELDS = ("proxy_cost", "wirelength_cost", "density_cost", "congestion_cost", "hpwl")


def _mean(values: Sequence[float]) -> float:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


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


def traj_stats(traj_infos: Iterable[Any], group: str) -> Dict[str, float]:
    """Scalars of a set of finished episodes for tag group ``group`` ("rollout" or "eval").

    ``{group}/return_mean``, ``{group}/length_mean``; extra numeric fields (env_info values the
    collector copied into the TrajInfo) as ``placement/<name>`` for the placement fields of training
    episodes and ``{group}/<name>`` otherwise; the placement cost fields average only the episodes that
    placed every macro. Empty input gives an empty dict.
    """
    trajs = [_traj_dict(t) for t in traj_infos]
    if not trajs:
        return {}
    out = {
        f"{group}/return_mean": _mean([t.get("Return", float("nan")) for t in trajs]),
        f"{group}/length_mean": _mean([t.get("Length", float("nan")) for t in trajs]),
    }
    for name in _numeric_extras(trajs):
        tag_group = "placement" if (group == "rollout" and name in PLACEMENT_FIELDS) else group
        pool = [t for t in trajs if _complete_placement(t)] if name in PLACEMENT_FIELDS else trajs
        out[f"{tag_group}/{name}"] = _mean([t[name] for t in pool if name in t])
    return out


def _complete_placement(t: Dict[str, Any]) -> bool:
    """Whether an episode's placement costs mean anything: the placement env reports them as 0 when an
    episode ends before every macro is placed (a dead end, an infeasible action in penalty mode, a time
    limit), and averaging those zeros in would make a failing policy look better."""
    return not (t.get("dead_end") or t.get("infeasible_action") or t.get("Truncated"))


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
