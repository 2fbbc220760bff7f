"""Canvas and grid for a netlist that carries none.

* Canvas: a square of side ``sqrt(area / utilization)`` where ``area`` is the hard-macro,
  soft-macro and standard-cell area -- the rule of Circuit Training's cost binary with its
  utilisation 0.6 (the TILOS Ariane133 canvas, 1433.406 um, is exactly ``sqrt(1232791.63 /
  0.6)``), widened if the largest macro would not fit.
* Grid: Circuit Training's ``grid_size_selection.py``: every ``cols x rows`` in ``[10, 128)``
  with 500 to 4096 cells and cells of aspect ratio at most 1.5 is scored by
  ``empty_ratio + (1 - horizontal_waste) + (1 - vertical_waste)`` -- the share of grid cells left
  empty when the hard macros are packed first-fit on cell centres, largest first, and the space
  wasted when the macro widths (heights) are laid side by side on cell centres -- and among the
  choices within 5 % of the best score the one with the highest score per cell wins. Packing is
  only tried for the 64 best choices by waste (the waste terms dominate the score and packing is
  the expensive part); a choice whose packing fails is dropped.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.formats.netlist import HARD_MACRO, SOFT_MACRO, STDCELL, Netlist

#: Circuit Training's defaults (``grid_size_selection.py`` flags).
MIN_NUM, MAX_NUM = 10, 128
MIN_CELLS, MAX_CELLS = 500, 4096
MAX_ASPECT = 1.5
TOLERANCE = 0.05
_PACK_CANDIDATES = 64


def choose_canvas(netlist: Netlist, utilization: float = 0.6) -> Tuple[float, float]:
    """Square canvas whose area is the design's area over ``utilization``."""
    if not 0.0 < utilization <= 1.0:
        raise ConfigError(f"utilization must be in (0, 1], got {utilization}")
    kinds = np.isin(netlist.node_type, (HARD_MACRO, SOFT_MACRO, STDCELL))
    area = float(np.sum(netlist.width[kinds] * netlist.height[kinds]))
    if area <= 0:
        raise ConfigError(
            f"netlist {netlist.path} has no macro or standard-cell area to size a canvas from: "
            "pass --canvas W H")
    side = math.sqrt(area / utilization)
    macros = np.isin(netlist.node_type, (HARD_MACRO, SOFT_MACRO))
    if macros.any():
        side = max(side, float(netlist.width[macros].max()), float(netlist.height[macros].max()))
    return side, side


def _span_and_extra(seg: float, cell: float) -> Tuple[int, float]:
    # the smallest odd number of cells centred on a cell centre that holds the segment
    i = max(0, math.ceil((seg / cell - 1) / 2))
    span = 2 * i + 1
    extra_space = (span * cell - seg) / 2.0
    return span, cell - extra_space


def waste_ratio(segments: Sequence[float], cell: float) -> float:
    """Circuit Training's ``get_waste_ratio``: segments laid side by side, each centred on a
    cell centre; the share of the spanned length they leave empty."""
    total = float(sum(segments))
    index, prev_extra = 0, 0.0
    for seg in segments:
        span, extra = _span_and_extra(seg, cell)
        index += span
        if extra + prev_extra <= cell:
            index -= 1
        prev_extra = extra
    spanned = (index + 1) * cell
    return (spanned - total) / spanned


def pack_first_fit(widths: np.ndarray, heights: np.ndarray, canvas: Tuple[float, float],
                   grid: Tuple[int, int]) -> Optional[float]:
    """Place macros (in the given order) on the first free cell centre, row 0 first; returns
    the share of grid cells no macro touches, or None when a macro does not fit."""
    W, H = canvas
    cols, rows = grid
    cw, ch = W / cols, H / rows
    cx = (np.arange(cols) + 0.5) * cw
    cy = (np.arange(rows) + 0.5) * ch
    n = len(widths)
    px, py = np.zeros(n), np.zeros(n)
    for i, (w, h) in enumerate(zip(widths, heights)):
        okx = (cx - w / 2 >= -1e-9) & (cx + w / 2 <= W + 1e-9)
        oky = (cy - h / 2 >= -1e-9) & (cy + h / 2 <= H + 1e-9)
        free = oky[:, None] & okx[None, :]
        if i:
            # cells where this macro would overlap a placed one: [rows, i] @ [i, cols]
            bx = np.abs(cx[None, :] - px[:i, None]) < (w + widths[:i, None]) / 2 - 1e-9
            by = np.abs(cy[None, :] - py[:i, None]) < (h + heights[:i, None]) / 2 - 1e-9
            free &= (by.T.astype(np.float32) @ bx.astype(np.float32)) == 0
        hit = np.flatnonzero(free.ravel())
        if not len(hit):
            return None
        r, c = divmod(int(hit[0]), cols)
        px[i], py[i] = cx[c], cy[r]
    placed = zip(px, py, widths, heights)
    used = np.zeros((rows, cols), bool)
    for px, py, pw, ph in placed:
        c0, c1 = int(math.floor((px - pw / 2) / cw + 1e-9)), int(math.ceil((px + pw / 2) / cw - 1e-9))
        r0, r1 = int(math.floor((py - ph / 2) / ch + 1e-9)), int(math.ceil((py + ph / 2) / ch - 1e-9))
        used[max(r0, 0):min(r1, rows), max(c0, 0):min(c1, cols)] = True
    return float(1.0 - used.mean())


def choose_grid(netlist: Netlist, canvas: Tuple[float, float]) -> Tuple[int, int]:
    """Grid columns and rows for ``canvas`` (see the module docstring). Without hard macros:
    the squarest grid of at least 500 cells."""
    W, H = canvas
    hard = netlist.hard_macro_indices
    if not len(hard):
        cols = max(MIN_NUM, math.ceil(math.sqrt(MIN_CELLS * W / H)))
        rows = max(MIN_NUM, math.ceil(MIN_CELLS / cols))
        return cols, rows
    area = netlist.width[hard] * netlist.height[hard]
    order = hard[np.lexsort((hard, -area))]
    widths, heights = netlist.width[order], netlist.height[order]
    choices = []
    hor, ver = {}, {}
    for rows in range(MIN_NUM, MAX_NUM):
        for cols in range(MIN_NUM, MAX_NUM):
            if not MIN_CELLS <= cols * rows <= MAX_CELLS:
                continue
            cw, ch = W / cols, H / rows
            if max(cw / ch, ch / cw) > MAX_ASPECT:
                continue
            if cols not in hor:
                hor[cols] = waste_ratio(widths, cw)
            if rows not in ver:
                ver[rows] = waste_ratio(heights, ch)
            choices.append(((1 - hor[cols]) + (1 - ver[rows]), cols, rows))
    choices.sort(key=lambda c: (-c[0], c[1] * c[2]))
    scored = []
    for waste_score, cols, rows in choices[:_PACK_CANDIDATES]:
        empty = pack_first_fit(widths, heights, canvas, (cols, rows))
        if empty is not None:
            scored.append((empty + waste_score, cols, rows))
    if not scored:
        raise ConfigError(
            f"no grid of {MIN_CELLS}-{MAX_CELLS} cells lets the {len(hard)} hard macros of "
            f"{netlist.path} fit on the {W:g} x {H:g} canvas: pass a larger --canvas, a lower "
            "--utilization or --grid COLS ROWS")
    best = max(s[0] for s in scored)
    qualified = [s for s in scored if s[0] >= best * (1 - TOLERANCE)]
    _, cols, rows = max(qualified, key=lambda s: (s[0] / (s[1] * s[2]), -s[1] * s[2]))
    return cols, rows
