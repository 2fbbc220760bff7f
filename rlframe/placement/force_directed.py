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
from typing import Optional, Sequence, Tuple

import numpy as np

from rlframe.placement.geometry import oriented_size, pin_positions, rotate_offsets
from rlframe.placement.formats.netlist import HARD_MACRO, PORT, SOFT_MACRO, Netlist


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


class ForceDirectedPlacer:
    """Force-directed placer for the soft macros of one netlist (precomputes the spring edges).

    Args:
        netlist: the netlist.
        canvas: ``(width, height)``.
        movable: node indices that move (default: all soft macros).
        square_soft_macros: compute overlaps with soft macros as squares of the same area.
        min_dist: overlap (microns) below which two macros do not repel (TILOS: 1e-4).

    ``run(x, y, orientation)`` returns new ``(x, y)`` node arrays (pins of moved macros
    follow them).
    """

    def __init__(self, netlist: Netlist, canvas: Tuple[float, float],
                 movable: Optional[Sequence[int]] = None, square_soft_macros: bool = True,
                 min_dist: float = 1e-4):
        nl = self.netlist = netlist
        self.canvas = (float(canvas[0]), float(canvas[1]))
        self.min_dist = float(min_dist)
        self.movable = (nl.soft_macro_indices if movable is None
                        else np.asarray(movable, np.int64))
        self.square_soft_macros = square_soft_macros
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

    def run(self, x: np.ndarray, y: np.ndarray, orientation: np.ndarray,
            schedule: Optional[FDSchedule] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Place the movable macros; ``x, y, orientation`` are node arrays (not modified)."""
        sch = schedule or FDSchedule()
        nl = self.netlist
        W, H = self.canvas
        mv = self.movable
        X, Y = np.array(x, np.float64), np.array(y, np.float64)
        if len(mv) == 0:
            return X, Y
        orientation = np.asarray(orientation)
        if not sch.use_current_loc:
            X[mv], Y[mv] = W / 2, H / 2

        sdx, sdy = self._offsets(self._s_node, orientation)
        tdx, tdy = self._offsets(self._t_node, orientation)
        k_io = self._w * np.where(self._io, sch.io_factor, 1.0)

        macros = self._macros
        mw, mh = oriented_size(nl, orientation, macros)
        if self.square_soft_macros:
            soft = nl.node_type[macros] == SOFT_MACRO
            side = np.sqrt(mw * mh)
            mw, mh = np.where(soft, side, mw), np.where(soft, side, mh)
        fd_w = np.zeros(nl.n_nodes)
        fd_h = np.zeros(nl.n_nodes)
        fd_w[macros], fd_h[macros] = mw, mh
        mv_hw, mv_hh = fd_w[mv] / 2, fd_h[mv] / 2

        size = max(W, H)
        m = len(mv)
        for n_steps, mf, a, r in zip(sch.num_steps, sch.move_distance_factors,
                                     sch.attract_factor, sch.repel_factor):
            if a == 0 and r == 0:
                continue
            max_move = mf * size / n_steps
            do_attract = r == 0 or a / r > 1e-4
            do_repel = a == 0 or r / a > 1e-4
            k = k_io * a
            for _ in range(int(n_steps)):
                fx = np.zeros(m + 1)
                fy = np.zeros(m + 1)
                if do_attract and len(k):
                    ex = k * (X[self._t_body] + tdx - X[self._s_body] - sdx)
                    ey = k * (Y[self._t_body] + tdy - Y[self._s_body] - sdy)
                    fx += np.bincount(self._s_idx, ex, m + 1) - np.bincount(self._t_idx, ex, m + 1)
                    fy += np.bincount(self._s_idx, ey, m + 1) - np.bincount(self._t_idx, ey, m + 1)
                if do_repel:
                    self._repel(X, Y, macros, mw, mh, r * max_move, fx, fy)
                fx, fy = fx[:m], fy[:m]
                mx, my = np.abs(fx).max(), np.abs(fy).max()
                if mx > 0:
                    fx = fx / mx
                if my > 0:
                    fy = fy / my
                nx = X[mv] + fx * max_move
                ny = Y[mv] + fy * max_move
                ok = ((nx - mv_hw >= 0) & (ny - mv_hh >= 0) & (nx + mv_hw <= W)
                      & (ny + mv_hh <= H))
                X[mv] = np.where(ok, nx, X[mv])
                Y[mv] = np.where(ok, ny, Y[mv])

        # real sizes inside the canvas (where they fit)
        rw, rh = oriented_size(nl, orientation, mv)
        X[mv] = np.where(rw <= W, np.clip(X[mv], rw / 2, W - rw / 2), X[mv])
        Y[mv] = np.where(rh <= H, np.clip(Y[mv], rh / 2, H - rh / 2), Y[mv])
        pins = np.flatnonzero(np.isin(nl.pin_parent, mv))
        if len(pins):
            X[pins], Y[pins] = pin_positions(nl, X, Y, orientation, pins)
        return X, Y

    def _repel(self, X, Y, macros, mw, mh, strength, fx, fy) -> None:
        """Add repulsive forces between overlapping macro pairs (sweep over sorted x)."""
        cx, cy = X[macros], Y[macros]
        lx, ux = cx - mw / 2, cx + mw / 2
        order = np.argsort(lx, kind="stable")
        lx_s = lx[order]
        end = np.searchsorted(lx_s, ux[order], side="left")   # candidates: (pos, end)
        pos = np.arange(len(order))
        cnt = np.maximum(end - pos - 1, 0)
        if cnt.sum() == 0:
            return
        a = np.repeat(pos, cnt)
        b = _ranges(pos + 1, cnt)
        i, j = order[a], order[b]
        md = self.min_dist
        dx = cx[i] - cx[j]
        dy = cy[i] - cy[j]
        hit = ((np.abs(dx) < (mw[i] + mw[j]) / 2 - md) & (np.abs(dy) < (mh[i] + mh[j]) / 2 - md))
        i, j, dx, dy = i[hit], j[hit], dx[hit], dy[hit]
        if len(i) == 0:
            return
        # src = lower node index (TILOS' convention)
        swap = macros[i] > macros[j]
        i, j = np.where(swap, j, i), np.where(swap, i, j)
        dx, dy = np.where(swap, -dx, dx), np.where(swap, -dy, dy)
        d = np.hypot(dx, dy)
        same = d == 0
        ux_ = np.where(same, -1.0, dx / np.where(same, 1.0, d))
        uy_ = np.where(same, -1.0, dy / np.where(same, 1.0, d))
        ci, cj = self._compact[macros[i]], self._compact[macros[j]]
        n = len(fx)
        fx += np.bincount(ci, strength * ux_, n) - np.bincount(cj, strength * ux_, n)
        fy += np.bincount(ci, strength * uy_, n) - np.bincount(cj, strength * uy_, n)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    total = int(lengths.sum())
    offs = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offs, lengths)


def force_directed_placement(netlist: Netlist, x: np.ndarray, y: np.ndarray,
                             orientation: np.ndarray, canvas: Tuple[float, float],
                             schedule: Optional[FDSchedule] = None,
                             movable: Optional[Sequence[int]] = None
                             ) -> Tuple[np.ndarray, np.ndarray]:
    """One-shot :class:`ForceDirectedPlacer` run (build the placer once to run it repeatedly)."""
    return ForceDirectedPlacer(netlist, canvas, movable).run(x, y, orientation, schedule)
