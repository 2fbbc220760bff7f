"""Macro-placement baselines: random legal placement, greedy wire-mask placement, simulated annealing.

All three place the hard macros on grid-cell centres with the env's rules (largest first, no
overlap, inside the canvas; :mod:`rlframe.placement.state`). While searching, soft macros stay
at their initial positions (the .plc's) and the proxy cost is evaluated with them there; the
returned placement then gets Circuit Training's force-directed soft-macro placement (``run_fd``)
and its final proxy cost. Both costs are reported (``costs_before_fd`` and ``costs``), and a
third: ``costs_fd_refine``, FD started from the soft macros' current positions and kept only if
it lowers the cost (Circuit Training's coordinate-descent placer, ``place_stdcells``).

* :func:`random_placement` -- each macro on a uniformly random feasible cell; with a time budget,
  the best of as many such placements as fit in it (random search).
* :func:`greedy_placement` -- each macro on the feasible cell with the smallest wire mask (HPWL
  increase, MaskPlace's greedy; Lai et al., NeurIPS 2022), ties to the lowest cell index.
* :func:`simulated_annealing` -- from the greedy placement, moves of one or two hard macros
  (shift to a neighbouring cell, swap two macros, flip N/FN/FS/S, move to a random free cell)
  accepted by the Metropolis rule on the proxy cost, geometric cooling over the budget
  (time or moves), incremental cost updates (``PlacementCost.move_node``); the best placement
  seen is returned. Simulated annealing is the strongest classical baseline in Cheng et al.
  (ISPD 2023, "Assessment of reinforcement learning for macro placement").
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.cost import term_weights
from rlframe.placement.protocol import Evaluation
from rlframe.placement.geometry import Grid
from rlframe.placement.formats.netlist import ORIENTATION_CODE
from rlframe.placement.formats.plc import Placement, make_placement
from rlframe.placement.state import Finisher, PlacementProblem, PlacementState, plc_header

ProblemLike = Union[PlacementProblem, str, os.PathLike]


@dataclasses.dataclass
class BaselineResult:
    """A finished placement: node positions (after the soft-macro placement when ``run_fd``),
    the cell of every movable hard macro (placement order), its costs and what it took."""

    name: str
    problem: PlacementProblem
    x: np.ndarray
    y: np.ndarray
    orientation: np.ndarray
    cells: np.ndarray
    costs: Dict[str, float]
    costs_before_fd: Dict[str, float]
    seconds: float
    evaluations: int
    stats: Dict[str, float] = dataclasses.field(default_factory=dict)
    #: CT's coordinate-descent rule: FD from the current soft-macro positions
    #: (``use_current_loc=True``), kept only if it lowers the proxy cost (else ``costs_before_fd``);
    #: empty without FD. ``stats["fd_current_kept"]`` says which.
    costs_fd_refine: Dict[str, float] = dataclasses.field(default_factory=dict)
    #: the placement scored under each regime of the protocol (rlframe/placement/protocol.py):
    #: ``"none"`` always, ``"centre"`` and ``"refine"`` when the soft macros were placed by FD
    regimes: Dict[str, Evaluation] = dataclasses.field(default_factory=dict)

    def regime(self, fd: Optional[str] = None) -> Evaluation:
        """The placement scored under ``fd`` (default: ``"centre"`` when FD ran, else ``"none"``)."""
        fd = fd or ("centre" if "centre" in self.regimes else "none")
        if fd not in self.regimes:
            raise ConfigError(f"{self.name}: no {fd!r} result: the soft macros were not placed by FD "
                              "(run_fd=False / --fd none); only 'none' exists")
        return self.regimes[fd]

    def placement(self, fd: Optional[str] = None) -> Placement:
        """A :class:`Placement` of every node as scored under ``fd`` (soft macros where that regime put
        them), its header readable by ``PlacementCost.from_plc`` and holding that regime's costs."""
        ev = self.regime(fd)
        return make_placement(self.problem.netlist, ev.x, ev.y, ev.orientation,
                              header=plc_header(self.problem, ev.costs))

    def write(self, path: Union[str, os.PathLike], fd: Optional[str] = None) -> None:
        """Write the placement scored under ``fd`` (see :meth:`placement`)."""
        self.placement(fd).write(path)


def _problem(p: ProblemLike, plc=None, grid=None) -> PlacementProblem:
    return p if isinstance(p, PlacementProblem) else PlacementProblem(p, plc=plc, grid=grid)


def _finish(name: str, problem: PlacementProblem, finisher: Finisher, x, y, orientation, cells,
            t0: float, evaluations: int, stats=None) -> BaselineResult:
    """Score the hard-macro placement under every regime of the protocol (rlframe/placement/protocol.py)."""
    stats = dict(stats or {})
    regimes = {"none": finisher.score(x, y, orientation, "none")}
    if finisher.fd is not None:
        regimes["refine"] = ref = finisher.score(x, y, orientation, "refine")
        stats["fd_current_kept"] = float(ref.refine_kept)
        stats["fd_current_proxy_cost"] = ref.refine_proxy_cost
        regimes["centre"] = finisher.score(x, y, orientation, "centre")
    main = regimes["centre"] if finisher.fd is not None else regimes["none"]
    refine = regimes["refine"].costs if "refine" in regimes else {}
    if not len(problem.netlist.soft_macro_indices):   # nothing for FD to place: every regime is this placement
        regimes["centre"] = regimes["refine"] = regimes["none"]
    return BaselineResult(name, problem, main.x, main.y, np.array(orientation), np.array(cells), main.costs,
                          regimes["none"].costs, time.perf_counter() - t0, evaluations, stats, refine, regimes)


def _rollout(state: PlacementState, choose) -> bool:
    """Place every macro with ``choose(state) -> cell``; False at a dead end."""
    state.reset()
    while not state.done:
        if not state.mask().any():
            return False
        state.place(choose(state))
    return True


def random_placement(problem: ProblemLike, seed: int = 0, time_budget: Optional[float] = None,
                     run_fd: bool = True, weights: Optional[Sequence[float]] = None,
                     max_attempts: int = 100) -> BaselineResult:
    """A random legal placement; with ``time_budget`` (seconds) the best (lowest proxy cost
    before the soft-macro placement) of as many as fit in the budget."""
    t0 = time.perf_counter()
    p = _problem(problem)
    fin = Finisher(p, weights, run_fd)
    rng = np.random.default_rng(seed)
    st = PlacementState(p)

    def choose(s: PlacementState) -> int:
        return int(rng.choice(np.flatnonzero(s.mask())))

    best, best_cost, n, fails = None, math.inf, 0, 0
    while True:
        if _rollout(st, choose):
            n += 1
            _, _, c = fin.evaluate(st.x, st.y, st.orientation, fd=False)
            if c["proxy_cost"] < best_cost:
                best_cost = c["proxy_cost"]
                best = (st.x.copy(), st.y.copy(), st.orientation.copy(), st.cells.copy())
        else:
            fails += 1
            if best is None and fails >= max_attempts:
                raise RuntimeError(
                    f"random_placement: {max_attempts} random placements of {p.netlist.path} "
                    "all reached a dead end (a macro that fits nowhere); use a finer grid")
        if best is not None and (time_budget is None
                                 or time.perf_counter() - t0 >= time_budget):
            break
    return _finish("random", p, fin, *best, t0, n, {"samples": n, "dead_ends": fails})


def greedy_placement(problem: ProblemLike, run_fd: bool = True,
                     weights: Optional[Sequence[float]] = None) -> BaselineResult:
    """Every macro (largest first) on its feasible cell of least HPWL increase."""
    t0 = time.perf_counter()
    p = _problem(problem)
    fin = Finisher(p, weights, run_fd)
    st = PlacementState(p)

    def choose(s: PlacementState) -> int:
        w = np.where(s.mask(), s.wire_mask().ravel(), np.inf)
        return int(np.argmin(w))

    if not _rollout(st, choose):
        raise RuntimeError(
            f"greedy_placement: dead end at macro {p.netlist.names[st.node]!r} (rank {st.k}): it "
            "fits in no cell left; use a finer grid")
    return _finish("greedy", p, fin, st.x, st.y, st.orientation, st.cells, t0, 1)


# ----- simulated annealing ----------------------------------------------------------------------
_FLIPS = np.array([ORIENTATION_CODE[o] for o in ("N", "FN", "FS", "S")])


class _Annealer:
    """Hard-macro moves on grid-cell centres with legality checks and incremental costs."""

    def __init__(self, p: PlacementProblem, cells: np.ndarray, x, y, orientation, weights,
                 rng: np.random.Generator):
        self.p, self.rng = p, rng
        self.g: Grid = p.grid
        self.cells = np.array(cells)
        self.pc = p.cost
        self.pc.set_positions(x, y, orientation)
        self.weights = term_weights(weights)
        n = p.n_macros
        cx, cy = self.g.cell_center(self.cells)
        self.rects = np.concatenate(
            (np.stack([cx, cy, p.macro_w, p.macro_h], 1), p.static_obstacles), 0)
        self.n = n
        self.cost = self.total()

    def total(self) -> float:
        return self.pc.proxy_cost(*self.weights)

    def legal(self, i: int, cell: int, skip: Tuple[int, ...] = ()) -> bool:
        p, g = self.p, self.g
        cx, cy = g.cell_center(int(cell))
        w, h = p.macro_w[i], p.macro_h[i]
        e = p.eps
        if cx - w / 2 < -e or cx + w / 2 > g.width + e or cy - h / 2 < -e or cy + h / 2 > g.height + e:
            return False
        r = self.rects
        hit = (np.abs(r[:, 0] - cx) < (w + r[:, 2]) / 2 - e) & \
              (np.abs(r[:, 1] - cy) < (h + r[:, 3]) / 2 - e)
        hit[i] = False
        for j in skip:
            hit[j] = False
        return not hit.any()

    def _put(self, i: int, cell: int, orient: Optional[int] = None) -> None:
        cx, cy = self.g.cell_center(int(cell))
        self.cells[i] = cell
        self.rects[i, 0], self.rects[i, 1] = cx, cy
        self.pc.move_node(int(self.p.order[i]), cx, cy, orient)

    def propose(self):
        """Apply a random legal move; return its undo list or None if none was found."""
        rng, g, n = self.rng, self.g, self.n
        kind = rng.random()
        i = int(rng.integers(n))
        node = int(self.p.order[i])
        undo = [(i, int(self.cells[i]), int(self.pc.orientation[node]))]
        if kind < 0.4:                                    # shift to a neighbouring cell
            r, c = divmod(int(self.cells[i]), g.cols)
            dr, dc = 0, 0
            while dr == 0 and dc == 0:
                dr, dc = (int(v) for v in rng.integers(-2, 3, 2))
            r, c = r + dr, c + dc
            if not (0 <= r < g.rows and 0 <= c < g.cols):
                return None
            cell = r * g.cols + c
            if not self.legal(i, cell):
                return None
            self._put(i, cell)
        elif kind < 0.6:                                  # swap two macros
            j = int(rng.integers(n))
            if j == i or self.cells[j] == self.cells[i]:
                return None
            ci, cj = int(self.cells[i]), int(self.cells[j])
            # check both at their new cells, ignoring each other's old footprint
            self._move_rect(i, cj)
            self._move_rect(j, ci)
            ok = self.legal(i, cj) and self.legal(j, ci)
            self._move_rect(i, ci)
            self._move_rect(j, cj)
            if not ok:
                return None
            undo.append((j, cj, int(self.pc.orientation[int(self.p.order[j])])))
            self._put(i, cj)
            self._put(j, ci)
        elif kind < 0.7:                                  # flip
            o = int(rng.choice(_FLIPS))
            if o == undo[0][2]:
                return None
            self._put(i, int(self.cells[i]), o)
        else:                                             # move to a random free cell
            cell = int(rng.integers(g.n_cells))
            if cell == self.cells[i] or not self.legal(i, cell):
                return None
            self._put(i, cell)
        return undo

    def _move_rect(self, i: int, cell: int) -> None:
        self.rects[i, 0], self.rects[i, 1] = self.g.cell_center(int(cell))

    def undo(self, undo) -> None:
        for i, cell, o in reversed(undo):
            self._put(i, cell, o)


def simulated_annealing(problem: ProblemLike, time_budget: Optional[float] = 60.0,
                        max_moves: Optional[int] = None, seed: int = 0, run_fd: bool = True,
                        weights: Optional[Sequence[float]] = None, init: str = "greedy",
                        t_start: Optional[float] = None, t_end_ratio: float = 1e-3
                        ) -> BaselineResult:
    """Simulated annealing over hard-macro moves on the proxy cost (see the module docstring).

    Args:
        time_budget: seconds (None: only ``max_moves``); the search stops at whichever of
            ``time_budget`` / ``max_moves`` comes first.
        init: ``"greedy"`` or ``"random"`` starting placement.
        t_start: initial temperature (default: an uphill move of average size is accepted with
            probability 1/2); the temperature decays geometrically to ``t_start * t_end_ratio``.
    """
    if time_budget is None and max_moves is None:
        raise ValueError("simulated_annealing: give time_budget or max_moves (or both)")
    t0 = time.perf_counter()
    p = _problem(problem)
    rng = np.random.default_rng(seed)
    if init == "greedy":
        start = greedy_placement(p, run_fd=False, weights=weights)
    elif init == "random":
        start = random_placement(p, seed=seed, run_fd=False, weights=weights)
    else:
        raise ValueError(f"simulated_annealing: init={init!r}; choose 'greedy' or 'random'")
    fin = Finisher(p, weights, run_fd)
    sa = _Annealer(p, start.cells, start.x, start.y, start.orientation, weights, rng)
    initial_cost = sa.cost

    if t_start is None:  # sample uphill moves
        ups = []
        for _ in range(60):
            u = sa.propose()
            if u is None:
                continue
            d = sa.total() - sa.cost
            sa.undo(u)
            if d > 0:
                ups.append(d)
        t_start = (float(np.mean(ups)) if ups else 1e-3) / math.log(2.0)
    t_end = t_start * t_end_ratio
    best_cost, best = sa.cost, (sa.cells.copy(), sa.pc.orientation.copy())
    moves = accepted = tried = 0
    progress = 0.0
    while True:
        if max_moves is not None:
            progress = moves / max_moves
        if time_budget is not None:
            progress = max(progress, (time.perf_counter() - t0) / time_budget)
        if progress >= 1.0:
            break
        temp = t_start * (t_end / t_start) ** progress
        tried += 1
        u = sa.propose()
        if u is None:
            continue
        moves += 1
        new = sa.total()
        d = new - sa.cost
        if d <= 0 or rng.random() < math.exp(-d / temp):
            sa.cost = new
            accepted += 1
            if new < best_cost:
                best_cost, best = new, (sa.cells.copy(), sa.pc.orientation.copy())
        else:
            sa.undo(u)
    cells, orient = best
    x, y = start.x.copy(), start.y.copy()
    nodes = p.order
    x[nodes], y[nodes] = p.grid.cell_center(cells)
    stats = {"moves": moves, "accepted": accepted, "proposals": tried, "t_start": t_start,
             "initial_proxy_cost": initial_cost}
    return _finish("sa", p, fin, x, y, orient, cells, t0, moves, stats)
