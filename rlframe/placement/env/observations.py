"""Observations of the macro-placement env: MaskPlace-style images and a graph for GNN policies.

* :class:`ImageObservation` -- MaskPlace (Lai et al., NeurIPS 2022) at grid resolution, float32
  ``[3, rows, cols]`` in ``[0, 1]``:

  0. **position mask** -- 1 where the current macro fits (the action mask as an image);
  1. **wire mask** -- HPWL increase of putting the current macro at each cell, min-max
     normalised over the feasible cells (0 = best feasible cell, 1 = worst; infeasible cells 1);
  2. **canvas** -- fraction of each cell covered by placed hard macros, fixed macros and
     blockages (clipped to 1).

  with ``next_macro=True`` (env kwarg ``next_macro_planes``; opt-in, so policies trained on three planes keep
  loading) two more planes, MaskPlace's look-ahead for the macro after the current one, on the current canvas:

  3. **next position mask** -- 1 where the next macro would fit (0 everywhere at the last macro);
  4. **next wire mask** -- its wire mask, normalised as plane 1 over its feasible cells (1 at the last macro);

  with ``soft_macros=True`` (env kwarg ``soft_macro_canvas``; opt-in, same shape, so every checkpoint loads)
  the canvas plane (2) also holds the soft macros' density at their initial ``.plc`` positions
  (:func:`soft_macro_density`; the sum clipped to 1): where the standard-cell clusters sit, which is what
  the density and congestion of the ``refine`` / ``none`` soft-macro regimes depend on.

  with ``wire_density=λ > 0`` (env kwarg ``wire_mask_density``; opt-in, same shape) the wire mask plane (1)
  shows a cost that adds the density under the macro: ``wire / span + λ * cover / span`` before plane 1's
  min-max normalisation, where ``cover`` is, per cell, the covered area already in the cells the macro would
  occupy (hard and fixed macros, blockages and the soft macros at their initial positions,
  :func:`soft_macro_density`) and ``span`` each map's max - min over the feasible cells. MaskPlace's wire
  mask shows the wirelength side of the cost; this shows the density side too.

  plus ``macro``: float32 ``[4]`` = (width / canvas width, height / canvas height, macros placed
  so far / macros, covered area / canvas area), all clipped to ``[0, 1]``.
* :class:`GraphObservation` -- Circuit Training's graph view (Mirhoseini et al., Nature 2021) as
  fixed-size arrays: nodes are the hard macros, soft macros, ports and standard cells (ascending
  node index; is_hard, is_soft, is_port all 0 for a standard cell);
  ``node_features`` float32 ``[N, 9]`` = (x / W, y / H, width / W, height / H, is_hard, is_soft,
  is_port, is_placed, is_current) -- an unplaced hard macro has x = y = 0; ``edge_index`` int64
  ``[2, E]`` and ``edge_weight`` float32 ``[E]``: every net as a star from its driver to each sink,
  pins mapped to their macros, undirected, duplicates merged (weights summed), self-loops dropped;
  ``current_node`` int64 ``[1]``: graph index of the macro to place (-1 when none).
  ``E`` is fixed per netlist, so no padding is needed (the edge arrays are copied at every step,
  as gymnasium requires fresh observation data; ariane133: see docs/placement.md for sizes).
"""
from __future__ import annotations

from typing import Dict

import gymnasium as gym
import numpy as np

from rlframe.placement.formats.netlist import HARD_MACRO, PORT, SOFT_MACRO, STDCELL
from rlframe.placement.state import PlacementProblem, PlacementState

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

IMAGE_CHANNELS = ("position_mask", "wire_mask", "canvas")
NEXT_MACRO_CHANNELS = ("next_position_mask", "next_wire_mask")
NODE_FEATURES = ("x", "y", "width", "height", "is_hard", "is_soft", "is_port", "is_placed",
                 "is_current")


class ImageObservation:
    """MaskPlace-style image planes plus a small macro descriptor (see the module docstring);
    ``next_macro``: add the next macro's position and wire masks (planes 3 and 4); ``soft_macros``: the canvas
    plane also shows the soft macros at their initial positions; ``wire_density``: weight of the covered area
    under the macro in the wire mask plane (0: MaskPlace's wire mask)."""

    def __init__(self, problem: PlacementProblem, next_macro: bool = False, soft_macros: bool = False,
                 wire_density: float = 0.0):
        self.p = problem
        g = problem.grid
        self.next_macro = bool(next_macro)
        #: density the soft macros add to every cell of the canvas plane (None: the plane shows hard macros only)
        self.soft_density = soft_macro_density(problem) if soft_macros else None
        self.wire_density = float(wire_density)
        self._soft_all = soft_macro_density(problem) if self.wire_density else None
        self._footprints: Dict[tuple, tuple] = {}
        self.channels = IMAGE_CHANNELS + (NEXT_MACRO_CHANNELS if self.next_macro else ())
        self.shape = (len(self.channels), g.rows, g.cols)
        self.canvas_area = g.width * g.height
        #: build the planes with the compiled loop (bit-identical to the numpy code, tested);
        #: False: numpy only
        self.compiled = numba is not None
        self._cell_w, self._cell_h = g.cell_width, g.cell_height
        # the macro descriptor's first three entries for k = 0 .. n_macros (last: all placed);
        # the fourth (covered area) is filled in per step
        n = problem.n_macros
        rows = np.zeros((n + 1, 4))
        rows[:n, 0] = problem.macro_w / g.width
        rows[:n, 1] = problem.macro_h / g.height
        rows[:, 2] = np.arange(n + 1) / max(n, 1)
        self._macro_rows = np.clip(rows, 0.0, 1.0).astype(np.float32)

    def spaces(self) -> Dict[str, gym.Space]:
        return {"image": gym.spaces.Box(0.0, 1.0, self.shape, np.float32),
                "macro": gym.spaces.Box(0.0, 1.0, (4,), np.float32)}

    def build(self, state: PlacementState) -> Dict[str, np.ndarray]:
        img = np.empty(self.shape, np.float32)     # fresh every step: callers may keep observations
        canvas = state.occupancy if self.soft_density is None else state.occupancy + self.soft_density
        mask, wire = state.mask(), state.wire_mask()
        if self.wire_density and not state.done:
            wire = self._wire_and_density(state, mask, wire)
        self._planes(mask, wire, canvas, img)
        if self.next_macro:
            nxt = np.empty((3,) + self.shape[1:], np.float32)
            self._planes(*state.next_masks(), canvas, nxt)
            img[3:5] = nxt[:2]
        macro = self._macro_rows[state.k].copy()
        covered = float(state.occupancy.sum()) * self._cell_w * self._cell_h / self.canvas_area
        macro[3] = min(max(covered, 0.0), 1.0)
        return {"image": img, "macro": macro}

    def covered_under(self, state: PlacementState) -> np.ndarray:
        """Per cell, the area (in cell areas) already covered in the cells the current macro would occupy with
        its centre there: hard and fixed macros, blockages and the soft macros at their initial positions
        (``[rows, cols]``)."""
        p, g = self.p, self.p.grid
        size = (float(p.macro_w[state.k]), float(p.macro_h[state.k]))
        fp = self._footprints.get(size)
        if fp is None:
            fp = self._footprints[size] = (_axis_cover(p.row_y, p.row_edges, size[1], g.cell_height),
                                           _axis_cover(p.col_x, p.col_edges, size[0], g.cell_width))
        oy, ox = fp
        return oy @ (state.occupancy + self._soft_all) @ ox.T

    def _wire_and_density(self, state: PlacementState, mask: np.ndarray, wire: np.ndarray) -> np.ndarray:
        """``wire / span + wire_density * cover / span`` (spans over the feasible cells; see the module docstring)."""
        cover = self.covered_under(state)
        ok = mask.reshape(wire.shape)
        if not ok.any():
            return wire
        out = np.zeros_like(wire)
        for m, weight in ((wire, 1.0), (cover, self.wire_density)):
            feas = m[ok]
            span = float(feas.max() - feas.min())
            if span > 0:
                out += weight * (m - feas.min()) / span
        return out

    def _planes(self, mask: np.ndarray, wire: np.ndarray, occupancy: np.ndarray, img: np.ndarray) -> None:
        """Position mask, normalised wire mask and canvas of one macro into ``img[0:3]``."""
        if self.compiled:
            _image_planes_compiled(mask, wire, occupancy, img)
        else:
            self._planes_numpy(mask, wire, occupancy, img)

    @staticmethod
    def _planes_numpy(mask: np.ndarray, wire: np.ndarray, occupancy: np.ndarray, img: np.ndarray) -> None:
        """The three planes with numpy (what :func:`_image_planes_loop` computes in one pass)."""
        mask = mask.reshape(img.shape[1:])
        img[0] = mask
        if mask.any():
            feas = wire[mask]
            lo, hi = feas.min(), feas.max()
            norm = (wire - lo) / (hi - lo) if hi > lo else np.zeros_like(wire)
            img[1] = np.where(mask, norm, 1.0)
        else:
            img[1] = 1.0
        np.clip(occupancy, 0.0, 1.0, out=img[2])


def _axis_cover(centres: np.ndarray, edges: np.ndarray, length: float, cell: float) -> np.ndarray:
    """``[n_centres, n_cells]``: the fraction of each cell's extent along one axis that a macro of ``length``
    centred on each cell centre covers."""
    ov = (np.minimum(centres[:, None] + length / 2, edges[None, 1:])
          - np.maximum(centres[:, None] - length / 2, edges[None, :-1]))
    return np.maximum(ov, 0.0) / cell


def soft_macro_density(problem: PlacementProblem) -> np.ndarray:
    """Covered fraction of every grid cell by the soft macros at their initial positions (``problem.x0``,
    ``y0``), ``(rows, cols)`` float64: the soft macros' share of the proxy cost's density grid
    (rlframe/placement/cost.py, ``density_grid``) when they stay where the ``.plc`` put them."""
    g = problem.grid
    soft = problem.netlist.soft_macro_indices
    if len(soft) == 0:
        return np.zeros((g.rows, g.cols))
    x, y = problem.x0[soft], problem.y0[soft]
    w, h = problem.node_w[soft], problem.node_h[soft]
    ce, re_ = problem.col_edges, problem.row_edges
    ox = np.minimum(x[:, None] + w[:, None] / 2, ce[None, 1:]) - np.maximum(x[:, None] - w[:, None] / 2, ce[None, :-1])
    oy = np.minimum(y[:, None] + h[:, None] / 2, re_[None, 1:]) - np.maximum(y[:, None] - h[:, None] / 2, re_[None, :-1])
    np.maximum(ox, 0.0, out=ox)
    np.maximum(oy, 0.0, out=oy)
    return (oy.T @ ox) / (g.cell_width * g.cell_height)


def _image_planes_loop(mask, wire, occ, img):
    """:meth:`ImageObservation._planes_numpy` as loops: the same float64 operations per cell, each
    rounded once to float32, so the planes are bit-identical (tested in
    tests/placement/env/test_observations.py)."""
    rows, cols = wire.shape
    lo, hi, any_ok = 0.0, 0.0, False
    for r in range(rows):
        for c in range(cols):
            if mask[r * cols + c]:
                v = wire[r, c]
                if not any_ok:
                    lo, hi, any_ok = v, v, True
                else:
                    lo = min(lo, v)
                    hi = max(hi, v)
    span = hi - lo
    for r in range(rows):
        for c in range(cols):
            ok = mask[r * cols + c]
            img[0, r, c] = 1.0 if ok else 0.0
            if ok:
                img[1, r, c] = (wire[r, c] - lo) / span if hi > lo else 0.0
            else:
                img[1, r, c] = 1.0
            img[2, r, c] = min(max(occ[r, c], 0.0), 1.0)


_image_planes_compiled = numba.njit(cache=True)(_image_planes_loop) if numba is not None else None


class GraphObservation:
    """Node features, star-model edges and the current node (see the module docstring)."""

    def __init__(self, problem: PlacementProblem):
        self.p = problem
        nl = problem.netlist
        g = problem.grid
        self.nodes = nl.indices_of(HARD_MACRO, SOFT_MACRO, PORT, STDCELL)
        n = len(self.nodes)
        gidx = np.full(nl.n_nodes, -1, np.int64)
        gidx[self.nodes] = np.arange(n)
        self.graph_index = gidx
        # star edges at macro/port level
        deg = nl.net_degree
        is_sink = np.ones(len(nl.net_nodes), bool)
        is_sink[nl.net_ptr[:-1]] = False
        src = nl.net_nodes[np.repeat(nl.net_ptr[:-1], np.maximum(deg - 1, 0))]
        snk = nl.net_nodes[is_sink]
        w = np.repeat(nl.net_weight, np.maximum(deg - 1, 0))
        body = np.where(nl.pin_parent >= 0, nl.pin_parent, np.arange(nl.n_nodes))
        a, b = gidx[body[src]], gidx[body[snk]]
        ok = (a >= 0) & (b >= 0) & (a != b)
        a, b, w = a[ok], b[ok], w[ok]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        key, inv = np.unique(lo * n + hi, return_inverse=True)
        ew = np.bincount(inv.ravel(), w, len(key)) if len(key) else np.zeros(0)
        self.edge_index = np.stack(np.divmod(key, n)).astype(np.int64) if len(key) \
            else np.zeros((2, 0), np.int64)
        self.edge_weight = ew.astype(np.float32)
        self.edge_index.flags.writeable = False
        self.edge_weight.flags.writeable = False
        self.max_weight = float(ew.max()) if len(ew) else 1.0
        # static node features
        f = np.zeros((n, len(NODE_FEATURES)), np.float32)
        t = nl.node_type[self.nodes]
        f[:, 2] = np.clip(problem.node_w[self.nodes] / g.width, 0, 1)
        f[:, 3] = np.clip(problem.node_h[self.nodes] / g.height, 0, 1)
        f[:, 4] = t == HARD_MACRO
        f[:, 5] = t == SOFT_MACRO
        f[:, 6] = t == PORT
        self._static = f
        self._movable_g = gidx[problem.order]

    def spaces(self) -> Dict[str, gym.Space]:
        n, e = len(self.nodes), self.edge_index.shape[1]
        return {
            "node_features": gym.spaces.Box(0.0, 1.0, (n, len(NODE_FEATURES)), np.float32),
            "edge_index": gym.spaces.Box(0, max(n - 1, 0), (2, e), np.int64),
            "edge_weight": gym.spaces.Box(0.0, max(self.max_weight, 1.0), (e,), np.float32),
            "current_node": gym.spaces.Box(-1, max(n - 1, 0), (1,), np.int64),
        }

    def build(self, state: PlacementState) -> Dict[str, np.ndarray]:
        p, g = self.p, self.p.grid
        f = self._static.copy()
        f[:, 0] = np.clip(state.x[self.nodes] / g.width, 0, 1)
        f[:, 1] = np.clip(state.y[self.nodes] / g.height, 0, 1)
        f[:, 7] = 1.0
        unplaced = self._movable_g[state.k:]
        f[unplaced, 0:2] = 0.0
        f[unplaced, 7] = 0.0
        cur = -1 if state.done else int(self._movable_g[state.k])
        if cur >= 0:
            f[cur, 8] = 1.0
        return {"node_features": f, "edge_index": self.edge_index.copy(),
                "edge_weight": self.edge_weight.copy(),
                "current_node": np.array([cur], np.int64)}
