"""Force-directed placement of soft macros (standard-cell clusters), Circuit Training's schedule.

Mirhoseini et al. (Nature 2021, Methods, "Placement of standard cells"): the netlist is a system
of springs pulling connected nodes together (force = weight x distance), overlapping nodes repel
each other, and after all forces are summed every node moves along its force vector by at most a
maximum distance per step. Circuit Training calls it with ``fd_placement_schedule``
(``circuit_training/environment/placement_util.py``): three stages of 100 steps, I/O factor 1,
move-distance factors (1, 1, 1) of ``max(canvas) / steps``, attraction (100, 1e-3, 1e-5),
repulsion (0, 1e6, 1e7), soft macros starting at the canvas centre. The binary is closed; this
module follows the open re-implementation of TILOS-AI-Institute/MacroPlacement
(``CodeElements/FDPlacement/src/FD.cpp``), vectorised with numpy:

* **attraction** -- every net is a star from its driver to each sink; the pair's spring pulls
  with ``k = weight * attract`` (``x io_factor`` when a port is involved) times the vector between
  the two pins; the force acts on the soft macros owning the pins;
* **repulsion** -- every pair of macros (hard and soft) whose boxes overlap by more than
  ``min_dist`` in both directions pushes apart with ``repel * max_move`` along the unit vector
  between their centres (``(-1, -1)`` when the centres coincide); soft macros are squares of
  their own area while the forces are computed (as TILOS does);
* a stage computes attraction only when ``repel == 0 or attract / repel > 1e-4`` and repulsion
  only when ``attract == 0 or repel / attract > 1e-4`` (so with the default schedule: stage 1 is
  pure attraction, stages 2 and 3 pure repulsion);
* per step, forces are divided by the largest ``|f_x|`` (and ``|f_y|``) over soft macros and a
  macro moves by ``force * max_move``; a move that would leave the canvas is skipped.

Hard macros and ports never move. Finally every soft macro is clipped into the canvas with its
real size (those that fit), so the result is always on the canvas.

Two paths compute these forces (``ForceDirectedPlacer(exact=...)``), each with a compiled (numba) and a
numpy backend that give the same bits:

* ``exact=True`` (default): every floating-point operation of the original numpy loop in its order (spring
  forces per edge summed per macro in edge order, overlapping pairs summed in the sweep's order, ``hypot``),
  so the results of earlier sessions and the recorded costs (tests/placement/fd_costs_b5e083d.json) stay
  bit for bit;
* ``exact=False``: the attraction as a sparse linear map per axis, ``f = a (A p - d p + c)`` (the 31,814
  spring edges of ariane133 merged into 18,709 entries, one row per movable macro; :class:`_Springs`), and
  each overlapping pair's repulsion added to both macros as the sweep finds it, its length by ``sqrt``:
  ~1.7x less CPU on ariane133. The method is chaotic, so the positions differ from the exact path's after a
  few steps: summing the *same* spring forces in another order moves the proxy cost after FD by up to 2.6%
  (experiments/benchmarks/fd_order_sensitivity.py), and ``exact=False`` lands within that spread (at most
  0.8% from the recorded costs on the 20 recorded cases, mean +0.06%).

Each choice and its source (Circuit Training @ ``placement_util.py``/``environment.py``, TILOS
``FD.cpp``; the binary's ``optimize_stdcells`` itself is closed):

* the schedule numbers and ``max_move = factor * max(W, H) / steps``: ``fd_placement_schedule``;
* ``move_stdcells=True, move_macros=False``: ``fd_placement_schedule`` (only soft macros move);
* ``log_scale_conns=False``: ``fd_placement_schedule`` -- springs are linear in the weight;
* ``use_sizes=False``: ``fd_placement_schedule``; sizes enter only through the overlap test;
* soft macros as squares: ``create_placement_cost`` calls ``plc.make_soft_macros_square()``
  before any FD ("better for analytical std cell placers like FD"), and TILOS does the same;
* start at the canvas centre (``use_current_loc=False``): CT's environment calls
  ``fd_placement_schedule(plc)`` with the defaults at the end of every episode (TILOS'
  ``InitSoftMacros``); CT's coordinate-descent placer instead calls it with
  ``use_current_loc=True`` and *reverts* the soft macros when the proxy cost got worse
  (``accept_bad_stdcell_moves=False``) -- :func:`rlframe.placement.baselines` reports that
  variant too;
* star-model springs, constant repulsion ``repel * max_move`` per overlapping pair, per-axis
  normalisation by the largest force, rejected off-canvas moves: TILOS ``FD.cpp`` (the Nature
  paper's Methods only say "weight x distance" springs, repulsion between overlapping nodes and
  a maximum move per step).

Measured on ariane133 (``legalized.plc``'s hard macros): from the centre the proxy cost is 0.819
(density 0.71: 72k um^2 of soft macros end up on hard macros, against 13k in the shipped
placement), from the shipped soft-macro positions 0.715, the shipped positions themselves 0.686.
Longer repulsion stages (300 steps) give 0.822, CT's mixed-size schedule (move factors 1, 2, 2,
repulsion 1e5, 1e6) 0.817, and square soft macros in the cost 0.815: the gap is in the method,
not in a parameter we could read off the sources.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.geometry import oriented_size, rotate_offsets
from rlframe.placement.formats.netlist import HARD_MACRO, PORT, SOFT_MACRO, Netlist

try:   # the compiled step loop (an install requirement; without it the numpy loop runs, same result)
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

#: ``ForceDirectedPlacer(backend=...)`` values: ``"auto"`` is ``"numba"`` when numba imports.
BACKENDS = ("auto", "numba", "numpy")


@dataclasses.dataclass(frozen=True)
class FDSchedule:
    """Circuit Training's ``fd_placement_schedule`` defaults (one entry per stage)."""

    num_steps: Tuple[int, ...] = (100, 100, 100)
    io_factor: float = 1.0
    move_distance_factors: Tuple[float, ...] = (1.0, 1.0, 1.0)
    attract_factor: Tuple[float, ...] = (100.0, 1.0e-3, 1.0e-5)
    repel_factor: Tuple[float, ...] = (0.0, 1.0e6, 1.0e7)
    use_current_loc: bool = False

    def __post_init__(self) -> None:
        n = len(self.num_steps)
        if not (len(self.move_distance_factors) == len(self.attract_factor)
                == len(self.repel_factor) == n):
            raise ValueError(
                f"FDSchedule: num_steps, move_distance_factors, attract_factor and repel_factor "
                f"must have the same length, got {n}, {len(self.move_distance_factors)}, "
                f"{len(self.attract_factor)}, {len(self.repel_factor)}")


@dataclasses.dataclass
class _Bodies:
    """What one run needs that depends only on the orientations (kept while they do not change)."""

    sdx: np.ndarray      # rotated pin offsets of the spring ends (0 for a macro's own centre)
    sdy: np.ndarray
    tdx: np.ndarray
    tdy: np.ndarray
    mw: np.ndarray       # macro sizes used by the overlap test (soft macros squared)
    mh: np.ndarray
    mv_hw: np.ndarray    # half sizes of the movable nodes (canvas check of a move)
    mv_hh: np.ndarray
    off4: np.ndarray     # (tdx, sdx, tdy, sdy) per spring edge, interleaved (the compiled loop's)
    mv_w: np.ndarray     # real sizes of the movable nodes as oriented (the final clip)
    mv_h: np.ndarray
    pin_parent: np.ndarray  # the movable macros' pins: parent node and rotated offsets (the pins follow)
    pin_dx: np.ndarray
    pin_dy: np.ndarray


@dataclasses.dataclass
class _Springs:
    """The attraction in linear form (``exact=False``): per axis, ``f = attract * (A p - d * p + c)``.

    Every spring edge ``e`` between bodies ``s`` (driver side) and ``t`` adds ``v = k (p_t + o_t - p_s - o_s)``
    to ``s`` and ``-v`` to ``t`` (``k = weight``, ``x io_factor`` with a port; ``o`` the pin offsets), so a
    movable body ``i`` gets ``sum k p_other - (sum k) p_i + sum +-k (o_t - o_s)``: row ``i`` of ``A`` (CSR,
    ``ptr``/``col``/``val``, columns are body indices, fixed bodies included) holds the edges' ``k`` merged
    per other body, ``d`` the sum of ``k`` over the edges at ``i``, ``cx``/``cy`` the pin-offset terms.
    Built once per (orientation, io_factor)."""

    ptr: np.ndarray
    col: np.ndarray      # body indices (uint32)
    col_node: np.ndarray  # the same as node indices (the numpy loop's)
    row: np.ndarray      # the row of each entry (the numpy loop's bincount)
    val: np.ndarray
    diag: np.ndarray
    cx: np.ndarray
    cy: np.ndarray


class ForceDirectedPlacer:
    """Force-directed placer for the soft macros of one netlist (precomputes the spring edges).

    Args:
        netlist: the netlist.
        canvas: ``(width, height)``.
        movable: node indices that move (default: all soft macros).
        square_soft_macros: compute overlaps with soft macros as squares of the same area.
        min_dist: overlap (microns) below which two macros do not repel (TILOS: 1e-4).
        backend: ``"numba"`` (the step loop compiled; ~10.6-10.8x less CPU than the numpy loop of
            git ``98c0aaf`` on ariane133, experiments/benchmarks/results/placement_cost_s7_fd*.json), ``"numpy"``
            (vectorised per step) or ``"auto"`` (numba when it imports). Both do the same floating-point
            operations in the same order, so their results are bit-identical (tested): the method is
            chaotic -- summing the same spring forces in another order moves the proxy cost after FD
            by up to 2.8% on ariane133's legalized.plc -- so the exact path reorders no sum.
        exact: ``True`` (default): the operations of the numpy loop in its order, so the results of
            every earlier session (and the golden FD costs) are reproduced bit for bit. ``False``: the
            same forces in linear-algebra form (:class:`_Springs`: springs merged per pair of bodies,
            repulsion added per pair as it is found, ``sqrt`` instead of ``hypot``), ~1.7x less CPU; its
            results differ from the exact ones as much as a reordered sum does (the method's chaos:
            docs/placement.md, experiments/benchmarks/fd_order_sensitivity.py). Both backends give the
            same bits in either mode.

    ``run(x, y, orientation)`` returns new ``(x, y)`` node arrays (pins of moved macros
    follow them).
    """

    def __init__(self, netlist: Netlist, canvas: Tuple[float, float],
                 movable: Optional[Sequence[int]] = None, square_soft_macros: bool = True,
                 min_dist: float = 1e-4, backend: str = "auto", exact: bool = True):
        if backend not in BACKENDS:
            raise ConfigError(f"ForceDirectedPlacer: backend={backend!r}; choose one of {BACKENDS}")
        if backend == "numba" and numba is None:
            raise ConfigError("ForceDirectedPlacer: backend='numba' but numba is not installed "
                              "(pip install numba), or use backend='numpy' (same result, slower)")
        self.backend = "numba" if backend == "auto" and numba is not None else \
            "numpy" if backend == "auto" else backend
        nl = self.netlist = netlist
        self.canvas = (float(canvas[0]), float(canvas[1]))
        self.min_dist = float(min_dist)
        self.movable = (nl.soft_macro_indices if movable is None
                        else np.asarray(movable, np.int64))
        self.square_soft_macros = square_soft_macros
        self.exact = bool(exact)
        m = len(self.movable)
        compact = np.full(nl.n_nodes, m, np.int64)       # m = "not movable" slot
        compact[self.movable] = np.arange(m)
        self._compact = compact

        # star edges: (driver entry, sink entry) of every net
        deg = nl.net_degree
        src = np.repeat(nl.net_ptr[:-1], np.maximum(deg - 1, 0))
        is_sink = np.ones(len(nl.net_nodes), bool)
        is_sink[nl.net_ptr[:-1]] = False
        snk = np.flatnonzero(is_sink)
        net_of_snk = np.repeat(np.arange(nl.n_nets), np.maximum(deg - 1, 0))
        s_node, t_node = nl.net_nodes[src], nl.net_nodes[snk]
        par = nl.pin_parent
        s_body = np.where(par[s_node] >= 0, par[s_node], s_node)
        t_body = np.where(par[t_node] >= 0, par[t_node], t_node)
        keep = ((compact[s_body] < m) | (compact[t_body] < m)) & (s_body != t_body)
        self._s_node, self._t_node = s_node[keep], t_node[keep]
        self._s_body, self._t_body = s_body[keep], t_body[keep]
        self._s_idx, self._t_idx = compact[self._s_body], compact[self._t_body]
        io = (nl.node_type[self._s_node] == PORT) | (nl.node_type[self._t_node] == PORT)
        self._w = nl.net_weight[net_of_snk[keep]]
        self._io = io
        # repulsion: every hard and soft macro
        self._macros = nl.indices_of(HARD_MACRO, SOFT_MACRO)
        self._macro_slot = compact[self._macros]
        # the compiled loop works on "bodies": the movable nodes (0 .. m-1), then every other node
        # a spring or the overlap test reads (hard macros, ports, fixed soft macros)
        others = np.unique(np.concatenate((self._s_body, self._t_body, self._macros)))
        self._bodies_nodes = np.concatenate((self.movable, others[compact[others] == m]))
        body_of = np.full(nl.n_nodes, -1, np.int64)
        body_of[self._bodies_nodes] = np.arange(len(self._bodies_nodes))
        # unsigned: a signed index costs the compiled loop a negative-index check per access
        self._e_s = body_of[self._s_body].astype(np.uint32)
        self._e_t = body_of[self._t_body].astype(np.uint32)
        self._macro_body = body_of[self._macros].astype(np.uint32)
        self._macro_slot_u = self._macro_slot.astype(np.uint32)
        self._mv_pins = np.flatnonzero(np.isin(nl.pin_parent, self.movable))
        self._bodies: Optional[_Bodies] = None
        self._bodies_key: Optional[bytes] = None
        self._springs: Optional[_Springs] = None
        self._springs_key: Optional[tuple] = None
        self._k_io_key: Optional[float] = None
        self._k_io_val = np.zeros(0)

    @property
    def n_edges(self) -> int:
        return len(self._s_node)

    # ------------------------------------------------------------------------------------------
    def _offsets(self, nodes: np.ndarray, orientation: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        nl = self.netlist
        par = nl.pin_parent[nodes]
        dx, dy = rotate_offsets(nl.pin_x_offset[nodes], nl.pin_y_offset[nodes],
                                orientation[np.maximum(par, 0)])
        is_pin = par >= 0
        return np.where(is_pin, dx, 0.0), np.where(is_pin, dy, 0.0)

    def _bodies_for(self, orientation: np.ndarray) -> _Bodies:
        """Pin offsets and overlap sizes for ``orientation`` (cached: an env's episodes all use
        the same orientations)."""
        key = orientation.tobytes()
        if self._bodies is not None and self._bodies_key == key:
            return self._bodies
        nl = self.netlist
        sdx, sdy = self._offsets(self._s_node, orientation)
        tdx, tdy = self._offsets(self._t_node, orientation)
        macros = self._macros
        mw, mh = oriented_size(nl, orientation, macros)
        if self.square_soft_macros:
            soft = nl.node_type[macros] == SOFT_MACRO
            side = np.sqrt(mw * mh)
            mw, mh = np.where(soft, side, mw), np.where(soft, side, mh)
        fd_w = np.zeros(nl.n_nodes)
        fd_h = np.zeros(nl.n_nodes)
        fd_w[macros], fd_h[macros] = mw, mh
        mv = self.movable
        off4 = np.stack((tdx, sdx, tdy, sdy), 1).ravel()
        pins = self._mv_pins
        pin_parent = nl.pin_parent[pins]
        pin_dx, pin_dy = rotate_offsets(nl.pin_x_offset[pins], nl.pin_y_offset[pins], orientation[pin_parent])
        self._bodies = _Bodies(sdx, sdy, tdx, tdy, mw, mh, fd_w[mv] / 2, fd_h[mv] / 2, off4,
                               *oriented_size(nl, orientation, mv), pin_parent, pin_dx, pin_dy)
        self._bodies_key = key
        return self._bodies

    def _k_io(self, io_factor: float) -> np.ndarray:
        """The spring constants per edge before the stage's attraction factor (cached per ``io_factor``)."""
        if self._k_io_key != io_factor:
            self._k_io_val = self._w * np.where(self._io, io_factor, 1.0)
            self._k_io_key = io_factor
        return self._k_io_val

    def _springs_for(self, b: _Bodies, orientation: np.ndarray, io_factor: float) -> _Springs:
        """:class:`_Springs` for ``orientation`` and ``io_factor`` (cached like :meth:`_bodies_for`)."""
        key = (orientation.tobytes(), float(io_factor))
        if self._springs is not None and self._springs_key == key:
            return self._springs
        m, nb = len(self.movable), len(self._bodies_nodes)
        k = self._w * np.where(self._io, io_factor, 1.0)
        s, t = self._e_s.astype(np.int64), self._e_t.astype(np.int64)
        ox, oy = k * (b.tdx - b.sdx), k * (b.tdy - b.sdy)
        s_mv, t_mv = s < m, t < m
        row = np.concatenate((s[s_mv], t[t_mv]))
        col = np.concatenate((t[s_mv], s[t_mv]))
        kk = np.concatenate((k[s_mv], k[t_mv]))
        key_rc, inv = np.unique(row * nb + col, return_inverse=True)
        val = np.bincount(inv, kk, len(key_rc))
        r, c = key_rc // nb, key_rc % nb
        ptr = np.searchsorted(r, np.arange(m + 1))
        diag = np.bincount(row, kk, m)
        cx = np.bincount(s[s_mv], ox[s_mv], m) - np.bincount(t[t_mv], ox[t_mv], m)
        cy = np.bincount(s[s_mv], oy[s_mv], m) - np.bincount(t[t_mv], oy[t_mv], m)
        self._springs = _Springs(ptr.astype(np.int64), c.astype(np.uint32), self._bodies_nodes[c], r, val,
                                 diag, cx, cy)
        self._springs_key = key
        return self._springs

    def run(self, x: np.ndarray, y: np.ndarray, orientation: np.ndarray,
            schedule: Optional[FDSchedule] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Place the movable macros; ``x, y, orientation`` are node arrays (not modified)."""
        sch = schedule or FDSchedule()
        W, H = self.canvas
        mv = self.movable
        X, Y = np.array(x, np.float64), np.array(y, np.float64)
        if len(mv) == 0:
            return X, Y
        orientation = np.asarray(orientation)
        if not sch.use_current_loc:
            X[mv], Y[mv] = W / 2, H / 2
        b = self._bodies_for(orientation)
        k_io = self._k_io(sch.io_factor)
        steps = self._steps_numba if self.backend == "numba" else self._steps_numpy
        if not self.exact:   # the linear form takes the attraction factor, the exact loop per-edge constants
            fast = self._fast_numba if self.backend == "numba" else self._fast_numpy
            steps = functools.partial(fast, sp=self._springs_for(b, orientation, sch.io_factor))
        size = max(W, H)
        for n_steps, mf, a, r in zip(sch.num_steps, sch.move_distance_factors,
                                     sch.attract_factor, sch.repel_factor):
            if a == 0 and r == 0:
                continue
            max_move = mf * size / n_steps
            do_attract = bool(r == 0 or a / r > 1e-4) and len(k_io) > 0
            do_repel = bool(a == 0 or r / a > 1e-4)
            steps(X, Y, b, int(n_steps), max_move,
                  (a if not self.exact else k_io * a) if do_attract else None,
                  r * max_move if do_repel else None)

        # real sizes inside the canvas (where they fit)
        rw, rh = b.mv_w, b.mv_h
        X[mv] = np.where(rw <= W, np.clip(X[mv], rw / 2, W - rw / 2), X[mv])
        Y[mv] = np.where(rh <= H, np.clip(Y[mv], rh / 2, H - rh / 2), Y[mv])
        pins = self._mv_pins      # as geometry.pin_positions places them (offsets rotated once per orientation)
        if len(pins):
            X[pins], Y[pins] = X[b.pin_parent] + b.pin_dx, Y[b.pin_parent] + b.pin_dy
        return X, Y

    # ----- one stage: the compiled loop ----------------------------------------------------------
    def _steps_numba(self, X, Y, b: _Bodies, n_steps: int, max_move: float,
                     k: Optional[np.ndarray], strength: Optional[float]) -> None:
        nodes, m = self._bodies_nodes, len(self.movable)
        bx, by = X[nodes], Y[nodes]
        _stage(bx, by, m, b.mv_hw, b.mv_hh, self.canvas[0], self.canvas[1], n_steps, max_move,
                        k is not None, k if k is not None else np.zeros(0), self._e_s, self._e_t,
                        b.off4,
                        strength is not None, float(strength or 0.0), self._macro_body, self._macros,
                        self._macro_slot_u, b.mw, b.mh, self.min_dist, _own_hypot_matches())
        X[self.movable], Y[self.movable] = bx[:m], by[:m]

    # ----- one stage, exact=False: linear springs, pairs added as found -----------------------------
    def _fast_numba(self, X, Y, b: _Bodies, n_steps: int, max_move: float,
                    attract: Optional[float], strength: Optional[float], sp: _Springs) -> None:
        nodes, m = self._bodies_nodes, len(self.movable)
        bx, by = X[nodes], Y[nodes]
        _stage_fast(bx, by, m, b.mv_hw, b.mv_hh, self.canvas[0], self.canvas[1], n_steps, max_move,
                    attract is not None, float(attract or 0.0), sp.ptr, sp.col, sp.val, sp.diag, sp.cx, sp.cy,
                    strength is not None, float(strength or 0.0), self._macro_body, self._macros,
                    self._macro_slot_u, b.mw, b.mh, self.min_dist)
        X[self.movable], Y[self.movable] = bx[:m], by[:m]

    def _fast_numpy(self, X, Y, b: _Bodies, n_steps: int, max_move: float,
                    attract: Optional[float], strength: Optional[float], sp: _Springs) -> None:
        """:func:`_stage_fast` in numpy: the same operations in the same order (bit-identical)."""
        mv, m = self.movable, len(self.movable)
        for _ in range(n_steps):
            fx = np.zeros(m + 1)
            fy = np.zeros(m + 1)
            if attract is not None:   # a row's entries are summed in order from 0, as the loop does
                fx[:m] = attract * ((np.bincount(sp.row, sp.val * X[sp.col_node], m) - sp.diag * X[mv]) + sp.cx)
                fy[:m] = attract * ((np.bincount(sp.row, sp.val * Y[sp.col_node], m) - sp.diag * Y[mv]) + sp.cy)
            if strength is not None:
                i, j, ux, uy = self._overlapping(X, Y, b.mw, b.mh, exact=False)
                idx = np.stack((self._compact[self._macros[i]], self._compact[self._macros[j]]), 1).ravel()
                np.add.at(fx, idx, np.stack((strength * ux, -(strength * ux)), 1).ravel())
                np.add.at(fy, idx, np.stack((strength * uy, -(strength * uy)), 1).ravel())
            self._move(X, Y, b, fx[:m], fy[:m], max_move)

    def _move(self, X, Y, b: _Bodies, fx, fy, max_move: float) -> None:
        """Normalise the forces per axis and move the movable macros (moves off the canvas skipped)."""
        mv = self.movable
        W, H = self.canvas
        mx, my = np.abs(fx).max(), np.abs(fy).max()
        if mx > 0:
            fx = fx / mx
        if my > 0:
            fy = fy / my
        nx = X[mv] + fx * max_move
        ny = Y[mv] + fy * max_move
        ok = ((nx - b.mv_hw >= 0) & (ny - b.mv_hh >= 0) & (nx + b.mv_hw <= W)
              & (ny + b.mv_hh <= H))
        X[mv] = np.where(ok, nx, X[mv])
        Y[mv] = np.where(ok, ny, Y[mv])

    # ----- one stage: the numpy loop (the reference the compiled one must equal) --------------------
    def _steps_numpy(self, X, Y, b: _Bodies, n_steps: int, max_move: float,
                     k: Optional[np.ndarray], strength: Optional[float]) -> None:
        m = len(self.movable)
        for _ in range(n_steps):
            fx = np.zeros(m + 1)
            fy = np.zeros(m + 1)
            if k is not None:
                ex = k * (X[self._t_body] + b.tdx - X[self._s_body] - b.sdx)
                ey = k * (Y[self._t_body] + b.tdy - Y[self._s_body] - b.sdy)
                fx += np.bincount(self._s_idx, ex, m + 1) - np.bincount(self._t_idx, ex, m + 1)
                fy += np.bincount(self._s_idx, ey, m + 1) - np.bincount(self._t_idx, ey, m + 1)
            if strength is not None:
                i, j, ux, uy = self._overlapping(X, Y, b.mw, b.mh, exact=True)
                ci, cj = self._compact[self._macros[i]], self._compact[self._macros[j]]
                n = len(fx)
                fx += np.bincount(ci, strength * ux, n) - np.bincount(cj, strength * ux, n)
                fy += np.bincount(ci, strength * uy, n) - np.bincount(cj, strength * uy, n)
            self._move(X, Y, b, fx[:m], fy[:m], max_move)

    def _overlapping(self, X, Y, mw, mh, exact: bool):
        """The overlapping macro pairs (sweep over sorted x; positions in ``self._macros``), each as
        ``(i, j, ux, uy)`` with ``i`` the lower node index (TILOS' convention) and ``(ux, uy)`` the unit
        vector from ``j`` to ``i`` (``(-1, -1)`` when the centres coincide), in the sweep's order: macros
        by ascending left edge (ties by position), each with the later ones left of its right edge.
        ``exact``: the length by ``np.hypot``, else ``sqrt(dx*dx + dy*dy)`` (the fast path's)."""
        macros = self._macros
        cx, cy = X[macros], Y[macros]
        lx, ux = cx - mw / 2, cx + mw / 2
        order = np.argsort(lx, kind="stable")
        lx_s = lx[order]
        end = np.searchsorted(lx_s, ux[order], side="left")   # candidates: (pos, end)
        pos = np.arange(len(order))
        cnt = np.maximum(end - pos - 1, 0)
        a = np.repeat(pos, cnt)
        b = _ranges(pos + 1, cnt)
        i, j = order[a], order[b]
        md = self.min_dist
        dx = cx[i] - cx[j]
        dy = cy[i] - cy[j]
        hit = ((np.abs(dx) < (mw[i] + mw[j]) / 2 - md) & (np.abs(dy) < (mh[i] + mh[j]) / 2 - md))
        i, j, dx, dy = i[hit], j[hit], dx[hit], dy[hit]
        swap = macros[i] > macros[j]
        i, j = np.where(swap, j, i), np.where(swap, i, j)
        dx, dy = np.where(swap, -dx, dx), np.where(swap, -dy, dy)
        d = np.hypot(dx, dy) if exact else np.sqrt(dx * dx + dy * dy)
        same = d == 0
        ux_ = np.where(same, -1.0, dx / np.where(same, 1.0, d))
        uy_ = np.where(same, -1.0, dy / np.where(same, 1.0, d))
        return i, j, ux_, uy_


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    total = int(lengths.sum())
    offs = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offs, lengths)


# ----- the compiled stage ------------------------------------------------------------------------
_HYPOT_LARGE, _HYPOT_TINY, _HYPOT_EPS = 2.0 ** 511, 2.0 ** -511, 2.0 ** -54   # glibc's e_hypot.c


def _hypot(x: float, y: float) -> float:
    """``hypot(x, y)`` as the GNU C library (2.35 and later, x86-64 build without FMA) computes it:
    Borges' corrected ``sqrt(x^2 + y^2)`` ("An Improved Algorithm for hypot(a,b)", 2019) for the
    common range, the library itself elsewhere; every operation as glibc's ``e_hypot.c`` orders it.
    Used in the compiled loop only where :func:`_own_hypot_matches` says it equals ``np.hypot`` here."""
    ax, ay = abs(x), abs(y)
    if ax < ay:
        ax, ay = ay, ax
    if not (ax <= _HYPOT_LARGE and ay >= _HYPOT_TINY):     # huge, tiny, inf or nan: the library's scaling
        return math.hypot(x, y)
    if ay <= ax * _HYPOT_EPS:
        return ax + ay
    h = math.sqrt(ax * ax + ay * ay)
    if h <= 2.0 * ay:
        delta = h - ay
        t1 = ax * (2.0 * delta - ax)
        t2 = (delta - 2.0 * (ax - ay)) * delta
    else:
        delta = h - ax
        t1 = 2.0 * delta * (ax - 2.0 * ay)
        t2 = (4.0 * delta - ay) * ay + delta * delta
    return h - (t1 + t2) / (2.0 * h)


def _hypot_common(x: float, y: float) -> Tuple[float, bool]:
    """:func:`_hypot` without branches for its common range, and whether the input was outside it."""
    ax, ay = abs(x), abs(y)
    big = max(ax, ay)
    small = min(ax, ay)
    # outside: inf, nan, huge, or tiny but not zero (a zero side takes the ``big + small`` branch)
    odd = not ((ax <= _HYPOT_LARGE) & (ay <= _HYPOT_LARGE) & ((small >= _HYPOT_TINY) | (small == 0.0)))
    h = math.sqrt(big * big + small * small)
    near = h <= 2.0 * small
    delta = h - (small if near else big)
    t1 = big * (2.0 * delta - big) if near else 2.0 * delta * (big - 2.0 * small)
    t2 = (delta - 2.0 * (big - small)) * delta if near else (4.0 * delta - small) * small + delta * delta
    h = h - (t1 + t2) / (2.0 * h)
    return (big + small if small <= big * _HYPOT_EPS else h), odd


def _grown(h_lo, h_hi, h_dx, h_dy, keep, need):
    """The pair buffers of the compiled stage with room for ``need`` entries (the first ``keep`` kept)."""
    size = max(need, 2 * len(h_lo))
    lo, hi, dx, dy = np.empty(size, np.uint32), np.empty(size, np.uint32), np.empty(size), np.empty(size)
    lo[:keep], hi[:keep], dx[:keep], dy[:keep] = h_lo[:keep], h_hi[:keep], h_dx[:keep], h_dy[:keep]
    return lo, hi, dx, dy


_OWN_HYPOT_OK: Optional[bool] = None


def _own_hypot_matches() -> bool:
    """Whether :func:`_hypot` compiled equals ``np.hypot`` (the numpy loop's) on this machine, checked
    once per process on 200k pairs (FD repulsion's range: near-equal, integer-grid and widely spread
    magnitudes, signs, zeros)."""
    global _OWN_HYPOT_OK
    if _OWN_HYPOT_OK is None:
        rng = np.random.default_rng(12345)
        n = 50_000
        a = rng.uniform(-1e3, 1e3, n)
        x = np.concatenate((a, rng.integers(-200, 200, n) * 0.25, rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-8, 8, n),
                            [0.0, -0.0, 3.0, 1e-300, 1e300]))
        y = np.concatenate((a * rng.uniform(0.999, 1.001, n), rng.integers(-200, 200, n) * 0.25,
                            rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-8, 8, n), [0.0, 5.0, -4.0, 1e-300, 1.0]))
        x, y = np.concatenate((x, rng.uniform(-50, 50, n))), np.concatenate((y, rng.uniform(-50, 50, n)))
        _OWN_HYPOT_OK = bool(np.array_equal(_hypot_many(x, y), np.hypot(x, y)))
    return _OWN_HYPOT_OK


def _hypot_many(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Element-wise hypot the way the compiled stage takes it (:func:`_hypot_common`, :func:`_hypot`
    outside its range)."""
    out = np.empty(len(x))
    for i in range(len(x)):
        u, odd = _hypot_common(x[i], y[i])
        out[i] = _hypot(x[i], y[i]) if odd else u
    return out


def _sweep_order(bx, mac, mw, key, order):
    """Re-sort ``order`` (the previous step's, nearly sorted) by (left edge, index) -- a stable argsort's
    order -- with an insertion sort; ``key[p]`` gets the left edge of macro ``order[p]``. The keys are
    gathered once in the previous order and sorted along with it, so the inner loop reads them
    contiguously (~3,300 inversions per repulsion step on ariane133, one gather per macro)."""
    n = len(mac)
    for p in range(n):
        i = order[p]
        key[p] = bx[mac[i]] - mw[i] / 2
    for p in range(1, n):
        q = order[p]
        kq = key[p]
        r = p - 1
        while r >= 0 and (key[r] > kq or (key[r] == kq and order[r] > q)):
            order[r + 1] = order[r]
            key[r + 1] = key[r]
            r -= 1
        order[r + 1] = q
        key[r + 1] = kq


def _sweep_buffers(n):
    """The sweep's arrays for ``n`` macros: left edges and order (:func:`_sweep_order`), the per-macro
    records of :func:`_sweep_fill` (``sv``, ``sw``, ``ss``, ``sn``), and room for one macro's candidates
    (those that pass the vertical test)."""
    return (np.empty(n), np.arange(n).astype(np.uint32), np.empty(4 * n), np.empty(n), np.empty(n, np.uint32),
            np.empty(n, np.int64), np.empty(n, np.uint32))


def _sweep_fill(bx, by, mac, nid, slot, mw, mh, key, order, sv, sw, ss, sn):
    """The macros in sweep order (:func:`_sweep_order`'s ``order``, ``key`` their left edges) as the pair
    search reads them: (left edge, centre y, height, centre x) packed per macro (what a candidate test
    reads sits in one cache line), then width, slot and node index."""
    for p in range(len(order)):
        i = order[p]
        sv[4 * p] = key[p]
        sv[4 * p + 1] = by[mac[i]]
        sv[4 * p + 2] = mh[i]
        sv[4 * p + 3] = bx[mac[i]]
        sw[p] = mw[i]
        ss[p] = slot[i]
        sn[p] = nid[i]


def _overlapping_pairs(p0, nh, sv, sw, ss, sn, cand, h_lo, h_hi, h_dx, h_dy, m, md):
    """The overlapping pairs of the macros from sweep position ``p0`` on (:func:`_sweep_fill`'s records),
    in sweep order, appended to the pair buffers at ``nh`` as (lower-index side's slot, other slot, dx,
    dy); pairs of two fixed macros (slot ``m``) are dropped. Returns the position it stopped at (``n``
    when done, earlier when a macro's candidates may not fit the buffers) and the new ``nh``.

    Its own function so that the caller's reallocation (:func:`_grown`) stays outside the loop: numba
    counts references to arrays that a loop may rebind, eight atomic counter updates per macro, which
    took a quarter of a repulsion step on ariane133 (9.5 -> 7.1 ms CPU per 100-step stage).

    A macro's candidates (later macros whose left edge is left of its right edge) are first filtered on
    the vertical overlap test without branches (about one in ten passes, so a branch per candidate
    mostly mispredicts), then the survivors take the rest of the tests in the same order."""
    n = len(sw)
    mu = np.uint32(m)      # indices are unsigned (uint32): no negative-index check per access
    nu = np.uint32(n)
    one = np.uint32(1)
    for p in range(p0, n):
        xp, yp, wp, hp, sp, idp = sv[4 * p + 3], sv[4 * p + 1], sw[p], sv[4 * p + 2], ss[p], sn[p]
        right = xp + wp / 2
        nc = 0
        r = np.uint32(p) + one
        while r < nu and sv[4 * r] < right:
            cand[nc] = r            # kept (nc moves on) only if the vertical test passes
            nc += abs(yp - sv[4 * r + 1]) < (hp + sv[4 * r + 2]) / 2 - md
            r += one
        if nh + nc > len(h_lo):
            return p, nh
        for q in range(nc):
            rc = cand[q]
            dx = xp - sv[4 * rc + 3]
            dy = yp - sv[4 * rc + 1]
            sr = ss[rc]
            flip = idp > sn[rc]     # src = the lower node index (TILOS' convention)
            h_lo[nh] = sr if flip else sp
            h_hi[nh] = sp if flip else sr
            h_dx[nh] = -dx if flip else dx
            h_dy[nh] = -dy if flip else dy
            nh += (abs(dx) < (wp + sw[rc]) / 2 - md) & ((sp != mu) | (sr != mu))
    return n, nh


def _move_bodies(bx, by, fx, fy, m, mv_hw, mv_hh, W, H, max_move):
    """:meth:`ForceDirectedPlacer._move` on the first ``m`` bodies (the movable ones)."""
    mx = 0.0
    my = 0.0
    for i in range(m):
        mx = max(mx, abs(fx[i]))
        my = max(my, abs(fy[i]))
    for i in range(m):
        gx = fx[i] / mx if mx > 0 else fx[i]
        gy = fy[i] / my if my > 0 else fy[i]
        nx = bx[i] + gx * max_move
        ny = by[i] + gy * max_move
        if nx - mv_hw[i] >= 0 and ny - mv_hh[i] >= 0 and nx + mv_hw[i] <= W and ny + mv_hh[i] <= H:
            bx[i] = nx
            by[i] = ny


def _stage(bx, by, m, mv_hw, mv_hh, W, H, n_steps, max_move,
           attract, k, e_s, e_t, off4,
           repel, strength, mac, nid, slot, mw, mh, md, own_hypot):
    """``n_steps`` steps of one stage on the body positions ``bx, by`` (movable bodies first, then
    the fixed ones the springs and the overlap test read): :meth:`ForceDirectedPlacer._steps_numpy` as
    loops, every floating-point operation as numpy does it and every sum in numpy's order.

    * attraction: ``np.bincount`` adds the edge forces into a zero bin array in edge order, and the
      force is ``0 + (sum over the driver side - sum over the sink side)``;
    * repulsion: the pairs come in the numpy sweep's order -- macros by ascending left edge, ties by
      position in ``macros`` (a stable sort; here an insertion sort of the previous step's order,
      which is nearly sorted already), each with the later macros whose left edge is left of its
      right edge -- and their forces are summed per side the same way; sums into the discarded
      "not movable" slot ``m`` are skipped. The pairs are found by :func:`_overlapping_pairs` (a
      function of its own, so that growing its buffers does not put numba's reference counting into
      the per-macro loop);
    * ``own_hypot``: :func:`_hypot` instead of the C library's ``hypot`` (the same value where
      :func:`_own_hypot_matches` found them equal; a call saved per overlapping pair).
    """
    n = len(mac)
    fx = np.zeros(m + 1)
    fy = np.zeros(m + 1)
    ax = np.zeros(m + 1)   # sums over the driver / lower-node-index side
    ay = np.zeros(m + 1)
    cx_ = np.zeros(m + 1)  # sums over the other side
    cy_ = np.zeros(m + 1)
    cxy = np.zeros(2 * m + 2)    # the attraction's other-side sums, x and y interleaved
    bxy = np.empty(2 * len(bx))  # the body positions, x and y interleaved
    mu = np.uint32(m)      # indices are unsigned (uint32): no negative-index check per access
    lx, order, sv, sw, ss, sn, cand = _sweep_buffers(n)
    h_lo = np.empty(16 * n, np.uint32)  # the overlapping pairs of a step (grown when needed)
    h_hi = np.empty(16 * n, np.uint32)
    h_dx = np.empty(16 * n)
    h_dy = np.empty(16 * n)
    h_d = np.empty(16 * n)
    for _ in range(n_steps):
        fx[:] = 0.0
        fy[:] = 0.0
        if attract:
            ax[:] = 0.0
            ay[:] = 0.0
            cxy[:] = 0.0
            # a net's edges share their driver: its sums stay in registers while the bin repeats
            # (the same additions in the same order as bincount's, without a store per edge)
            # (bodies below m are the movable ones, so a body index is its slot; the others share
            # slot m: uint32 body indices and no slot arrays keep the edge data in the L2 cache)
            # (positions and pin offsets interleaved: one cache line serves x and y)
            for i in range(len(bx)):
                bxy[2 * i] = bx[i]
                bxy[2 * i + 1] = by[i]
            cur, acc_x, acc_y = mu, 0.0, 0.0
            for e in range(len(k)):
                s, t = e_s[e], e_t[e]
                vx = k[e] * (((bxy[2 * t] + off4[4 * e]) - bxy[2 * s]) - off4[4 * e + 1])
                vy = k[e] * (((bxy[2 * t + 1] + off4[4 * e + 2]) - bxy[2 * s + 1]) - off4[4 * e + 3])
                i = min(s, mu)
                if i != cur:
                    ax[cur] = acc_x
                    ay[cur] = acc_y
                    cur = i
                    acc_x, acc_y = ax[cur], ay[cur]
                acc_x += vx
                acc_y += vy
                j = min(t, mu)
                cxy[2 * j] += vx
                cxy[2 * j + 1] += vy
            ax[cur] = acc_x
            ay[cur] = acc_y
            for i in range(m):
                fx[i] += ax[i] - cxy[2 * i]
                fy[i] += ay[i] - cxy[2 * i + 1]
        if repel:
            _sweep_order(bx, mac, mw, lx, order)
            _sweep_fill(bx, by, mac, nid, slot, mw, mh, lx, order, sv, sw, ss, sn)
            # the overlapping pairs, in sweep order (grown and resumed where the buffers are full)
            p, nh = _overlapping_pairs(0, 0, sv, sw, ss, sn, cand, h_lo, h_hi, h_dx, h_dy, m, md)
            while p < n:
                h_lo, h_hi, h_dx, h_dy = _grown(h_lo, h_hi, h_dx, h_dy, nh, nh + n)
                p, nh = _overlapping_pairs(p, nh, sv, sw, ss, sn, cand, h_lo, h_hi, h_dx, h_dy, m, md)
            if len(h_d) < len(h_lo):
                h_d = np.empty(len(h_lo))
            # unit vectors: no data-dependent branch, so the loop runs on vector lanes
            if own_hypot:
                odd = False
                for h in range(nh):
                    u, odd_h = _hypot_common(h_dx[h], h_dy[h])
                    h_d[h] = u
                    odd |= odd_h
                if odd:
                    for h in range(nh):
                        h_d[h] = _hypot(h_dx[h], h_dy[h])
            else:
                for h in range(nh):
                    h_d[h] = math.hypot(h_dx[h], h_dy[h])
            ax[:] = 0.0
            ay[:] = 0.0
            cx_[:] = 0.0
            cy_[:] = 0.0
            for h in range(nh):
                d = h_d[h]
                ux = -1.0 if d == 0 else h_dx[h] / d
                uy = -1.0 if d == 0 else h_dy[h] / d
                lo, hi = h_lo[h], h_hi[h]
                if lo < mu:
                    ax[lo] += strength * ux
                    ay[lo] += strength * uy
                if hi < mu:
                    cx_[hi] += strength * ux
                    cy_[hi] += strength * uy
            for i in range(m):
                fx[i] += ax[i] - cx_[i]
                fy[i] += ay[i] - cy_[i]
        _move_bodies(bx, by, fx, fy, m, mv_hw, mv_hh, W, H, max_move)


def _stage_fast(bx, by, m, mv_hw, mv_hh, W, H, n_steps, max_move,
                attract, a, ptr, col, val, diag, cx, cy,
                repel, strength, mac, nid, slot, mw, mh, md):
    """``n_steps`` steps of one stage with ``exact=False`` (:meth:`ForceDirectedPlacer._fast_numpy` as
    loops, the same operations in the same order): attraction ``a * ((A p - d * p) + c)`` row by row
    (:class:`_Springs`); each overlapping pair (found by the same sweep as :func:`_stage`) adds its force
    to both sides as it is found, the length by ``sqrt``."""
    n = len(mac)
    fx = np.zeros(m + 1)
    fy = np.zeros(m + 1)
    mu = np.uint32(m)
    nu = np.uint32(n)
    one = np.uint32(1)
    lx, order, sv, sw, ss, sn, cand = _sweep_buffers(n)
    for _ in range(n_steps):
        if attract:
            for i in range(m):
                sx = 0.0
                sy = 0.0
                for q in range(ptr[i], ptr[i + 1]):
                    j = col[q]
                    sx += val[q] * bx[j]
                    sy += val[q] * by[j]
                fx[i] = a * ((sx - diag[i] * bx[i]) + cx[i])
                fy[i] = a * ((sy - diag[i] * by[i]) + cy[i])
        else:
            fx[:] = 0.0
            fy[:] = 0.0
        if repel:
            _sweep_order(bx, mac, mw, lx, order)
            _sweep_fill(bx, by, mac, nid, slot, mw, mh, lx, order, sv, sw, ss, sn)
            for p in range(n):
                xp, yp, wp, hp, sp, idp = sv[4 * p + 3], sv[4 * p + 1], sw[p], sv[4 * p + 2], ss[p], sn[p]
                right = xp + wp / 2
                nc = 0
                r = np.uint32(p) + one
                while r < nu and sv[4 * r] < right:
                    cand[nc] = r
                    nc += abs(yp - sv[4 * r + 1]) < (hp + sv[4 * r + 2]) / 2 - md
                    r += one
                for q in range(nc):
                    rc = cand[q]
                    dx = xp - sv[4 * rc + 3]
                    if not abs(dx) < (wp + sw[rc]) / 2 - md:
                        continue
                    dy = yp - sv[4 * rc + 1]
                    sr = ss[rc]
                    if sp == mu and sr == mu:
                        continue
                    flip = idp > sn[rc]     # lo = the lower node index (TILOS' convention)
                    lo = sr if flip else sp
                    hi = sp if flip else sr
                    if flip:
                        dx = -dx
                        dy = -dy
                    d = math.sqrt(dx * dx + dy * dy)
                    ux = -1.0 if d == 0 else dx / d
                    uy = -1.0 if d == 0 else dy / d
                    fx[lo] += strength * ux
                    fx[hi] += -(strength * ux)
                    fy[lo] += strength * uy
                    fy[hi] += -(strength * uy)
        _move_bodies(bx, by, fx, fy, m, mv_hw, mv_hh, W, H, max_move)


if numba is not None:   # compiled on first use (cached on disk beside this file)
    _hypot = numba.njit(inline="always")(_hypot)
    _hypot_common = numba.njit(inline="always")(_hypot_common)
    _grown = numba.njit(cache=True)(_grown)
    # numpy's error model: a division by zero gives inf / nan instead of a check per division (the loop
    # never uses such a value: every division is guarded), so the pair loop can use vector lanes
    _sweep_order = numba.njit(inline="always")(_sweep_order)
    _sweep_fill = numba.njit(inline="always")(_sweep_fill)
    _sweep_buffers = numba.njit(inline="always")(_sweep_buffers)
    _move_bodies = numba.njit(inline="always")(_move_bodies)
    _overlapping_pairs = numba.njit(error_model="numpy")(_overlapping_pairs)
    _stage = numba.njit(cache=True, nogil=True, error_model="numpy")(_stage)
    _stage_fast = numba.njit(cache=True, nogil=True, error_model="numpy")(_stage_fast)
    _hypot_many = numba.njit(cache=True, error_model="numpy")(_hypot_many)


def force_directed_placement(netlist: Netlist, x: np.ndarray, y: np.ndarray,
                             orientation: np.ndarray, canvas: Tuple[float, float],
                             schedule: Optional[FDSchedule] = None,
                             movable: Optional[Sequence[int]] = None
                             ) -> Tuple[np.ndarray, np.ndarray]:
    """One-shot :class:`ForceDirectedPlacer` run (build the placer once to run it repeatedly)."""
    return ForceDirectedPlacer(netlist, canvas, movable).run(x, y, orientation, schedule)
