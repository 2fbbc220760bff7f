"""Circuit Training's proxy cost, vectorised with numpy, with incremental macro moves.

Reproduces Google's closed placement-cost binary (``plc_wrapper_main``, used by Circuit Training,
Mirhoseini et al., Nature 2021) as documented by the open re-implementation
``TILOS-AI-Institute/MacroPlacement/CodeElements/Plc_client/plc_client_os.py``:

* **HPWL** -- ``sum_k w_k * (bbox_w + bbox_h)`` over nets ``k`` (driver + inputs), pins at their
  macro's centre plus the offset rotated by the macro's orientation; ``w_k`` is the driver's weight.
* **wirelength cost** -- ``HPWL / ((canvas_w + canvas_h) * sum_k w_k)``.
* **density cost** -- grid-cell occupancy ``d_c = (area of hard and soft macros in c) / cell
  area``; ``0.5 * (sum of the top floor(0.1 n) non-zero d_c) / floor(0.1 n)`` (the average over
  the non-zero cells when the grid has fewer than 10 cells).
* **congestion cost** -- every net is routed on the grid (gcells of its nodes, deduplicated):
  2 gcells: an L (horizontal along the driver's row, vertical along the sink's column);
  3 gcells: Circuit Training's L/T rules; more: one 2-gcell route from the driver's gcell to
  each other gcell. Horizontal usage is divided by ``cell_h * routes_per_micron_h``, vertical
  by ``cell_w * routes_per_micron_v``; then smoothed (vertical along the row, horizontal along
  the column, over ``+-smooth_range`` cells); every hard macro adds ``overlap_w *
  alloc_v / (cell_w * routes_v)`` to the vertical and ``overlap_h * alloc_h / (cell_h * routes_h)``
  to the horizontal map of each cell it covers (except, as in the binary, the top row /
  right column of a macro that only partially covers its boundary cells). The cost is the mean
  of the top 5 % of the concatenated vertical and horizontal maps.
* **proxy cost** -- ``wl + 0.5 * density + 0.5 * congestion`` (weights configurable).

The terms are a registry (:data:`COST_TERMS`): each is one function ``f(PlacementCost) -> float``
registered with :func:`cost_term` under a name (its field is ``<name>_cost``), a default weight and its
.plc header label. Everything that lists the terms (``evaluate``, ``proxy_cost``, the env's info and
logs, the .plc header written by the baselines, the CLI's ``--weights``) reads the registry.

Speed (Ariane133, 12k nets): a full evaluation is ~1.3-1.5 ms of CPU on a 2-core machine with numba (the
all-net routing, HPWL, pins, cell overlaps and macro-routing operands as compiled loops, each equal to the
numpy expression it replaces; the numpy path runs without numba, ~6 ms). The per-netlist structure is built
once (:class:`_NetBuckets` for the all-net HPWL, int32 sort keys for the distinct gcells of every net), and
``move_node`` re-routes only the moved node's nets (~0.6 ms).

Deviations, all outside the published test cases: pins outside the canvas are routed from the
nearest grid cell (the binary indexes past the grid); quarter-turn orientations swap macro width
and height; nets driven by standard cells (flat netlists) are included like any other net.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.geometry import Grid, oriented_size, pin_positions
from rlframe.placement.formats.netlist import (
    HARD_MACRO, ORIENTATION_CODE, SOFT_MACRO, Netlist)
from rlframe.placement.formats.plc import Placement, read_plc

try:   # the all-net routing compiled (an install requirement; without it numpy, same result)
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

#: Defaults used when neither the caller nor a .plc header gives a value (the values in
#: Circuit Training's own test .plc files).
DEFAULT_ROUTES_PER_MICRON = (70.33, 74.51)
DEFAULT_MACRO_ROUTING_ALLOC = (51.79, 51.79)
DEFAULT_GRID = (10, 10)


@dataclasses.dataclass(frozen=True)
class CostTerm:
    """One term of the proxy cost: ``weight * fn(placement_cost)`` is added to ``proxy_cost``.

    Attributes:
        name: short name (``"density"``); also the keyword for its weight.
        weight: default weight in the proxy cost.
        plc_label: the .plc header label (``"Density cost"``).
        fn: the term's value for a :class:`PlacementCost` at its current positions.
    """

    name: str
    weight: float
    plc_label: str
    fn: Callable[["PlacementCost"], float]

    @property
    def field(self) -> str:
        """Key of the term in :meth:`PlacementCost.evaluate`, the env's info and the logs."""
        return f"{self.name}_cost"


#: The registered cost terms, in registration order (the order of weight tuples).
COST_TERMS: Dict[str, CostTerm] = {}
#: Other keyword names accepted for a term's weight.
_WEIGHT_ALIASES = {"wl": "wirelength"}


def cost_term(name: str, weight: float, plc_label: str) -> Callable:
    """Decorator registering ``fn(placement_cost) -> float`` as the proxy-cost term ``name``."""
    def register(fn: Callable[["PlacementCost"], float]) -> Callable[["PlacementCost"], float]:
        if name in COST_TERMS:
            raise ConfigError(f"cost term {name!r} is registered twice; pick another name")
        COST_TERMS[name] = CostTerm(name, float(weight), plc_label, fn)
        return fn
    return register


def term_weights(weights: Union[None, Sequence[float], Mapping[str, float]] = None,
                 **named: float) -> Tuple[float, ...]:
    """Weights of every registered term, in registry order: the defaults, replaced by ``weights`` (one
    per term, in order, or a mapping by name) and then by keyword (``density=0.5``; ``wl`` = wirelength)."""
    out = {t.name: t.weight for t in COST_TERMS.values()}
    if isinstance(weights, Mapping):
        named = {**dict(weights), **named}
    elif weights is not None:
        weights = tuple(weights)
        if len(weights) != len(COST_TERMS):
            raise ConfigError(f"proxy-cost weights {weights!r}: need one per cost term, in the order "
                              f"{tuple(COST_TERMS)}")
        out = dict(zip(COST_TERMS, map(float, weights)))
    for key, w in named.items():
        name = _WEIGHT_ALIASES.get(key, key)
        if name not in out:
            raise ConfigError(f"unknown cost term {key!r} in the proxy-cost weights; terms: {tuple(COST_TERMS)}")
        out[name] = float(w)
    return tuple(out.values())


def term_fields() -> Tuple[str, ...]:
    """The ``<name>_cost`` keys of the registered terms, in registry order."""
    return tuple(t.field for t in COST_TERMS.values())


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for every (s, l)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offs, lengths)


class _NetBuckets:
    """Every net's nodes as columns of a few padded index matrices, for the all-net HPWL.

    Nets are grouped by degree into buckets whose rows are padded with the net's driver (which
    changes no bounding box), so the spans are plain ``max - min`` along axis 1 instead of four
    ``reduceat`` calls over 10^4 ragged segments (~4x faster on Ariane133).
    Nets of more than 64 nodes (rare, e.g. clock nets of flat netlists) keep ``reduceat``.
    """

    _EDGES = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64)

    def __init__(self, nl: Netlist):
        deg = np.diff(nl.net_ptr)
        self.n_nets = int(len(deg))
        self.buckets = []  # (net ids, [width, n] node indices)
        big = np.flatnonzero(deg > self._EDGES[-1])
        self.big = (big, nl.net_nodes[_ranges(nl.net_ptr[big], deg[big])],
                    np.cumsum(deg[big]) - deg[big])
        lo = 0
        for hi in self._EDGES:
            nets = np.flatnonzero((deg > lo) & (deg <= hi))
            lo = hi
            if not len(nets):
                continue
            width = int(deg[nets].max())
            cols = np.arange(width)
            starts, d = nl.net_ptr[nets], deg[nets]
            # column j of row n: entry j of the net, or its driver once j >= degree
            idx = np.where(cols[None, :] < d[:, None], starts[:, None] + cols[None, :],
                           starts[:, None])
            # stored [width, n]: reductions over the outer axis run along contiguous rows
            self.buckets.append((nets, np.ascontiguousarray(nl.net_nodes[idx].T)))

    def hpwl(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unweighted ``bbox_w + bbox_h`` of every net (zeros for nets without nodes)."""
        out = np.zeros(self.n_nets)
        for nets, idx in self.buckets:
            xs, ys = x[idx], y[idx]
            span = xs.max(0)
            span -= xs.min(0)
            span += ys.max(0)
            span -= ys.min(0)
            out[nets] = span
        nets, nodes, at = self.big
        if len(nets):
            xs, ys = x[nodes], y[nodes]
            out[nets] = (np.maximum.reduceat(xs, at) - np.minimum.reduceat(xs, at)
                         + np.maximum.reduceat(ys, at) - np.minimum.reduceat(ys, at))
        return out


def top_fraction_mean(values: np.ndarray, fraction: float, nonzero_only: bool) -> float:
    """Circuit Training's "average of the top ``fraction`` of cells".

    ``cnt = floor(n * fraction)`` with ``n`` = all cells; the sum of the ``cnt`` largest (non-zero
    ones only if ``nonzero_only``) divided by ``cnt``. When ``cnt == 0``: the mean of the non-zero
    values (density) or the maximum (congestion), as the binary does.
    """
    v = np.asarray(values, np.float64).ravel()
    cnt = int(math.floor(v.size * fraction))
    if nonzero_only:
        nz = v[v != 0.0]
        if cnt == 0 or v.size < 10:
            return float(nz.mean()) if nz.size else 0.0
        k = min(cnt, nz.size)
        top = np.partition(nz, nz.size - k)[nz.size - k:] if k else nz[:0]
        return float(top.sum() / cnt)
    if cnt == 0:
        return float(v.max()) if v.size else 0.0
    top = np.partition(v, v.size - cnt)[v.size - cnt:]
    return float(top.sum() / cnt)


def check_plc_settings(pl: Placement, netlist: Netlist, settings: Dict) -> None:
    """A .plc was given: its grid and canvas must come from its header, the netlist (canvas) or an override,
    never silently from the defaults (a different grid or canvas gives a different cost)."""
    missing = []
    if settings.get("grid") is None:
        missing.append("no grid (a '# Columns : <int>  Rows : <int>' line; or pass --grid COLS ROWS / grid=)")
    if settings.get("canvas") is None and netlist.canvas_bbox is None:
        missing.append("no canvas (a '# Width : <microns>  Height : <microns>' line; or pass --canvas W H / "
                       "canvas=)")
    if missing:
        raise ConfigError(f"{pl.path}: the .plc header gives " + " and ".join(missing) + "; rlframe does not "
                          "fall back to a default grid or canvas for a .plc")


class PlacementCost:
    """Proxy cost of one placement of a :class:`~rlframe.placement.formats.netlist.Netlist`.

    Args:
        netlist: the parsed netlist.
        canvas: ``(width, height)`` in microns; default: the netlist's ``# FP bbox``, else a
            square of side ``sqrt(total area / 0.6)`` (the binary's default).
        grid: ``(cols, rows)``; default 10 x 10.
        routes_per_micron: ``(horizontal, vertical)`` routing tracks per micron.
        macro_routing_alloc: ``(horizontal, vertical)`` tracks per micron used by hard macros.
        smooth_range: congestion smoothing range in cells (floored to an int).
        overlap_threshold: kept for the env (the binary's legality tolerance); not a cost term.
        x, y, orientation: initial node centres and orientation codes (default: the netlist's).

    Positions are node arrays (``self.x``, ``self.y``, ``self.orientation``); change them only
    through :meth:`set_positions` (everything) or :meth:`move_node` (one node, incremental).
    """

    def __init__(
        self,
        netlist: Netlist,
        canvas: Optional[Tuple[float, float]] = None,
        grid: Optional[Tuple[int, int]] = None,
        routes_per_micron: Optional[Tuple[float, float]] = None,
        macro_routing_alloc: Optional[Tuple[float, float]] = None,
        smooth_range: float = 0,
        overlap_threshold: float = 0.0,
        x: Optional[np.ndarray] = None,
        y: Optional[np.ndarray] = None,
        orientation: Optional[np.ndarray] = None,
    ):
        self.netlist = netlist
        if canvas is None:
            if netlist.canvas_bbox is not None:
                x0, y0, x1, y1 = netlist.canvas_bbox
                canvas = (x1 - x0, y1 - y0)
            else:
                side = math.sqrt(netlist.total_area() / 0.6)
                canvas = (side, side)
        cols, rows = grid if grid is not None else DEFAULT_GRID
        self.grid = Grid(int(cols), int(rows), float(canvas[0]), float(canvas[1]))
        self._col_edges, self._row_edges = self.grid.col_edges(), self.grid.row_edges()
        # gcell key (col * rows + row) -> col, row
        self._cell_col, self._cell_row = np.divmod(
            np.arange(self.grid.n_cells, dtype=np.int32), np.int32(self.grid.rows))
        self.routes_per_micron = tuple(map(float, routes_per_micron or DEFAULT_ROUTES_PER_MICRON))
        self.macro_routing_alloc = tuple(
            map(float, macro_routing_alloc or DEFAULT_MACRO_ROUTING_ALLOC))
        if min(self.routes_per_micron) <= 0:
            raise ConfigError(f"routes_per_micron must be positive, got {self.routes_per_micron}")
        self.smooth_range = int(math.floor(smooth_range or 0))
        self.overlap_threshold = float(overlap_threshold or 0.0)

        nl = netlist
        self._hard = nl.hard_macro_indices
        self._macros = nl.macro_indices
        self._pins = nl.pin_indices
        self._net_w = nl.net_weight.astype(np.float64)
        self._route_w = np.maximum(self._net_w, 1.0)   # the binary routes with max(weight, 1)
        self._net_w_sum = float(self._net_w.sum())
        self._net_of_entry = np.repeat(np.arange(nl.n_nets), nl.net_degree)
        self._all_nets = _NetBuckets(nl)
        self._all_key_base: Optional[np.ndarray] = None
        self._node_nets_cache: Dict[int, np.ndarray] = {}
        self._pins_of: Optional[Dict[int, np.ndarray]] = None
        self._pin_par = nl.pin_parent[self._pins]
        self._pin_parents = np.unique(self._pin_par)
        self._pin_offsets_key: Optional[bytes] = None
        self._sizes_key: Optional[bytes] = None
        # unsigned node indices for the compiled loops (a signed index costs a negative-index check)
        self._net_nodes_u = nl.net_nodes.astype(np.uint32)
        self._pins_u, self._pin_par_u = self._pins.astype(np.uint32), self._pin_par.astype(np.uint32)
        #: route all nets with the compiled loop (:func:`_route_all`; bit-identical to the numpy path,
        #: tested); False: numpy only
        self.compiled = numba is not None
        self.set_positions(nl.x if x is None else x, nl.y if y is None else y,
                           nl.orientation if orientation is None else orientation)

    # ----- construction from a .plc ---------------------------------------------------------
    @classmethod
    def from_plc(cls, netlist: Netlist, plc: Union[Placement, str, os.PathLike],
                 **overrides) -> "PlacementCost":
        """Settings from the .plc header (``overrides`` win), positions from its node lines."""
        pl = plc if isinstance(plc, Placement) else read_plc(plc)
        h = pl.header
        kw = dict(canvas=h.canvas, grid=h.grid, routes_per_micron=h.routes_per_micron,
                  macro_routing_alloc=h.macro_routing_alloc, smooth_range=h.smooth_range or 0,
                  overlap_threshold=h.overlap_threshold or 0.0)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        check_plc_settings(pl, netlist, kw)
        x, y, o, _ = pl.apply(netlist)
        try:
            return cls(netlist, x=x, y=y, orientation=o, **kw)
        except ConfigError as e:
            raise ConfigError(f"{pl.path}: {e}") from None

    # ----- positions ------------------------------------------------------------------------
    def set_positions(self, x: np.ndarray, y: np.ndarray,
                      orientation: Optional[np.ndarray] = None) -> None:
        """Set all node centres (pins are recomputed from their macros) and recompute all."""
        self.x = np.array(x, np.float64)
        self.y = np.array(y, np.float64)
        if orientation is not None:
            self.orientation = np.array(orientation, np.int8)
        elif not hasattr(self, "orientation"):
            self.orientation = self.netlist.orientation.copy()
        pins = self._pins
        if len(pins):
            # rotated pin offsets depend only on the macros' orientations: cached on them
            key = self.orientation[self._pin_parents].tobytes()
            if key != self._pin_offsets_key:
                px, py = pin_positions(self.netlist, np.zeros_like(self.x), np.zeros_like(self.y),
                                       self.orientation, pins)
                self._pin_offsets, self._pin_offsets_key = (px, py), key
            par = self._pin_par
            if self.compiled:
                _pins_follow_compiled(self.x, self.y, self._pins_u, self._pin_par_u, *self._pin_offsets)
            else:
                self.x[pins] = self.x[par] + self._pin_offsets[0]
                self.y[pins] = self.y[par] + self._pin_offsets[1]
        self._recompute_all()

    def _recompute_all(self) -> None:
        self._node_maps: Dict[int, tuple] = {}   # node -> (occupancy, macro routing) at its place
        if self.compiled:
            nl = self.netlist
            self._net_hpwl = _net_hpwl_compiled(self.x, self.y, nl.net_ptr, self._net_nodes_u, self._net_w)
        else:
            self._net_hpwl = self._all_nets.hpwl(self.x, self.y) * self._net_w
        self._occ = self._occupancy(self._macros)
        self._h_net, self._v_net = self._route(None)
        self._h_mac, self._v_mac = self._macro_routing(self._hard)

    def _pins_of_macro(self, i: int) -> np.ndarray:
        if self._pins_of is None:
            par = self.netlist.pin_parent[self._pins]
            order = np.argsort(par, kind="stable")
            sp, spar = self._pins[order], par[order]
            bounds = np.flatnonzero(np.diff(spar)) + 1
            self._pins_of = {int(g[0]): p for g, p in zip(
                np.split(spar, bounds), np.split(sp, bounds)) if len(g)}
        return self._pins_of.get(i, np.zeros(0, np.int64))

    def nets_of_node(self, i: int) -> np.ndarray:
        """Nets touching node ``i`` or (for a macro) any of its pins."""
        got = self._node_nets_cache.get(i)
        if got is None:
            members = np.concatenate(([i], self._pins_of_macro(i)))
            got = np.unique(self._net_of_entry[np.isin(self.netlist.net_nodes, members)])
            self._node_nets_cache[i] = got
        return got

    def move_node(self, i: int, x: float, y: float,
                  orientation: Optional[Union[int, str]] = None) -> None:
        """Move node ``i`` (a macro, port or standard cell) to centre ``(x, y)``; update only the
        nets and grid cells it affects. Equal to a full recompute up to float rounding."""
        nt = self.netlist.node_type[i]
        nets = self.nets_of_node(i)
        is_macro = nt in (HARD_MACRO, SOFT_MACRO)
        node = np.array([i])
        # the node's own grid contributions at its old place: cached from its last move (a pure
        # function of its position and orientation, so equal to recomputing them)
        old = self._node_maps.pop(i, None)
        if is_macro:
            self._occ -= old[0] if old is not None else self._occupancy(node)
        if nt == HARD_MACRO:
            h, v = old[1] if old is not None else self._macro_routing(node)
            self._h_mac -= h
            self._v_mac -= v
        h, v = self._route(nets)
        self._h_net -= h
        self._v_net -= v

        self.x[i], self.y[i] = x, y
        if orientation is not None:
            self.orientation[i] = (ORIENTATION_CODE[orientation] if isinstance(orientation, str)
                                   else int(orientation))
        pins = self._pins_of_macro(i)
        if len(pins):
            self.x[pins], self.y[pins] = pin_positions(
                self.netlist, self.x, self.y, self.orientation, pins)

        self._net_hpwl[nets] = self._hpwl_of(nets)
        if is_macro:
            occ = self._occupancy(node)
            self._occ += occ
            hv = None
            if nt == HARD_MACRO:
                hv = h, v = self._macro_routing(node)
                self._h_mac += h
                self._v_mac += v
            self._node_maps[i] = (occ, hv)
        h, v = self._route(nets)
        self._h_net += h
        self._v_net += v

    # ----- wirelength -----------------------------------------------------------------------
    def _hpwl_of(self, nets: np.ndarray) -> np.ndarray:
        nl = self.netlist
        if len(nets) == 0:
            return np.zeros(0)
        starts, lens = nl.net_ptr[nets], nl.net_ptr[nets + 1] - nl.net_ptr[nets]
        nodes = nl.net_nodes[_ranges(starts, lens)]
        xs, ys = self.x[nodes], self.y[nodes]
        at = np.cumsum(lens) - lens
        span = (np.maximum.reduceat(xs, at) - np.minimum.reduceat(xs, at)
                + np.maximum.reduceat(ys, at) - np.minimum.reduceat(ys, at))
        return span * self._net_w[nets]

    def hpwl(self) -> float:
        """Weighted half-perimeter wirelength (microns)."""
        return float(self._net_hpwl.sum())

    def wirelength_cost(self) -> float:
        """``hpwl / ((canvas_w + canvas_h) * sum of net weights)``."""
        if self._net_w_sum == 0:
            return 0.0
        return self.hpwl() / ((self.grid.width + self.grid.height) * self._net_w_sum)

    # ----- density --------------------------------------------------------------------------
    def _sizes(self, nodes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """:func:`oriented_size` of ``nodes`` (every node's cached while the orientations stay)."""
        key = self.orientation.tobytes()
        if key != self._sizes_key:
            self._sizes_all, self._sizes_key = oriented_size(self.netlist, self.orientation), key
        return self._sizes_all[0][nodes], self._sizes_all[1][nodes]

    def _overlap_1d(self, nodes: np.ndarray, positive: bool = False):
        """Per-node overlap lengths with every column (x) and row (y), and the rectangles;
        ``positive``: lengths that are not finite and positive set to 0."""
        w, h = self._sizes(nodes)
        ce, re_ = self._col_edges, self._row_edges
        if self.compiled:
            ox, oy = _cell_overlaps_compiled(self.x, self.y, nodes, w, h, ce, re_, positive)
            return ox, oy, None
        x0, x1 = self.x[nodes] - w / 2, self.x[nodes] + w / 2
        y0, y1 = self.y[nodes] - h / 2, self.y[nodes] + h / 2
        ox = np.minimum(x1[:, None], ce[None, 1:]) - np.maximum(x0[:, None], ce[None, :-1])
        oy = np.minimum(y1[:, None], re_[None, 1:]) - np.maximum(y0[:, None], re_[None, :-1])
        if positive:
            ox = np.where((ox > 0) & np.isfinite(ox), ox, 0.0)
            oy = np.where((oy > 0) & np.isfinite(oy), oy, 0.0)
        return ox, oy, (x0, x1, y0, y1)

    def _occupancy(self, nodes: np.ndarray) -> np.ndarray:
        """Covered area per cell, ``(rows, cols)``."""
        if len(nodes) == 0:
            return np.zeros((self.grid.rows, self.grid.cols))
        ox, oy, _ = self._overlap_1d(nodes, positive=True)
        return oy.T @ ox

    def density_grid(self) -> np.ndarray:
        """Cell density (covered fraction), ``(rows, cols)``."""
        return self._occ / (self.grid.cell_width * self.grid.cell_height)

    def density_cost(self) -> float:
        """``0.5 *`` the average of the top 10 % densest cells."""
        return 0.5 * top_fraction_mean(self.density_grid(), 0.1, nonzero_only=True)

    # ----- congestion -----------------------------------------------------------------------
    def _gcells(self, nodes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(row, col) of the gcells holding ``nodes``, clipped onto the grid (int32).

        Clipping the float quotient before truncating equals ``clip(floor(q))`` for every q."""
        g = self.grid
        r = self.y[nodes] / g.cell_height
        c = self.x[nodes] / g.cell_width
        np.fmin(np.fmax(r, 0.0, out=r), g.rows - 1, out=r)   # fmax: NaN -> 0, as before
        np.fmin(np.fmax(c, 0.0, out=c), g.cols - 1, out=c)
        return r.astype(np.int32), c.astype(np.int32)

    def _route(self, nets: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Raw (unnormalised) horizontal and vertical routing demand of ``nets`` (None: all)."""
        g, nl = self.grid, self.netlist
        R, C = g.rows, g.cols
        if nets is None and self.compiled and nl.n_nets:
            return _route_all_compiled(self.x, self.y, nl.net_ptr, self._net_nodes_u, self._route_w,
                                       g.cell_width, g.cell_height, R, C)
        hseg = []  # (row, col_from, col_to, weight)
        vseg = []  # (col, row_from, row_to, weight)
        if nets is None:
            n_sel, nodes, local = nl.n_nets, nl.net_nodes, self._net_of_entry
            first, w = nl.net_ptr[:-1], self._route_w
        else:
            n_sel = len(nets)
            starts, lens = nl.net_ptr[nets], nl.net_ptr[nets + 1] - nl.net_ptr[nets]
            nodes = nl.net_nodes[_ranges(starts, lens)]
            local = np.repeat(np.arange(n_sel), lens)
            first, w = np.cumsum(lens) - lens, self._route_w[nets]
        if n_sel:
            r, c = self._gcells(nodes)
            sr, sc = r[first], c[first]
            ncell = R * C
            # distinct gcells per net, sorted by (net, col, row): a sort and a mask (np.unique
            # hashes and is ~50x slower here); sorting keeps every entry in its net's segment,
            # so the net of sorted entry j is local[j]
            wide = n_sel * ncell >= 2 ** 31
            base = local * ncell if wide else self._key_base(local, nets is None)
            cell = c * R
            cell += r
            key = base + cell
            key.sort()
            keep = np.empty(key.size, bool)
            keep[0] = True
            np.not_equal(key[1:], key[:-1], out=keep[1:])
            cell = key[keep]                     # net * n_cells + cell, so the net and
            un = cell // ncell                   # cell come back by arithmetic (cheaper than
            cell -= un * ncell                   # two more boolean gathers)
            uc, ur = self._cell_col[cell], self._cell_row[cell]
            kk = np.bincount(un, minlength=n_sel)[un]
            # nets of 2 or >3 gcells: driver gcell -> every other gcell (a net of 1 gcell has
            # only the driver's)
            dcell = sc * R
            dcell += sr
            m = (kk != 3) & (cell != dcell[un])
            n2, r2, c2 = un[m], ur[m], uc[m]
            s_r, s_c = sr[n2], sc[n2]
            hseg.append((s_r, np.minimum(s_c, c2), np.maximum(s_c, c2), w[n2]))
            vseg.append((c2, np.minimum(s_r, r2), np.maximum(s_r, r2), w[n2]))
            # nets of exactly 3 gcells
            m3 = kk == 3
            if m3.any():
                tr, tc = ur[m3].reshape(-1, 3), uc[m3].reshape(-1, 3)
                tw = w[un[m3][::3]]
                self._three_pin(tr, tc, tw, hseg, vseg)
        return self._accumulate(hseg, vseg)

    def _key_base(self, local: np.ndarray, all_nets: bool) -> np.ndarray:
        """``local * n_cells`` as int32 (cached for the all-net evaluation)."""
        ncell = self.grid.n_cells
        if not all_nets:
            return local.astype(np.int32) * np.int32(ncell)
        if self._all_key_base is None:
            self._all_key_base = local.astype(np.int32) * np.int32(ncell)
        return self._all_key_base

    @staticmethod
    def _three_pin(tr, tc, tw, hseg, vseg) -> None:
        """Circuit Training's 3-gcell rules; gcells sorted by (col, row)."""
        y1, y2, y3 = tr[:, 0], tr[:, 1], tr[:, 2]
        x1, x2, x3 = tc[:, 0], tc[:, 1], tc[:, 2]
        lo13, hi13 = np.minimum(y1, y3), np.maximum(y1, y3)
        sk1 = (x1 < x2) & (x2 < x3) & (lo13 < y2) & (hi13 > y2)
        sk2 = ~sk1 & (x2 == x3) & (x1 < x2) & (y1 < np.minimum(y2, y3))
        sk3 = ~sk1 & ~sk2 & (y2 == y3)
        tee = ~(sk1 | sk2 | sk3)
        a = sk1 | sk2 | sk3
        # H (y1; x1..x2) for the L-shaped cases, H (y2; x2..x3) for sk1 and sk3
        hseg.append((y1[a], x1[a], x2[a], tw[a]))
        b = sk1 | sk3
        hseg.append((y2[b], x2[b], x3[b], tw[b]))
        # V (x2; y1..y2) for sk1 and sk3, V (x3; y2..y3) for sk1, V (x2; y1..max(y2,y3)) for sk2
        vseg.append((x2[b], np.minimum(y1, y2)[b], np.maximum(y1, y2)[b], tw[b]))
        vseg.append((x3[sk1], np.minimum(y2, y3)[sk1], np.maximum(y2, y3)[sk1], tw[sk1]))
        vseg.append((x2[sk2], y1[sk2], np.maximum(y2, y3)[sk2], tw[sk2]))
        if tee.any():  # T: re-sort by (row, col); trunk along the middle row
            rr, cc, ww = tr[tee], tc[tee], tw[tee]
            order = np.argsort(rr * (cc.max() + 1) + cc, axis=1, kind="stable")
            rr = np.take_along_axis(rr, order, 1)
            cc = np.take_along_axis(cc, order, 1)
            hseg.append((rr[:, 1], cc.min(1), cc.max(1), ww))
            vseg.append((cc[:, 0], np.minimum(rr[:, 0], rr[:, 1]), np.maximum(rr[:, 0], rr[:, 1]), ww))
            vseg.append((cc[:, 2], np.minimum(rr[:, 1], rr[:, 2]), np.maximum(rr[:, 1], rr[:, 2]), ww))

    def _accumulate(self, hseg, vseg) -> Tuple[np.ndarray, np.ndarray]:
        R, C = self.grid.rows, self.grid.cols
        H = np.zeros((R, C))
        V = np.zeros((R, C))
        if hseg:
            row, a, b, w = (np.concatenate(z) for z in zip(*hseg))
            d = np.bincount(row * (C + 1) + a, w, R * (C + 1)) - np.bincount(
                row * (C + 1) + b, w, R * (C + 1))
            H = np.cumsum(d.reshape(R, C + 1), axis=1)[:, :C]
        if vseg:
            col, a, b, w = (np.concatenate(z) for z in zip(*vseg))
            d = np.bincount(a * C + col, w, (R + 1) * C) - np.bincount(b * C + col, w, (R + 1) * C)
            V = np.cumsum(d.reshape(R + 1, C), axis=0)[:R]
        return H, V

    def _macro_routing(self, nodes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Raw routing resources taken by hard ``nodes`` (horizontal, vertical), binary quirks
        included: a macro that only partially covers its bottom or top row gives nothing
        vertical in its top row; likewise horizontal in its right column."""
        g = self.grid
        R, C = g.rows, g.cols
        if len(nodes) == 0:
            return np.zeros((R, C)), np.zeros((R, C))
        gw, gh = g.cell_width, g.cell_height
        w, h = self._sizes(nodes)
        h_alloc, v_alloc = self.macro_routing_alloc
        if self.compiled:
            # the same four 0/1 and length matrices, built by one loop (rectangles, overlaps and all);
            # the products stay numpy's
            ok, a_v, b_v, a_h, b_h = _macro_routing_compiled(self.x, self.y, nodes, w, h, self._col_edges,
                                                             self._row_edges, gw, gh, R, C)
            if ok:
                return h_alloc * (a_h.T @ b_h), v_alloc * (a_v.T @ b_v)
        ox, oy, _ = self._overlap_1d(nodes)
        x0, x1 = self.x[nodes] - w / 2, self.x[nodes] + w / 2
        y0, y1 = self.y[nodes] - h / 2, self.y[nodes] + h / 2
        xpos, ypos = ox > 0, oy > 0
        xd, yd = np.where(xpos, ox, 0.0), np.where(ypos, oy, 0.0)
        bl_r, ur_r = np.floor(y0 / gh).astype(np.int64), np.floor(y1 / gh).astype(np.int64)
        bl_c, ur_c = np.floor(x0 / gw).astype(np.int64), np.floor(x1 / gw).astype(np.int64)
        keep = (ur_r >= 0) & (ur_c >= 0)
        bl_r, bl_c = np.maximum(bl_r, 0), np.maximum(bl_c, 0)
        ur_r, ur_c = np.minimum(ur_r, R - 1), np.minimum(ur_c, C - 1)
        keep &= (bl_r <= ur_r) & (bl_c <= ur_c)
        rows, cols = np.arange(R)[None, :], np.arange(C)[None, :]
        in_r = (rows >= bl_r[:, None]) & (rows <= ur_r[:, None]) & keep[:, None]
        in_c = (cols >= bl_c[:, None]) & (cols <= ur_c[:, None]) & keep[:, None]
        m = np.arange(len(nodes))
        brr, urr = np.clip(bl_r, 0, R - 1), np.clip(ur_r, 0, R - 1)
        bcc, ucc = np.clip(bl_c, 0, C - 1), np.clip(ur_c, 0, C - 1)
        # vertical flag: a boundary row is not fully covered (checked over the column range)
        gap_c = (in_c & ~xpos).any(1)
        gap_r = (in_r & ~ypos).any(1)
        part_v = (gap_c | ~ypos[m, brr] | ~ypos[m, urr]
                  | (np.abs(yd[m, brr] - gh) > 1e-5) | (np.abs(yd[m, urr] - gh) > 1e-5))
        part_h = (gap_r | ~xpos[m, bcc] | ~xpos[m, ucc]
                  | (np.abs(xd[m, bcc] - gw) > 1e-5) | (np.abs(xd[m, ucc] - gw) > 1e-5))
        flag_v = keep & (ur_r != bl_r) & part_v
        flag_h = keep & (ur_c != bl_c) & part_h
        rows_v = in_r & ~(flag_v[:, None] & (rows == ur_r[:, None]))
        cols_h = in_c & ~(flag_h[:, None] & (cols == ur_c[:, None]))
        h_alloc, v_alloc = self.macro_routing_alloc
        V = v_alloc * ((ypos & rows_v).astype(np.float64).T @ (xd * in_c))
        H = h_alloc * ((yd * in_r).T @ (xpos & cols_h).astype(np.float64))
        return H, V

    def _smooth(self, M: np.ndarray, axis: int) -> np.ndarray:
        """Spread each cell's value evenly over ``+-smooth_range`` cells along ``axis``
        (clipped at the border), as the binary does."""
        s = self.smooth_range
        if s <= 0:
            return M
        n = M.shape[axis]
        i = np.arange(n)
        band = np.abs(i[:, None] - i[None, :]) <= s           # band[src, dst]
        cnt = band.sum(1, keepdims=True)
        S = band / cnt
        return M @ S if axis == 1 else S.T @ M

    def congestion_grids(self) -> Tuple[np.ndarray, np.ndarray]:
        """Final ``(horizontal, vertical)`` congestion maps, ``(rows, cols)`` each."""
        g = self.grid
        h_routes = g.cell_height * self.routes_per_micron[0]
        v_routes = g.cell_width * self.routes_per_micron[1]
        H = self._smooth(self._h_net / h_routes, axis=0) + self._h_mac / h_routes
        V = self._smooth(self._v_net / v_routes, axis=1) + self._v_mac / v_routes
        return H, V

    def congestion_cost(self) -> float:
        """Average of the top 5 % of the vertical and horizontal maps taken together."""
        H, V = self.congestion_grids()
        return top_fraction_mean(np.concatenate((V.ravel(), H.ravel())), 0.05, nonzero_only=False)

    # ----- overlap and totals ---------------------------------------------------------------
    def macro_overlap(self, nodes: Optional[np.ndarray] = None) -> float:
        """Total pairwise overlap area between hard macros (or between ``nodes``)."""
        nodes = self._hard if nodes is None else np.asarray(nodes)
        if len(nodes) < 2:
            return 0.0
        w, h = self._sizes(nodes)
        x, y = self.x[nodes], self.y[nodes]
        if self.compiled:       # the same upper-triangle matrix, summed by numpy as before
            return float(_pair_overlaps_compiled(x, y, w, h).sum())
        dx = np.minimum(x[:, None] + w[:, None] / 2, x + w / 2) - np.maximum(
            x[:, None] - w[:, None] / 2, x - w / 2)
        dy = np.minimum(y[:, None] + h[:, None] / 2, y + h / 2) - np.maximum(
            y[:, None] - h[:, None] / 2, y - h / 2)
        a = np.clip(dx, 0, None) * np.clip(dy, 0, None)
        return float(np.triu(a, 1).sum())

    def proxy_cost(self, *weights: float, **named: float) -> float:
        """``sum(weight * term)`` over the registered terms (default ``1 * wirelength + 0.5 * density +
        0.5 * congestion``); weights positional in registry order or by name (:func:`term_weights`).
        Terms of weight 0 are not computed."""
        out = 0.0
        for term, w in zip(COST_TERMS.values(), term_weights(weights or None, **named)):
            if w:
                out += w * term.fn(self)
        return out

    def evaluate(self, *weights: float, **named: float) -> Dict[str, float]:
        """``hpwl``, every registered term (``wirelength_cost``, ``density_cost``, ``congestion_cost``
        ...), ``proxy_cost`` with the given weights (as :meth:`proxy_cost`) and the hard-macro ``overlap``."""
        out = {"hpwl": self.hpwl()}
        proxy = 0.0
        for term, w in zip(COST_TERMS.values(), term_weights(weights or None, **named)):
            out[term.field] = v = term.fn(self)
            proxy += w * v
        out["proxy_cost"] = proxy
        out["overlap"] = self.macro_overlap()
        return out


# ----- the registered terms (Circuit Training's three, weights 1 / 0.5 / 0.5) --------------------------
@cost_term("wirelength", 1.0, "Wirelength cost")
def _wirelength(pc: PlacementCost) -> float:
    return pc.wirelength_cost()


@cost_term("density", 0.5, "Density cost")
def _density(pc: PlacementCost) -> float:
    return pc.density_cost()


@cost_term("congestion", 0.5, "Congestion cost")
def _congestion(pc: PlacementCost) -> float:
    return pc.congestion_cost()


# ----- the all-net routing as one compiled loop --------------------------------------------------------
def _route_all(x, y, net_ptr, net_nodes, route_w, cell_w, cell_h, R, C):
    """:meth:`PlacementCost._route` for all nets as loops: the same segments, added into the same
    bins in the same order as the numpy path's concatenated ``bincount`` calls (first every net's
    2-gcell / many-gcell L routes, then the 3-gcell rules group by group as ``_three_pin`` lists them),
    then the same row / column running sums, so the maps are bit-identical."""
    n_nets = len(net_ptr) - 1
    n_ent = len(net_nodes)
    # the gcell key (col * R + row) of every node first (a loop without branches on data: it vectorises;
    # a node is an entry of ~2.7 nets on average, so per node rather than per entry)
    node_key = np.empty(len(x), np.int64)
    for node in range(len(x)):
        r = y[node] / cell_h
        c = x[node] / cell_w
        r = r if r >= 0.0 else 0.0      # fmax(r, 0): NaN -> 0
        c = c if c >= 0.0 else 0.0
        node_key[node] = np.int64(min(c, C - 1.0)) * R + np.int64(min(r, R - 1.0))
    ent_key = np.empty(n_ent, np.int64)
    for e in range(n_ent):
        ent_key[e] = node_key[net_nodes[e]]
    row_of = np.empty(R * C, np.int64)
    col_of = np.empty(R * C, np.int64)
    for key in range(R * C):
        col_of[key] = key // R
        row_of[key] = key - (key // R) * R
    # distinct gcells of every net, sorted by (col, row), in the net's own entry slots
    # (cells[net_ptr[k]:net_ptr[k] + n_cells[k]]), so nets of two entries -- half of them, a branch
    # that cannot be predicted -- go first, in a loop of their own
    cells = np.empty(n_ent, np.int64)
    n_cells = np.empty(n_nets, np.int64)
    for k in range(n_nets):
        a, b = net_ptr[k], net_ptr[k + 1]
        if b - a != 2:
            continue
        k0, k1 = ent_key[a], ent_key[a + 1]
        cells[a] = min(k0, k1)
        cells[a + 1] = max(k0, k1)
        n_cells[k] = 1 + (k0 != k1)
    # the other nets: distinct keys first, without a branch (a key is kept when the net has not
    # stamped its gcell yet), then an insertion sort of those few
    stamp = np.full(R * C, -1, np.int64)
    for k in range(n_nets):
        a, b = net_ptr[k], net_ptr[k + 1]
        if b - a == 2:
            continue
        n_u = a
        for e in range(a, b):
            key = ent_key[e]
            cells[n_u] = key
            n_u += stamp[key] != k
            stamp[key] = k
        n = n_u - a
        if n <= 4:      # most nets: a sorting network on four slots (padded), no branch on the keys
            big = R * C
            k0 = cells[a]
            k1 = cells[a + 1] if n > 1 else big
            k2 = cells[a + 2] if n > 2 else big
            k3 = cells[a + 3] if n > 3 else big
            k0, k1 = min(k0, k1), max(k0, k1)
            k2, k3 = min(k2, k3), max(k2, k3)
            k0, k2 = min(k0, k2), max(k0, k2)
            k1, k3 = min(k1, k3), max(k1, k3)
            k1, k2 = min(k1, k2), max(k1, k2)
            cells[a] = k0
            if n > 1:
                cells[a + 1] = k1
            if n > 2:
                cells[a + 2] = k2
            if n > 3:
                cells[a + 3] = k3
        else:
            for p in range(a + 1, n_u):
                key = cells[p]
                j = p
                while j > a and cells[j - 1] > key:
                    cells[j] = cells[j - 1]
                    j -= 1
                cells[j] = key
        n_cells[k] = n
    # nets of exactly 3 gcells (their own rules below) and the others, each in net order
    three = np.empty(n_nets, np.int64)
    other = np.empty(n_nets, np.int64)
    n3 = 0
    n_other = 0
    for k in range(n_nets):
        is3 = n_cells[k] == 3
        three[n3] = k
        other[n_other] = k
        n3 += is3
        n_other += not is3
    hp = np.zeros(R * (C + 1))      # bincount of the segment starts, and of the ends
    hm = np.zeros(R * (C + 1))
    vp = np.zeros((R + 1) * C)
    vm = np.zeros((R + 1) * C)
    # nets of 2 or more than 3 gcells: the driver's gcell to every other gcell
    for q0 in range(n_other):
        k = other[q0]
        a = net_ptr[k]
        w = route_w[k]
        dk = ent_key[a]
        sc, sr = col_of[dk], row_of[dk]
        for q in range(a, a + n_cells[k]):
            key = cells[q]
            if key == dk:
                continue
            c2, r2 = col_of[key], row_of[key]
            hp[sr * (C + 1) + min(sc, c2)] += w
            hm[sr * (C + 1) + max(sc, c2)] += w
            vp[min(sr, r2) * C + c2] += w
            vm[max(sr, r2) * C + c2] += w
    # nets of exactly 3 gcells: _three_pin's cases (found once), one pass per segment group in its order
    case = np.empty(n3, np.int64)   # 1: sk1, 2: sk2, 3: sk3, 4: T
    g3 = np.empty((n3, 6), np.int64)  # x1 y1 x2 y2 x3 y3, or for a T the gcells re-sorted by (row, col)
    for q in range(n3):
        a = net_ptr[three[q]]
        x1, y1 = col_of[cells[a]], row_of[cells[a]]
        x2, y2 = col_of[cells[a + 1]], row_of[cells[a + 1]]
        x3, y3 = col_of[cells[a + 2]], row_of[cells[a + 2]]
        sk1 = x1 < x2 and x2 < x3 and min(y1, y3) < y2 and max(y1, y3) > y2
        sk2 = not sk1 and x2 == x3 and x1 < x2 and y1 < min(y2, y3)
        sk3 = not sk1 and not sk2 and y2 == y3
        if sk1 or sk2 or sk3:
            case[q] = 1 if sk1 else 2 if sk2 else 3
            g3[q, 0], g3[q, 1], g3[q, 2], g3[q, 3], g3[q, 4], g3[q, 5] = x1, y1, x2, y2, x3, y3
        else:
            # T: the gcells re-sorted by (row, col), trunk along the middle row
            r0, c0, r1, c1, r2, c2 = y1, x1, y2, x2, y3, x3
            if r1 < r0 or (r1 == r0 and c1 < c0):
                r0, c0, r1, c1 = r1, c1, r0, c0
            if r2 < r1 or (r2 == r1 and c2 < c1):
                r1, c1, r2, c2 = r2, c2, r1, c1
                if r1 < r0 or (r1 == r0 and c1 < c0):
                    r0, c0, r1, c1 = r1, c1, r0, c0
            case[q] = 4
            g3[q, 0], g3[q, 1], g3[q, 2], g3[q, 3], g3[q, 4], g3[q, 5] = r0, c0, r1, c1, r2, c2
    for group in range(7):
        for q in range(n3):
            cs = case[q]
            w = route_w[three[q]]
            if group == 0 and cs <= 3:                  # H (y1; x1..x2)
                x1, y1, x2 = g3[q, 0], g3[q, 1], g3[q, 2]
                hp[y1 * (C + 1) + x1] += w
                hm[y1 * (C + 1) + x2] += w
            elif group == 1 and (cs == 1 or cs == 3):   # H (y2; x2..x3), V (x2; y1..y2)
                y1, x2, y2, x3 = g3[q, 1], g3[q, 2], g3[q, 3], g3[q, 4]
                hp[y2 * (C + 1) + x2] += w
                hm[y2 * (C + 1) + x3] += w
                vp[min(y1, y2) * C + x2] += w
                vm[max(y1, y2) * C + x2] += w
            elif group == 2 and cs == 1:                # V (x3; y2..y3)
                y2, x3, y3 = g3[q, 3], g3[q, 4], g3[q, 5]
                vp[min(y2, y3) * C + x3] += w
                vm[max(y2, y3) * C + x3] += w
            elif group == 3 and cs == 2:                # V (x2; y1..max(y2, y3))
                y1, x2, y2, y3 = g3[q, 1], g3[q, 2], g3[q, 3], g3[q, 5]
                vp[y1 * C + x2] += w
                vm[max(y2, y3) * C + x2] += w
            elif group >= 4 and cs == 4:
                r0, c0, r1, c1, r2, c2 = g3[q, 0], g3[q, 1], g3[q, 2], g3[q, 3], g3[q, 4], g3[q, 5]
                if group == 4:
                    hp[r1 * (C + 1) + min(c0, min(c1, c2))] += w
                    hm[r1 * (C + 1) + max(c0, max(c1, c2))] += w
                elif group == 5:
                    vp[min(r0, r1) * C + c0] += w
                    vm[max(r0, r1) * C + c0] += w
                else:
                    vp[min(r1, r2) * C + c2] += w
                    vm[max(r1, r2) * C + c2] += w
    H = np.zeros((R, C))
    V = np.zeros((R, C))
    for r in range(R):
        acc = 0.0
        for c in range(C):
            acc += hp[r * (C + 1) + c] - hm[r * (C + 1) + c]
            H[r, c] = acc
    for c in range(C):
        acc = 0.0
        for r in range(R):
            acc += vp[r * C + c] - vm[r * C + c]
            V[r, c] = acc
    return H, V


_route_all_compiled = numba.njit(cache=True, nogil=True)(_route_all) if numba is not None else None


# ----- the rest of a full evaluation as loops (each equal to the numpy expression it replaces) -------
def _pins_follow(x, y, pins, parent, off_x, off_y):
    """``x[pins] = x[parent] + off_x`` (and ``y``): parents are macros, never pins."""
    for i in range(len(pins)):
        x[pins[i]] = x[parent[i]] + off_x[i]
        y[pins[i]] = y[parent[i]] + off_y[i]


def _net_hpwl(x, y, net_ptr, net_nodes, net_w):
    """``_NetBuckets.hpwl(x, y) * net_w``: per net ``((max x - min x) + max y) - min y`` (nan where a
    coordinate is nan, as numpy's max and min give), times its weight."""
    n = len(net_ptr) - 1
    out = np.empty(n)
    for k in range(n):
        a, b = net_ptr[k], net_ptr[k + 1]
        if a == b:
            out[k] = 0.0 * net_w[k]
            continue
        x_hi = x_lo = x[net_nodes[a]]
        y_hi = y_lo = y[net_nodes[a]]
        nan = (x_hi != x_hi) | (y_hi != y_hi)
        for e in range(a + 1, b):
            u, v = x[net_nodes[e]], y[net_nodes[e]]
            x_hi = u if u > x_hi else x_hi
            x_lo = u if u < x_lo else x_lo
            y_hi = v if v > y_hi else y_hi
            y_lo = v if v < y_lo else y_lo
            nan |= (u != u) | (v != v)
        if nan:                     # numpy's max / min take a nan along, and so does the span
            x_hi = np.nan
        span = x_hi - x_lo
        span += y_hi
        span -= y_lo
        out[k] = span * net_w[k]
    return out


def _cell_overlaps(x, y, nodes, w, h, col_edges, row_edges, positive):
    """:meth:`PlacementCost._overlap_1d`'s ``ox, oy`` (``np.minimum`` / ``np.maximum`` with their nan
    propagation; ``positive``: non-positive or non-finite lengths set to 0)."""
    n = len(nodes)
    C = len(col_edges) - 1
    R = len(row_edges) - 1
    ox = np.empty((n, C))
    oy = np.empty((n, R))
    for i in range(n):
        xi, yi = x[nodes[i]], y[nodes[i]]
        x0, x1 = xi - w[i] / 2, xi + w[i] / 2
        y0, y1 = yi - h[i] / 2, yi + h[i] / 2
        for c in range(C):
            hi = x1 if (x1 < col_edges[c + 1] or x1 != x1) else col_edges[c + 1]
            lo = x0 if (x0 > col_edges[c] or x0 != x0) else col_edges[c]
            v = hi - lo
            ox[i, c] = v if (not positive or (v > 0 and v < np.inf)) else 0.0
        for r in range(R):
            hi = y1 if (y1 < row_edges[r + 1] or y1 != y1) else row_edges[r + 1]
            lo = y0 if (y0 > row_edges[r] or y0 != y0) else row_edges[r]
            v = hi - lo
            oy[i, r] = v if (not positive or (v > 0 and v < np.inf)) else 0.0
    return ox, oy


def _pair_overlaps(x, y, w, h):
    """``np.triu(clip(dx, 0) * clip(dy, 0), 1)`` of :meth:`PlacementCost.macro_overlap` (``np.minimum``,
    ``np.maximum`` and ``np.clip`` take a nan along)."""
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        xl, xh = x[i] - w[i] / 2, x[i] + w[i] / 2
        yl, yh = y[i] - h[i] / 2, y[i] + h[i] / 2
        for j in range(i + 1, n):
            a, b = x[j] + w[j] / 2, x[j] - w[j] / 2
            dx = (xh if (xh < a or xh != xh) else a) - (xl if (xl > b or xl != xl) else b)
            a, b = y[j] + h[j] / 2, y[j] - h[j] / 2
            dy = (yh if (yh < a or yh != yh) else a) - (yl if (yl > b or yl != yl) else b)
            out[i, j] = (dx if (dx > 0 or dx != dx) else 0.0) * (dy if (dy > 0 or dy != dy) else 0.0)
    return out


def _macro_routing_operands(ox, oy, x0, x1, y0, y1, gw, gh, R, C):
    """The operands of :meth:`PlacementCost._macro_routing`'s two products, element by element as its
    numpy expressions give them (finite rectangles only): ``(ypos & rows_v)``, ``xd * in_c``,
    ``yd * in_r``, ``(xpos & cols_h)`` as float64 ``[n, R]`` / ``[n, C]``."""
    n = len(x0)
    a_v = np.zeros((n, R))
    b_v = np.zeros((n, C))
    a_h = np.zeros((n, R))
    b_h = np.zeros((n, C))
    for i in range(n):
        bl_r, ur_r = math.floor(y0[i] / gh), math.floor(y1[i] / gh)
        bl_c, ur_c = math.floor(x0[i] / gw), math.floor(x1[i] / gw)
        keep = ur_r >= 0 and ur_c >= 0
        bl_r, bl_c = max(bl_r, 0), max(bl_c, 0)
        ur_r, ur_c = min(ur_r, R - 1), min(ur_c, C - 1)
        keep = keep and bl_r <= ur_r and bl_c <= ur_c
        if not keep:
            continue                # in_r and in_c all False: every operand row stays 0
        brr, urr = min(max(bl_r, 0), R - 1), min(max(ur_r, 0), R - 1)
        bcc, ucc = min(max(bl_c, 0), C - 1), min(max(ur_c, 0), C - 1)
        gap_c = False
        for c in range(bl_c, ur_c + 1):
            gap_c = gap_c or not ox[i, c] > 0
        gap_r = False
        for r in range(bl_r, ur_r + 1):
            gap_r = gap_r or not oy[i, r] > 0
        yd_b = oy[i, brr] if oy[i, brr] > 0 else 0.0
        yd_u = oy[i, urr] if oy[i, urr] > 0 else 0.0
        xd_b = ox[i, bcc] if ox[i, bcc] > 0 else 0.0
        xd_u = ox[i, ucc] if ox[i, ucc] > 0 else 0.0
        part_v = (gap_c or not oy[i, brr] > 0 or not oy[i, urr] > 0
                  or abs(yd_b - gh) > 1e-5 or abs(yd_u - gh) > 1e-5)
        part_h = (gap_r or not ox[i, bcc] > 0 or not ox[i, ucc] > 0
                  or abs(xd_b - gw) > 1e-5 or abs(xd_u - gw) > 1e-5)
        flag_v = ur_r != bl_r and part_v
        flag_h = ur_c != bl_c and part_h
        for r in range(bl_r, ur_r + 1):
            ypos = oy[i, r] > 0
            a_v[i, r] = 1.0 if (ypos and not (flag_v and r == ur_r)) else 0.0
            a_h[i, r] = oy[i, r] if ypos else 0.0
        for c in range(bl_c, ur_c + 1):
            xpos = ox[i, c] > 0
            b_v[i, c] = ox[i, c] if xpos else 0.0
            b_h[i, c] = 1.0 if (xpos and not (flag_h and c == ur_c)) else 0.0
    return a_v, b_v, a_h, b_h


def _macro_routing_loops(x, y, nodes, w, h, col_edges, row_edges, gw, gh, R, C):
    """:meth:`PlacementCost._macro_routing`'s operands from the positions: the rectangles
    (``x[nodes] -+ w / 2`` ...), :func:`_cell_overlaps` and :func:`_macro_routing_operands`; ``ok`` False
    (and the operands unset) when a rectangle edge is not finite or beyond 1e15 (the numpy path's case)."""
    n = len(nodes)
    x0, x1, y0, y1 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    ok = True
    for i in range(n):
        x0[i] = x[nodes[i]] - w[i] / 2
        x1[i] = x[nodes[i]] + w[i] / 2
        y0[i] = y[nodes[i]] - h[i] / 2
        y1[i] = y[nodes[i]] + h[i] / 2
        ok = ok and abs(x0[i]) < 1e15 and abs(x1[i]) < 1e15 and abs(y0[i]) < 1e15 and abs(y1[i]) < 1e15
    if not ok:
        z = np.zeros((0, 0))
        return False, z, z, z, z
    ox, oy = _cell_overlaps_compiled(x, y, nodes, w, h, col_edges, row_edges, False)
    a_v, b_v, a_h, b_h = _macro_routing_operands_compiled(ox, oy, x0, x1, y0, y1, gw, gh, R, C)
    return True, a_v, b_v, a_h, b_h


if numba is not None:
    _macro_routing_operands_compiled = numba.njit(cache=True, nogil=True)(_macro_routing_operands)
    _pair_overlaps_compiled = numba.njit(cache=True, nogil=True)(_pair_overlaps)
    _pins_follow_compiled = numba.njit(cache=True, nogil=True)(_pins_follow)
    _net_hpwl_compiled = numba.njit(cache=True, nogil=True)(_net_hpwl)
    _cell_overlaps_compiled = numba.njit(cache=True, nogil=True)(_cell_overlaps)
    _macro_routing_compiled = numba.njit(cache=True, nogil=True)(_macro_routing_loops)
