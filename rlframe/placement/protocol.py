"""The evaluation protocol: how every placement result in rlframe is scored (docs/placement.md).

A placer decides the hard macros. The soft macros (standard-cell clusters) are then placed by the
project's force-directed placement (:mod:`rlframe.placement.force_directed`) in one of two regimes,
and the proxy cost is computed with the .plc header's canvas, grid and routing parameters and the
registered cost terms' default weights (1 / 0.5 / 0.5, :mod:`rlframe.placement.cost`), every component
reported:

* ``"centre"`` -- FD from the canvas centre: Circuit Training's default at the end of every episode, and
  what Circuit Training and TILOS publish (Mirhoseini et al., Nature 2021; Cheng et al., ISPD 2023).
  The soft macros' incoming positions do not matter, so re-scoring a written result gives the same number.
* ``"refine"`` -- FD from the soft macros' current positions, kept only if it lowers the proxy cost
  (Circuit Training's coordinate-descent placer, ``accept_bad_stdcell_moves=False``). Not idempotent:
  refining a refined placement may lower the cost further, so a written result is re-scored with ``"none"``.
* ``"none"`` -- the soft macros stay where they are (scores a .plc exactly as written).

:func:`evaluate` scores a netlist and .plc; :func:`score_positions` is the same rule for node arrays
(used by the baselines and the env's finisher); ``rlframe placement cost --fd centre|refine|none`` is the
command line.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.cost import PlacementCost, term_weights
from rlframe.placement.force_directed import FDSchedule, ForceDirectedPlacer
from rlframe.placement.formats.netlist import Netlist
from rlframe.placement.formats.plc import Placement

#: The soft-macro regimes, the protocol's default first.
FD_REGIMES = ("centre", "refine", "none")

Weights = Union[None, Sequence[float], Mapping[str, float]]


@dataclasses.dataclass
class Evaluation:
    """A scored placement: the regime, every cost component and the node positions it was scored at."""

    fd: str
    costs: Dict[str, float]      # hpwl, each registered term (<name>_cost), proxy_cost, overlap
    x: np.ndarray
    y: np.ndarray
    orientation: np.ndarray
    #: refine only: whether FD from the current positions was kept (it lowered the proxy cost) ...
    refine_kept: Optional[bool] = None
    #: ... and the proxy cost that FD reached (kept or not)
    refine_proxy_cost: Optional[float] = None


def check_regime(fd: str) -> str:
    if fd not in FD_REGIMES:
        raise ConfigError(f"fd={fd!r}: choose one of {', '.join(FD_REGIMES)} (centre: FD from the canvas "
                          "centre, Circuit Training's default; refine: FD from the current positions, kept "
                          "if better; none: soft macros as given)")
    return fd


def score_positions(pc: PlacementCost, placer: Optional[ForceDirectedPlacer], x: np.ndarray, y: np.ndarray,
                    orientation: np.ndarray, fd: str = "centre", weights: Weights = None,
                    schedule: Optional[FDSchedule] = None) -> Evaluation:
    """Score the node positions ``x, y, orientation`` under regime ``fd`` (see the module docstring).

    ``placer`` is the FD placer of ``pc``'s netlist and canvas (None when the netlist has no soft macro:
    every regime is then ``"none"``); ``schedule`` overrides the FD schedule (its ``use_current_loc`` is set
    by the regime). ``pc`` is left at the scored positions.
    """
    check_regime(fd)
    w = term_weights(weights)
    sch = schedule or FDSchedule()

    def at(px, py) -> Evaluation:
        pc.set_positions(px, py, orientation)
        return Evaluation(fd, pc.evaluate(*w), pc.x.copy(), pc.y.copy(), np.array(orientation))

    if fd == "none" or placer is None:
        return at(x, y)
    if fd == "centre":
        return at(*placer.run(x, y, orientation, dataclasses.replace(sch, use_current_loc=False)))
    before = at(x, y)
    cur = at(*placer.run(x, y, orientation, dataclasses.replace(sch, use_current_loc=True)))
    kept = cur.costs["proxy_cost"] < before.costs["proxy_cost"]
    if not kept:
        pc.set_positions(before.x, before.y, orientation)
    out = cur if kept else before
    out.refine_kept, out.refine_proxy_cost = kept, cur.costs["proxy_cost"]
    return out


def fd_placer_for(pc: PlacementCost) -> Optional[ForceDirectedPlacer]:
    """The FD placer of ``pc``'s netlist and canvas (None without soft macros)."""
    if len(pc.netlist.soft_macro_indices) == 0:
        return None
    return ForceDirectedPlacer(pc.netlist, (pc.grid.width, pc.grid.height))


def evaluate(netlist: Union[Netlist, str, os.PathLike], plc: Union[Placement, str, os.PathLike, None] = None,
             fd: str = "centre", weights: Weights = None, **overrides) -> Evaluation:
    """Score a placement under the protocol.

    Args:
        netlist: a :class:`Netlist`, a netlist path or a shipped design name.
        plc: the placement (a path, a file name in a shipped design's folder, or a :class:`Placement`);
            None: the design's ``initial.plc`` if any, else the netlist's own coordinates.
        fd: ``"centre"`` (default), ``"refine"`` or ``"none"``.
        weights: proxy-cost weights (default: the registered terms' own, 1 / 0.5 / 0.5).
        **overrides: ``canvas``, ``grid``, ``routes_per_micron``, ``macro_routing_alloc``, ``smooth_range``
            overriding the .plc header (None: keep the header's).
    """
    from rlframe.placement.designs import load_design

    nl, pl = load_design(netlist, plc)
    if pl is not None:
        pc = PlacementCost.from_plc(nl, pl, **overrides)
    else:
        pc = PlacementCost(nl, **{k: v for k, v in overrides.items() if v is not None})
    return score_positions(pc, fd_placer_for(pc), pc.x, pc.y, pc.orientation, fd, weights)
