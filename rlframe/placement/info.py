"""What a user needs to know about a netlist before training on it (``rlframe placement info``).

:func:`design_info` reports the counts (hard macros to place and fixed ones, soft macros, ports, standard
cells, nets), the canvas and grid and where each came from, the areas and the utilisation, and two kinds
of findings: ``dead_ends`` -- reasons why *every* episode would end before the last macro is placed (the
env refuses such a problem; :meth:`~rlframe.placement.state.PlacementProblem.dead_ends`) -- and
``warnings`` -- legal but suspicious settings (utilisation above 1, a first-feasible packing that already
dead-ends, a canvas or grid that fell back to a default).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from rlframe.placement.formats.netlist import STDCELL
from rlframe.placement.designs import load_design
from rlframe.placement.state import PlacementProblem


def design_info(netlist: Union[str, os.PathLike], plc: Union[str, os.PathLike, None] = None,
                grid: Optional[Tuple[int, int]] = None,
                canvas: Optional[Tuple[float, float]] = None) -> Dict[str, Any]:
    """Counts, canvas, grid, areas, utilisation, dead ends and warnings of ``netlist`` (a path or shipped
    name) with ``plc`` (default: the design's initial.plc) and optional ``grid`` / ``canvas`` overrides."""
    nl, pl = load_design(netlist, plc)
    p = PlacementProblem(nl, plc=pl, grid=grid, canvas=canvas)
    g = p.grid
    s = nl.summary()
    stdcell = nl.node_type == STDCELL
    stdcell_area = float(np.sum(nl.width[stdcell] * nl.height[stdcell]))
    cell_area = s["hard_macro_area"] + s["soft_macro_area"] + stdcell_area
    canvas_area = g.width * g.height
    hard_w, hard_h = p.macro_w, p.macro_h
    info: Dict[str, Any] = {
        "path": nl.path,
        "plc": pl.path if pl is not None else None,
        "hard_macros": s["hard_macros"],
        "hard_macros_to_place": int(p.n_macros),
        "fixed_hard_macros": int(len(p.fixed_hard)),
        "soft_macros": s["soft_macros"],
        "ports": s["ports"],
        "stdcells": s["stdcells"],
        "macro_pins": s["hard_macro_pins"] + s["soft_macro_pins"],
        "nets": s["nets"],
        "canvas": f"{g.width:g} x {g.height:g} um",
        "canvas_from": _source("canvas", canvas, pl, nl, p),
        "grid": f"{g.cols} x {g.rows} ({g.cell_width:g} x {g.cell_height:g} um cells)",
        "grid_from": _source("grid", grid, pl, nl, p),
        "blockages": len(p.blockages),
        "hard_macro_area": s["hard_macro_area"],
        "soft_macro_area": s["soft_macro_area"],
        "stdcell_area": stdcell_area,
        "utilization": cell_area / canvas_area,
        "hard_macro_utilization": s["hard_macro_area"] / canvas_area,
        "largest_macro": _size(hard_w, hard_h, np.argmax(hard_w * hard_h)) if p.n_macros else None,
        "smallest_macro": _size(hard_w, hard_h, np.argmin(hard_w * hard_h)) if p.n_macros else None,
    }
    warn = []
    for what in p.defaulted:
        warn.append(f"no {what} given (no .plc header, '# FP bbox' line or --{what}): a default was used "
                    "(the env refuses it); pass --plc or --" + what)
    if info["utilization"] > 1.0:
        warn.append(f"utilisation {info['utilization']:.2f} > 1: the cells cover more area than the canvas, "
                    "so the density cost will be high whatever the placement; enlarge the canvas")
    if p.n_macros == 0:
        warn.append("no movable hard macro: there is nothing for the env or the baselines to place")
    dead = p.dead_ends() if p.n_macros else []
    if not dead and p.n_macros and not p.packs():
        warn.append("placing every macro on its first feasible cell already dead-ends: the canvas is tight "
                    "for this grid, and many episodes will end early; try a finer grid or a larger canvas")
    info["dead_ends"] = dead
    info["warnings"] = warn
    return info


def _size(w: np.ndarray, h: np.ndarray, k) -> str:
    return f"{float(w[k]):g} x {float(h[k]):g} um"


def _source(what: str, given, pl, nl, p: PlacementProblem) -> str:
    if given is not None:
        return f"--{what}"
    if pl is not None and getattr(pl.header, what) is not None:
        return f".plc header ({pl.path})"
    if what == "canvas" and nl.canvas_bbox is not None:
        return "netlist '# FP bbox' line"
    return "default (none given)"
