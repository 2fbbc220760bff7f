"""Sequential macro placement on a grid: the state shared by the env and the baselines.

Circuit Training's formulation (Mirhoseini et al., Nature 2021): hard macros are placed one at a
time, largest area first, each with its centre on the centre of a grid cell; a cell is feasible
when the macro, centred there, lies inside the canvas and overlaps no macro placed before it, no
fixed macro and no blockage. MaskPlace (Lai et al., NeurIPS 2022) adds the *wire mask*: for every
cell, how much the half-perimeter wirelength (HPWL) grows if the current macro goes there.

Two classes:

* :class:`PlacementProblem` -- everything that does not change during an episode, computed once
  per netlist and settings: the placement order, macro sizes, the per-macro pin offsets of every
  net it touches, the net bounding boxes at the start of an episode, the obstacles.
* :class:`PlacementState` -- one episode: which macros are placed where, the feasibility mask of
  the current macro (updated incrementally while consecutive macros have the same size), the
  wire mask, a grid occupancy map, and the *placed-net HPWL*.

**Placed-net HPWL.** During an episode the HPWL counts, for every net, the bounding box of its
*active* nodes: ports, soft macros (at their initial positions) and their pins, fixed hard macros
and the pins of hard macros placed so far. Unplaced hard macros do not count (as in MaskPlace).
Placing a macro only extends bounding boxes, so the increase is exact, cheap (the nets of one
macro) and equals the wire-mask value of the chosen cell. At the end of an episode, when every
hard macro is placed, it is the HPWL of the full netlist with the soft macros where they started.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.placement.cost import COST_TERMS, PlacementCost, _ranges, term_fields, term_weights
from rlframe.placement.designs import resolve_design
from rlframe.placement.geometry import Grid, oriented_size, rotate_offsets
from rlframe.placement.formats.netlist import Netlist, read_netlist
from rlframe.placement.formats.plc import Placement, read_plc

try:   # the per-step updates compiled (an install requirement; without it numpy, same values)
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

_NETLIST_CACHE: Dict[Tuple[str, float], Netlist] = {}


def load_netlist(path: str) -> Netlist:
    """``read_netlist`` with a per-process cache keyed by path and modification time (netlists
    are never modified in place by rlframe, so envs in one process can share one)."""
    key = (os.path.abspath(path), os.path.getmtime(path))
    nl = _NETLIST_CACHE.get(key)
    if nl is None:
        nl = _NETLIST_CACHE[key] = read_netlist(path)
    return nl


def placement_order(netlist: Netlist, macros: np.ndarray, width: np.ndarray,
                    height: np.ndarray) -> np.ndarray:
    """``macros`` sorted by area, largest first; ties keep ascending node index (stable)."""
    area = width[macros] * height[macros]
    return macros[np.argsort(-area, kind="stable")]


class PlacementProblem:
    """The static part of a placement episode (see the module docstring).

    Args:
        netlist: a :class:`Netlist`, a netlist path or a shipped design name.
        plc: a ``.plc`` path or :class:`Placement` giving the canvas, grid, routing settings,
            blockages, fixed flags and the initial positions of soft macros, ports and fixed
            macros. ``None``: the design's own ``initial.plc`` when ``netlist`` is a shipped name
            or a file next to one, else the netlist's coordinates and the cost's defaults.
        grid: ``(cols, rows)`` overriding the .plc header.
        canvas: ``(width, height)`` overriding the .plc header.
        fixed_macros: hard-macro node indices that are *not* placed (obstacles at their initial
            position); default: those with ``fixed = 1`` in the .plc.
    """

    def __init__(self, netlist: Union[Netlist, str, os.PathLike],
                 plc: Union[Placement, str, os.PathLike, None] = None,
                 grid: Optional[Tuple[int, int]] = None,
                 canvas: Optional[Tuple[float, float]] = None,
                 fixed_macros: Optional[Sequence[int]] = None,
                 use_default_plc: bool = True):
        if not isinstance(netlist, Netlist):
            net_path, default_plc = resolve_design(netlist)
            netlist = load_netlist(net_path)
            if plc is None and use_default_plc:
                plc = default_plc
        self.netlist = nl = netlist
        self.plc_path: Optional[str] = None
        overrides = dict(grid=tuple(grid) if grid is not None else None,
                         canvas=tuple(canvas) if canvas is not None else None)
        blockages = list(nl.blockages)
        pl = None if plc is None else plc if isinstance(plc, Placement) else read_plc(plc)
        #: settings no argument, .plc header or netlist gave, so the cost's defaults were used
        #: (``"canvas"``: square of side sqrt(area / 0.6); ``"grid"``: 10 x 10)
        self.defaulted: Tuple[str, ...] = tuple(
            name for name, given in (
                ("canvas", canvas is not None or nl.canvas_bbox is not None
                 or (pl is not None and pl.header.canvas is not None)),
                ("grid", grid is not None or (pl is not None and pl.header.grid is not None)))
            if not given)
        if pl is not None:
            self.plc_path = pl.path
            self.cost = PlacementCost.from_plc(nl, pl, **overrides)
            _, _, _, fixed = pl.apply(nl)
            for b in pl.header.blockages:
                if b not in blockages:
                    blockages.append(b)
        else:
            self.cost = PlacementCost(nl, **{k: v for k, v in overrides.items() if v is not None})
            fixed = nl.fixed.copy()
        pc = self.cost
        self.grid: Grid = pc.grid
        self.x0 = pc.x.copy()
        self.y0 = pc.y.copy()
        self.orientation0 = pc.orientation.copy()
        self.blockages = [tuple(map(float, b)) for b in blockages]

        hard = nl.hard_macro_indices
        if fixed_macros is None:
            fixed_hard = hard[fixed[hard]]
        else:
            fixed_hard = np.asarray(sorted(set(int(i) for i in fixed_macros)), np.int64)
            bad = fixed_hard[~np.isin(fixed_hard, hard)]
            if len(bad):
                raise ValueError(f"fixed_macros: node(s) {bad.tolist()} are not hard macros")
        self.fixed_hard = fixed_hard
        w, h = oriented_size(nl, self.orientation0)
        self.node_w, self.node_h = w, h
        movable = hard[~np.isin(hard, fixed_hard)]
        self.order = placement_order(nl, movable, w, h)          # node indices, placement order
        self.n_macros = len(self.order)
        self.macro_w = w[self.order]
        self.macro_h = h[self.order]
        self.rank_of_node = np.full(nl.n_nodes, -1, np.int64)
        self.rank_of_node[self.order] = np.arange(self.n_macros)

        # obstacles that exist from the start: fixed hard macros and blockages (x, y, w, h)
        obs = [(self.x0[i], self.y0[i], w[i], h[i]) for i in fixed_hard]
        obs += [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1])
                for b in self.blockages]
        self.static_obstacles = np.asarray(obs, np.float64).reshape(-1, 4)

        self.cx, self.cy = self.grid.centers()
        self.col_x = (np.arange(self.grid.cols) + 0.5) * self.grid.cell_width
        self.row_y = (np.arange(self.grid.rows) + 0.5) * self.grid.cell_height
        self.col_edges, self.row_edges = self.grid.col_edges(), self.grid.row_edges()
        self.cell_w, self.cell_h = self.grid.cell_width, self.grid.cell_height
        self.eps = 1e-9 * (self.grid.width + self.grid.height)
        self.hpwl_norm = (self.grid.width + self.grid.height) * max(float(nl.net_weight.sum()), 1e-12)
        self._build_nets()

    # ----- nets -----------------------------------------------------------------------------
    def _build_nets(self) -> None:
        nl = self.netlist
        nodes = nl.net_nodes
        net_of = np.repeat(np.arange(nl.n_nets), nl.net_degree)
        body = np.where(nl.pin_parent[nodes] >= 0, nl.pin_parent[nodes], nodes)
        par_or = self.orientation0[body]
        dx, dy = rotate_offsets(nl.pin_x_offset[nodes], nl.pin_y_offset[nodes], par_or)
        is_pin = nl.pin_parent[nodes] >= 0
        dx, dy = np.where(is_pin, dx, 0.0), np.where(is_pin, dy, 0.0)
        rank = self.rank_of_node[body]
        movable = rank >= 0
        # base bounding boxes: every entry except those of movable hard macros
        ex, ey = self.x0[nodes], self.y0[nodes]
        inf = np.inf
        at = nl.net_ptr[:-1]
        if len(nodes):
            self.base_xmin = np.minimum.reduceat(np.where(movable, inf, ex), at)
            self.base_xmax = np.maximum.reduceat(np.where(movable, -inf, ex), at)
            self.base_ymin = np.minimum.reduceat(np.where(movable, inf, ey), at)
            self.base_ymax = np.maximum.reduceat(np.where(movable, -inf, ey), at)
        else:
            self.base_xmin = self.base_ymin = np.zeros(0)
            self.base_xmax = self.base_ymax = np.zeros(0)
        self.net_w = nl.net_weight.astype(np.float64)
        # per movable macro, per net it touches: min/max pin offsets (CSR by placement rank)
        m = np.flatnonzero(movable)
        key_r, key_n = rank[m], net_of[m]
        order = np.lexsort((key_n, key_r))
        m, key_r, key_n = m[order], key_r[order], key_n[order]
        if len(m):
            new = np.ones(len(m), bool)
            new[1:] = (key_r[1:] != key_r[:-1]) | (key_n[1:] != key_n[:-1])
            at = np.flatnonzero(new)
            self.g_net = key_n[at]
            g_rank = key_r[at]
            self.g_dxmin = np.minimum.reduceat(dx[m], at)
            self.g_dxmax = np.maximum.reduceat(dx[m], at)
            self.g_dymin = np.minimum.reduceat(dy[m], at)
            self.g_dymax = np.maximum.reduceat(dy[m], at)
        else:
            self.g_net = g_rank = np.zeros(0, np.int64)
            self.g_dxmin = self.g_dxmax = self.g_dymin = self.g_dymax = np.zeros(0)
        self.g_w = self.net_w[self.g_net]
        self.g_ptr = np.searchsorted(g_rank, np.arange(self.n_macros + 1))
        # per rank, the views every step reads (slicing six arrays costs more than a step's update)
        self._group_views = [tuple(a[self.groups(k)] for a in (
            self.g_net, self.g_dxmin, self.g_dxmax, self.g_dymin, self.g_dymax, self.g_w))
            for k in range(self.n_macros)]
        self._initial_hpwl: Optional[float] = None

    def groups(self, k: int) -> slice:
        """Slice of the per-(macro, net) arrays ``g_*`` for the macro of placement rank ``k``."""
        return slice(int(self.g_ptr[k]), int(self.g_ptr[k + 1]))

    def group_arrays(self, k: int) -> Tuple[np.ndarray, ...]:
        """``(g_net, g_dxmin, g_dxmax, g_dymin, g_dymax, g_w)[groups(k)]``, views made once."""
        return self._group_views[k]

    @property
    def initial_hpwl(self) -> float:
        """The placed-net HPWL at the start of an episode (every box from the base entries)."""
        if self._initial_hpwl is None:
            self._initial_hpwl = float(np.sum(
                _span(self.base_xmin, self.base_xmax, self.base_ymin, self.base_ymax) * self.net_w))
        return self._initial_hpwl

    # ----- feasibility ----------------------------------------------------------------------
    def hits(self, w: float, h: float, rects: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per obstacle ``(x, y, w, h)``: which grid rows / columns a ``w x h`` macro centred on
        a cell centre there would overlap with positive area (``[n, rows]``, ``[n, cols]``)."""
        rows = np.abs(self.row_y[None, :] - rects[:, 1:2]) < (h + rects[:, 3:4]) / 2 - self.eps
        cols = np.abs(self.col_x[None, :] - rects[:, 0:1]) < (w + rects[:, 2:3]) / 2 - self.eps
        return rows, cols

    def dead_ends(self) -> List[str]:
        """Why *every* episode would end before the last macro is placed (empty: no such reason found):
        a macro that fits in no cell of the empty canvas (larger than the canvas, or than the room the
        blockages and fixed macros leave, or off every cell centre of a coarse grid), more macros than grid
        cells (two macros never share a cell centre), or more hard-macro area than free canvas area."""
        out: List[str] = []
        g, names = self.grid, self.netlist.names
        sizes = np.stack([self.macro_w, self.macro_h], 1)
        for w, h in np.unique(sizes, axis=0):
            free = self.fits_canvas(w, h)
            if len(self.static_obstacles):
                rows, cols = self.hits(w, h, self.static_obstacles)
                free &= ~((rows.T.astype(np.float32) @ cols.astype(np.float32)) > 0)
            if not free.any():
                who = self.order[(sizes[:, 0] == w) & (sizes[:, 1] == h)]
                out.append(f"hard macro {names[int(who[0])]!r} ({w:g} x {h:g} um"
                           + (f", and {len(who) - 1} more of that size" if len(who) > 1 else "")
                           + f") fits in no cell of the empty {g.width:g} x {g.height:g} canvas on the "
                           f"{g.cols} x {g.rows} grid: enlarge the canvas, use a finer grid or remove blockages")
        if self.n_macros > g.n_cells:
            out.append(f"{self.n_macros} macros to place but only {g.n_cells} grid cells (each macro takes a "
                       "cell centre of its own): use a finer grid")
        fixed_area = float(np.sum(self.node_w[self.fixed_hard] * self.node_h[self.fixed_hard]))
        blocked = sum((b[2] - b[0]) * (b[3] - b[1]) for b in self.blockages)
        need = float(np.sum(self.macro_w * self.macro_h))
        room = g.width * g.height - fixed_area - blocked
        if need > room:
            out.append(f"the hard macros to place cover {need:g} um^2 but the canvas leaves {room:g} um^2 "
                       "(canvas minus fixed macros and blockages): enlarge the canvas")
        return out

    def packs(self) -> bool:
        """Whether placing every macro on its first feasible cell (lowest index) succeeds: a cheap probe;
        False means episodes will often dead-end (a tight canvas or a coarse grid), not that all will."""
        st = PlacementState(self)
        while not st.done:
            m = st.mask()
            if not m.any():
                return False
            st.place(int(np.argmax(m)))
        return True

    def fits_canvas(self, w: float, h: float) -> np.ndarray:
        """``[rows, cols]``: cells where a ``w x h`` macro centred there is inside the canvas."""
        g = self.grid
        cols = (self.col_x - w / 2 >= -self.eps) & (self.col_x + w / 2 <= g.width + self.eps)
        rows = (self.row_y - h / 2 >= -self.eps) & (self.row_y + h / 2 <= g.height + self.eps)
        return rows[:, None] & cols[None, :]


class PlacementState:
    """One episode of sequential hard-macro placement over a :class:`PlacementProblem`.

    ``k`` is the rank of the macro to place next (``k == n_macros``: all placed);
    :meth:`mask` and :meth:`wire_mask` are for that macro; :meth:`place` puts it at a cell and
    returns the increase of the placed-net HPWL.
    """

    def __init__(self, problem: PlacementProblem):
        self.p = problem
        #: the per-step updates by the compiled loops below (the same values as the numpy code,
        #: tested); False: numpy only
        self.compiled = numba is not None
        self.reset()

    def reset(self) -> None:
        p = self.p
        self.k = 0
        self.x = p.x0.copy()
        self.y = p.y0.copy()
        self.orientation = p.orientation0.copy()
        self.cells = np.full(p.n_macros, -1, np.int64)
        self.xmin, self.xmax = p.base_xmin.copy(), p.base_xmax.copy()
        self.ymin, self.ymax = p.base_ymin.copy(), p.base_ymax.copy()
        self.placed_hpwl = p.initial_hpwl
        self.initial_hpwl = self.placed_hpwl
        self._obstacles = [p.static_obstacles]
        self._blocked: Optional[np.ndarray] = None
        self._blocked_size: Optional[Tuple[float, float]] = None
        self._mask: Optional[np.ndarray] = None
        self._wire: Optional[np.ndarray] = None
        g = p.grid
        self.occupancy = np.zeros((g.rows, g.cols))
        for rect in p.static_obstacles:
            self._add_occupancy(*rect)

    # ----- queries --------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.k >= self.p.n_macros

    @property
    def node(self) -> int:
        """Node index of the macro to place next (-1 when done)."""
        return int(self.p.order[self.k]) if not self.done else -1

    def obstacles(self) -> np.ndarray:
        return np.concatenate(self._obstacles, axis=0) if len(self._obstacles) > 1 \
            else self._obstacles[0]

    def mask(self) -> np.ndarray:
        """Feasible cells (bool, ``[rows * cols]``) of the current macro; all False when done."""
        if self._mask is None:
            p = self.p
            if self.done:
                self._mask = np.zeros(p.grid.n_cells, bool)
            else:
                size = (float(p.macro_w[self.k]), float(p.macro_h[self.k]))
                if self._blocked is None or self._blocked_size != size:
                    rects = self.obstacles()
                    rows, cols = p.hits(size[0], size[1], rects)
                    self._blocked = (rows.T.astype(np.float32) @ cols.astype(np.float32)) > 0
                    self._blocked_size = size
                    self._fits = p.fits_canvas(*size)
                self._mask = (self._fits & ~self._blocked).ravel()
        return self._mask

    def _span(self, nets) -> np.ndarray:
        return _span(self.xmin[nets], self.xmax[nets], self.ymin[nets], self.ymax[nets])

    def wire_mask(self) -> np.ndarray:
        """HPWL increase (weighted microns) of putting the current macro at each cell,
        ``[rows, cols]`` (zeros when done)."""
        if self._wire is None:
            self._wire = self._wire_of(self.k)
        return self._wire

    def _wire_of(self, k: int) -> np.ndarray:
        """The wire mask of the macro of rank ``k`` on the current canvas (zeros when ``k`` is past the last)."""
        p = self.p
        g = p.grid
        if k >= p.n_macros:
            return np.zeros((g.rows, g.cols))
        nets, dxmin, dxmax, dymin, dymax, w = p.group_arrays(k)
        if self.compiled:
            dx, dy = _axis_deltas_compiled(self.xmin, self.xmax, self.ymin, self.ymax, nets, dxmin, dxmax,
                                           dymin, dymax, p.col_x, p.row_y)
        else:
            dx = self._axis_delta(self.xmin[nets], self.xmax[nets], dxmin, dxmax, p.col_x)
            dy = self._axis_delta(self.ymin[nets], self.ymax[nets], dymin, dymax, p.row_y)
        return (w @ dy)[:, None] + (w @ dx)[None, :]

    def next_masks(self) -> Tuple[np.ndarray, np.ndarray]:
        """MaskPlace's look-ahead (Lai et al., NeurIPS 2022): the position mask (bool ``[rows * cols]``) and the
        wire mask (``[rows, cols]``) of the macro *after* the current one, on the current canvas (the current
        macro not yet placed); all False / zeros when the current macro is the last (or none is left)."""
        p, j = self.p, self.k + 1
        if j >= p.n_macros:
            return np.zeros(p.grid.n_cells, bool), np.zeros((p.grid.rows, p.grid.cols))
        w, h = float(p.macro_w[j]), float(p.macro_h[j])
        rows, cols = p.hits(w, h, self.obstacles())
        blocked = (rows.T.astype(np.float32) @ cols.astype(np.float32)) > 0
        return (p.fits_canvas(w, h) & ~blocked).ravel(), self._wire_of(j)

    @staticmethod
    def _axis_delta(lo, hi, dlo, dhi, centres) -> np.ndarray:
        """``[n_nets, n_centres]`` span increase along one axis."""
        old = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        new = (np.maximum(hi[:, None], centres[None, :] + dhi[:, None])
               - np.minimum(lo[:, None], centres[None, :] + dlo[:, None]))
        return new - old[:, None]

    # ----- placing --------------------------------------------------------------------------
    def place(self, cell: int) -> float:
        """Put the current macro's centre on ``cell``'s centre (no feasibility check: callers
        check :meth:`mask`); return the increase of the placed-net HPWL."""
        p = self.p
        k, i = self.k, self.node
        cx, cy = float(p.cx[cell]), float(p.cy[cell])     # == p.grid.cell_center(cell)
        w, h = float(p.macro_w[k]), float(p.macro_h[k])
        self.x[i], self.y[i] = cx, cy
        self.cells[k] = cell
        if self.compiled:
            return self._place_fused(k, cx, cy, w, h)
        s = p.groups(k)
        # nets: gather the macro's nets once, extend their boxes, scatter back
        nets = p.g_net[s]
        xmin, xmax = self.xmin[nets], self.xmax[nets]
        ymin, ymax = self.ymin[nets], self.ymax[nets]
        before = _span(xmin, xmax, ymin, ymax)
        xmin = np.minimum(xmin, cx + p.g_dxmin[s])
        xmax = np.maximum(xmax, cx + p.g_dxmax[s])
        ymin = np.minimum(ymin, cy + p.g_dymin[s])
        ymax = np.maximum(ymax, cy + p.g_dymax[s])
        self.xmin[nets], self.xmax[nets], self.ymin[nets], self.ymax[nets] = xmin, xmax, ymin, ymax
        grown = _span(xmin, xmax, ymin, ymax) - before
        delta = float(p.g_w[s] @ grown)
        self.placed_hpwl += delta
        # obstacles and masks
        rect = np.array([[cx, cy, w, h]])
        self._obstacles.append(rect)
        self._add_occupancy(cx, cy, w, h)
        self.k += 1
        self._mask = None
        self._wire = None
        if self._blocked is not None and not self.done:
            size = (float(p.macro_w[self.k]), float(p.macro_h[self.k]))
            if size == self._blocked_size:   # incremental: OR in the new macro's footprint
                rows, cols = p.hits(size[0], size[1], rect)
                self._blocked |= rows[0][:, None] & cols[0][None, :]
            else:
                self._blocked = None
        return delta

    def _place_fused(self, k: int, cx: float, cy: float, w: float, h: float) -> float:
        """:meth:`place`'s updates (net boxes, occupancy, blocked cells) in one compiled call
        (:func:`_place_loop`: the same loops as the separate compiled updates, tested)."""
        p = self.p
        nxt = k + 1
        grow = False
        if self._blocked is not None and nxt < p.n_macros:
            size = (float(p.macro_w[nxt]), float(p.macro_h[nxt]))
            grow = size == self._blocked_size
            if not grow:
                self._blocked = None
        bw, bh = self._blocked_size if grow else (0.0, 0.0)
        nets, dxmin, dxmax, dymin, dymax, gw = p.group_arrays(k)
        grown, mask = _place_compiled(self.xmin, self.xmax, self.ymin, self.ymax, nets,
                                      dxmin, dxmax, dymin, dymax, cx, cy, w, h,
                                      self.occupancy, p.col_edges, p.row_edges, p.cell_w, p.cell_h,
                                      self._blocked if grow else _NO_CELLS, self._fits if grow else _NO_CELLS,
                                      p.row_y, p.col_x, bw, bh, p.eps, grow)
        delta = float(gw @ grown)
        self.placed_hpwl += delta
        self._obstacles.append(np.array([[cx, cy, w, h]]))
        self.k = nxt
        # the next macro's mask when its blocked cells grew here (== mask()'s ``fits & ~blocked``)
        self._mask = mask if grow else None
        self._wire = None
        return delta

    def _add_occupancy(self, cx: float, cy: float, w: float, h: float) -> None:
        p = self.p
        g = p.grid
        cw, ch = g.cell_width, g.cell_height
        c0, c1, r0, r1 = _covered_range(cx, cy, w, h, cw, ch, g.cols, g.rows)
        if c1 <= c0 or r1 <= r0:
            return
        ce, re_ = p.col_edges, p.row_edges
        if self.compiled:
            _occupy_compiled(self.occupancy, ce, re_, c0, c1, r0, r1, cx, cy, w, h, cw * ch)
            return
        ox = np.minimum(cx + w / 2, ce[c0 + 1:c1 + 1]) - np.maximum(cx - w / 2, ce[c0:c1])
        oy = np.minimum(cy + h / 2, re_[r0 + 1:r1 + 1]) - np.maximum(cy - h / 2, re_[r0:r1])
        np.maximum(ox, 0.0, out=ox)
        np.maximum(oy, 0.0, out=oy)
        self.occupancy[r0:r1, c0:c1] += np.outer(oy, ox) / (cw * ch)

    def hard_macro_overlap(self) -> float:
        """Total pairwise overlap area among placed and fixed hard macros (0 for legal states)."""
        rects = self.obstacles()[: len(self.p.fixed_hard)]
        placed = np.concatenate(self._obstacles[1:], axis=0) if len(self._obstacles) > 1 \
            else np.zeros((0, 4))
        r = np.concatenate((rects, placed), axis=0)
        if len(r) < 2:
            return 0.0
        dx = np.minimum(r[:, None, 0] + r[:, None, 2] / 2, r[None, :, 0] + r[None, :, 2] / 2) - \
            np.maximum(r[:, None, 0] - r[:, None, 2] / 2, r[None, :, 0] - r[None, :, 2] / 2)
        dy = np.minimum(r[:, None, 1] + r[:, None, 3] / 2, r[None, :, 1] + r[None, :, 3] / 2) - \
            np.maximum(r[:, None, 1] - r[:, None, 3] / 2, r[None, :, 1] - r[None, :, 3] / 2)
        a = np.clip(dx, 0, None) * np.clip(dy, 0, None)
        return float(np.triu(a, 1).sum())


# ----- the per-step updates as compiled loops (elementwise, so equal to the numpy code) -------------------
def _axis_delta_loop(lo, hi, nets, dlo, dhi, centres):
    """:meth:`PlacementState._axis_delta` of ``lo[nets], hi[nets]`` in one pass."""
    out = np.empty((len(nets), len(centres)))
    for q in range(len(nets)):
        a, b = lo[nets[q]], hi[nets[q]]
        old = b - a
        if not np.isfinite(old):
            old = 0.0
        for j in range(len(centres)):
            top = centres[j] + dhi[q]
            bot = centres[j] + dlo[q]
            out[q, j] = (max(b, top) - min(a, bot)) - old
    return out


def _box_span(xmin, xmax, ymin, ymax):
    sx = xmax - xmin
    sy = ymax - ymin
    return (sx if np.isfinite(sx) else 0.0) + (sy if np.isfinite(sy) else 0.0)


def _extend_boxes_loop(xmin, xmax, ymin, ymax, nets, dxmin, dxmax, dymin, dymax, cx, cy):
    """Extend the boxes of ``nets`` by a macro's pins at ``(cx, cy)``; the span increase per net."""
    grown = np.empty(len(nets))
    for q in range(len(nets)):
        n = nets[q]
        before = _box_span(xmin[n], xmax[n], ymin[n], ymax[n])
        xmin[n] = min(xmin[n], cx + dxmin[q])
        xmax[n] = max(xmax[n], cx + dxmax[q])
        ymin[n] = min(ymin[n], cy + dymin[q])
        ymax[n] = max(ymax[n], cy + dymax[q])
        grown[q] = _box_span(xmin[n], xmax[n], ymin[n], ymax[n]) - before
    return grown


def _block_loop(blocked, row_y, col_x, w, h, cx, cy, rw, rh, eps):
    """``blocked |=`` the cells where a ``w x h`` macro would overlap the rectangle (cx, cy, rw, rh)
    (:meth:`PlacementProblem.hits`)."""
    for r in range(len(row_y)):
        if abs(row_y[r] - cy) < (h + rh) / 2 - eps:
            for c in range(len(col_x)):
                if abs(col_x[c] - cx) < (w + rw) / 2 - eps:
                    blocked[r, c] = True


def _covered_range(cx, cy, w, h, cw, ch, cols, rows):
    """The columns ``c0:c1`` and rows ``r0:r1`` a ``w x h`` rectangle at (cx, cy) covers, one spare
    each side (adding zeros changes nothing)."""
    c0 = min(max(math.floor((cx - w / 2) / cw) - 1, 0), cols)
    c1 = min(max(math.floor((cx + w / 2) / cw) + 2, c0), cols)
    r0 = min(max(math.floor((cy - h / 2) / ch) - 1, 0), rows)
    r1 = min(max(math.floor((cy + h / 2) / ch) + 2, r0), rows)
    return c0, c1, r0, r1


def _occupy_loop(occ, ce, re_, c0, c1, r0, r1, cx, cy, w, h, cell_area):
    """:meth:`PlacementState._add_occupancy`'s update of rows ``r0:r1`` and columns ``c0:c1``."""
    for r in range(r0, r1):
        oy = max(min(cy + h / 2, re_[r + 1]) - max(cy - h / 2, re_[r]), 0.0)
        for c in range(c0, c1):
            ox = max(min(cx + w / 2, ce[c + 1]) - max(cx - w / 2, ce[c]), 0.0)
            occ[r, c] += (oy * ox) / cell_area


if numba is not None:   # compiled on first use (cached on disk beside this file)
    _box_span = numba.njit(cache=True)(_box_span)
    _axis_delta_compiled = numba.njit(cache=True)(_axis_delta_loop)

    @numba.njit(cache=True)
    def _axis_deltas_compiled(xmin, xmax, ymin, ymax, nets, dxmin, dxmax, dymin, dymax, col_x, row_y):
        """Both axes' :func:`_axis_delta_loop` in one call (the wire mask's two operands)."""
        return (_axis_delta_compiled(xmin, xmax, nets, dxmin, dxmax, col_x),
                _axis_delta_compiled(ymin, ymax, nets, dymin, dymax, row_y))
    _extend_boxes_compiled = numba.njit(cache=True)(_extend_boxes_loop)
    _block_compiled = numba.njit(cache=True)(_block_loop)
    _occupy_compiled = numba.njit(cache=True)(_occupy_loop)
    _covered_range_compiled = numba.njit(cache=True)(_covered_range)

    @numba.njit(cache=True)
    def _place_compiled(xmin, xmax, ymin, ymax, nets, dxmin, dxmax, dymin, dymax, cx, cy, w, h,
                        occ, ce, re_, cw, ch, blocked, fits, row_y, col_x, bw, bh, eps, grow_blocked):
        """One macro placed: net boxes extended (span increase per net returned), occupancy
        added, and ``blocked`` (for a next macro of size ``bw x bh``) grown when asked, then that
        macro's feasible cells ``fits & ~blocked`` (flat; empty when not asked)."""
        grown = _extend_boxes_compiled(xmin, xmax, ymin, ymax, nets, dxmin, dxmax, dymin, dymax,
                                       cx, cy)
        rows, cols = occ.shape
        c0, c1, r0, r1 = _covered_range_compiled(cx, cy, w, h, cw, ch, cols, rows)
        if c1 > c0 and r1 > r0:
            _occupy_compiled(occ, ce, re_, c0, c1, r0, r1, cx, cy, w, h, cw * ch)
        mask = np.empty(rows * cols if grow_blocked else 0, np.bool_)
        if grow_blocked:
            _block_compiled(blocked, row_y, col_x, bw, bh, cx, cy, w, h, eps)
            for r in range(rows):
                for c in range(cols):
                    mask[r * cols + c] = fits[r, c] and not blocked[r, c]
        return grown, mask


_NO_CELLS = np.zeros((0, 0), bool)   # the blocked-cells argument when there is none to grow


def _span(xmin: np.ndarray, xmax: np.ndarray, ymin: np.ndarray, ymax: np.ndarray) -> np.ndarray:
    """Bounding-box width + height per net (0 along an axis with no active node yet)."""
    sx = xmax - xmin
    sy = ymax - ymin
    return np.where(np.isfinite(sx), sx, 0.0) + np.where(np.isfinite(sy), sy, 0.0)


# ----- finishing a placement ---------------------------------------------------------------------
#: Keys of every evaluation (``PlacementCost.evaluate``): hpwl, the registered terms, proxy_cost, overlap.
COST_KEYS = ("hpwl", *term_fields(), "proxy_cost", "overlap")


class Finisher:
    """Places the soft macros (force-directed, Circuit Training's schedule) and evaluates the
    proxy cost of a full placement of a :class:`PlacementProblem`; one per problem (it keeps the
    force-directed placer's precomputed edges and reuses the problem's :class:`PlacementCost`).

    Args:
        problem: the problem.
        weights: proxy-cost weights, one per registered cost term in order (``(wirelength, density,
            congestion)``) or a mapping by term name; default the terms' own weights (1 / 0.5 / 0.5).
        run_fd: place soft macros by force-directed placement (else they stay where they are).
        fd_schedule: a :class:`~rlframe.placement.force_directed.FDSchedule`.
    """

    def __init__(self, problem: PlacementProblem, weights: Union[None, Sequence[float], Dict[str, float]] = None,
                 run_fd: bool = True, fd_schedule=None):
        from rlframe.placement.force_directed import ForceDirectedPlacer
        self.p = problem
        self.weights = term_weights(weights)
        self.run_fd = bool(run_fd) and len(problem.netlist.soft_macro_indices) > 0
        self.fd_schedule = fd_schedule
        self.fd = ForceDirectedPlacer(problem.netlist, (problem.grid.width, problem.grid.height)) \
            if self.run_fd else None

    def soft_macros(self, x: np.ndarray, y: np.ndarray, orientation: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray]:
        if self.fd is None:
            return x, y
        return self.fd.run(x, y, orientation, self.fd_schedule)

    def evaluate(self, x: np.ndarray, y: np.ndarray, orientation: np.ndarray,
                 fd: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """``(x, y, costs)``: positions after the soft-macro placement and all cost terms
        (``COST_KEYS``, ``proxy_cost`` with this finisher's weights)."""
        if fd is None or fd:
            x, y = self.soft_macros(x, y, orientation)
        pc = self.p.cost
        pc.set_positions(x, y, orientation)
        return pc.x.copy(), pc.y.copy(), pc.evaluate(*self.weights)

    def score(self, x: np.ndarray, y: np.ndarray, orientation: np.ndarray, fd: str = "centre"):
        """The evaluation protocol (:func:`rlframe.placement.protocol.score_positions`) with this
        finisher's weights and FD placer: regime ``fd`` = ``"centre"``, ``"refine"`` or ``"none"``
        (every regime is ``"none"`` when this finisher does not run FD)."""
        from rlframe.placement.protocol import score_positions
        return score_positions(self.p.cost, self.fd, x, y, orientation, fd, self.weights, self.fd_schedule)


def plc_header(problem: PlacementProblem, costs: Optional[Dict[str, float]] = None
               ) -> Dict[str, str]:
    """Header entries for :func:`~rlframe.placement.formats.plc.make_placement` that
    ``PlacementCost.from_plc`` reads back (grid, canvas, routing, smoothing, blockages, costs)."""
    pc, g = problem.cost, problem.grid
    h = {
        "Columns": f"{g.cols}  Rows : {g.rows}",
        "Width": f"{g.width!r}  Height : {g.height!r}",
        "Routes per micron, hor": f"{pc.routes_per_micron[0]!r}  ver : {pc.routes_per_micron[1]!r}",
        "Routes used by macros, hor": (f"{pc.macro_routing_alloc[0]!r}  ver : "
                                       f"{pc.macro_routing_alloc[1]!r}"),
        "Smoothing factor": f"{pc.smooth_range}",
        "Overlap threshold": f"{pc.overlap_threshold!r}",
    }
    if costs:
        h["Wirelength"] = f"{costs['hpwl']:.3f}"
        for term in COST_TERMS.values():
            h[term.plc_label] = f"{costs[term.field]:.4f}"
    for i, b in enumerate(problem.blockages):
        h[f"Blockage{'' if i == 0 else ' ' * i}"] = " ".join(f"{v!r}" for v in b)
    return h
