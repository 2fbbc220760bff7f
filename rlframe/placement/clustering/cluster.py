"""Cluster a flat netlist's standard cells into soft macros (Circuit Training's grouping flow).

The flow of Circuit Training's ``grouper.py`` (``circuit_training/grouping/``; described in TILOS
MacroPlacement's ``CodeElements/Clustering/README.md``), with an open partitioner:

1. canvas and grid: from the arguments, else the netlist's ``# FP bbox`` and
   :func:`~rlframe.placement.clustering.floorplan.choose_grid`, else
   :func:`~rlframe.placement.clustering.floorplan.choose_canvas` (``floorplan.py``);
2. the hypergraph of the nets without high-fanout nets (``hypergraph.py``);
3. fixed groups: each hard macro's pins, ports by side and proximity, plus the cells one logic
   level from them (``grouping.py``);
4. balanced partition of pins, ports and cells into ``num_groups`` + fixed-group blocks
   (``partition.py``: Mt-KaHyPar when installed, else the numpy multilevel partitioner);
5. with cell positions: groups spanning more than ``sqrt(canvas area / 16)`` broken up; then every
   group made connected; then small groups (at most ``nodes / groups / 4`` nodes) merged into
   their most connected neighbour within half the break-up distance;
6. one soft macro per group of cells, nets rebuilt between them (``writer.py``).
"""
from __future__ import annotations

import dataclasses
import gzip
import math
import os
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.clustering import grouping
from rlframe.placement.clustering.floorplan import choose_canvas, choose_grid
from rlframe.placement.clustering.hypergraph import Hypergraph, netlist_hypergraph
from rlframe.placement.clustering.partition import BACKENDS, partition
from rlframe.placement.clustering.writer import (
    SHAPES, RebuiltNets, SoftMacros, netlist_text, rebuild_nets, soft_macro_geometry)
from rlframe.placement.formats.netlist import (
    HARD_MACRO, SOFT_MACRO, STDCELL, Netlist, read_netlist)

#: Circuit Training's grouper defaults (``grouper.py`` flags, ``hmetis_util`` options).
DEFAULT_GROUPS = 500
DEFAULT_CELL_UTILIZATION = 0.5
DEFAULT_UTILIZATION = 0.6
DEFAULT_MAX_FANOUT = 500
DEFAULT_IMBALANCE = 0.05


@dataclasses.dataclass
class ClusteringResult:
    """A clustered netlist before it is written.

    Attributes:
        source: the flat netlist.
        group: group of every source node (-1 for macros; pins and ports have groups too, but only
            standard cells go into the soft macro ``Grp_<group>``).
        canvas, grid: ``(width, height)``, ``(cols, rows)``; ``canvas_source``/``grid_source``
            say where they came from (``"given"``, ``"netlist"``, ``"chosen"``).
        soft: soft-macro geometry per group; ``nets``: the rebuilt nets; ``text``: the netlist file.
        stats: counts and seconds per step.
    """

    source: Netlist
    group: np.ndarray
    canvas: Tuple[float, float]
    grid: Tuple[int, int]
    canvas_source: str
    grid_source: str
    soft: SoftMacros
    nets: RebuiltNets
    text: str
    stats: Dict[str, Any]

    def write(self, out: Union[str, os.PathLike], plc: Union[str, os.PathLike, None] = None,
              routes_per_micron: Optional[Tuple[float, float]] = None,
              macro_routing_alloc: Optional[Tuple[float, float]] = None,
              smooth_range: float = 0.0, overlap_threshold: float = 0.0) -> Tuple[str, str]:
        """Write the netlist (gzipped when ``out`` ends in ``.gz``) and a ``.plc`` beside it
        (default: ``companion_plc(out)``, which the CLI, baselines and env pick up) holding
        the canvas, grid and routing settings in its header and every node's initial position.
        Returns ``(netlist path, plc path)``; the written netlist is re-read (``self.clustered``).
        """
        from rlframe.placement.cost import DEFAULT_MACRO_ROUTING_ALLOC, DEFAULT_ROUTES_PER_MICRON
        from rlframe.placement.designs import companion_plc
        from rlframe.placement.formats.plc import make_placement

        out = os.fspath(out)
        plc = os.fspath(plc) if plc is not None else companion_plc(out)
        opener = gzip.open if out.endswith(".gz") else open
        with opener(out, "wt", encoding="utf-8", newline="\n") as f:
            f.write(self.text)
        nl = read_netlist(out)
        self.clustered = nl
        rh, rv = routes_per_micron or DEFAULT_ROUTES_PER_MICRON
        mh, mv = macro_routing_alloc or DEFAULT_MACRO_ROUTING_ALLOC
        kinds = np.isin(nl.node_type, (HARD_MACRO, SOFT_MACRO))
        header = {
            "Source input file(s)": out,
            "Clustered from": self.source.path,
            "Columns": f"{self.grid[0]}  Rows : {self.grid[1]}",
            "Width": f"{self.canvas[0]!r}  Height : {self.canvas[1]!r}",
            "Area (stdcell+macros)": repr(float(np.sum(nl.width[kinds] * nl.height[kinds]))),
            "Routes per micron, hor": f"{rh!r}  ver : {rv!r}",
            "Routes used by macros, hor": f"{mh!r}  ver : {mv!r}",
            "Smoothing factor": repr(float(smooth_range)),
            "Overlap threshold": repr(float(overlap_threshold)),
        }
        pl = make_placement(nl, nl.x, nl.y, header=header, path=plc)
        for b in nl.blockages:
            pl.lines.insert(len(header) + 1, "# Blockage : " + " ".join(repr(float(v)) for v in b))
            pl.node_line = pl.node_line + 1
        pl.write(plc)
        return out, plc


def _canvas_of(netlist: Netlist, canvas, utilization) -> Tuple[Tuple[float, float], str]:
    if canvas is not None:
        w, h = float(canvas[0]), float(canvas[1])
        if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
            raise ConfigError(f"canvas must be two positive numbers W H, got {tuple(canvas)}")
        return (w, h), "given"
    if netlist.canvas_bbox is not None:
        x0, y0, x1, y1 = netlist.canvas_bbox
        if x1 > x0 and y1 > y0:
            return (x1 - x0, y1 - y0), "netlist"
    return choose_canvas(netlist, utilization), "chosen"


def _has_positions(netlist: Netlist) -> bool:
    cells = netlist.node_type == STDCELL
    return bool(np.any(netlist.x[cells] != 0) or np.any(netlist.y[cells] != 0))


def _partition_groups(netlist: Netlist, hg: Hypergraph, fixed: np.ndarray, num_groups: int,
                      imbalance: float, seed: int, backend: str) -> Tuple[np.ndarray, str, int, int]:
    """Partition pins, ports and cells (macros stay out) into fixed + ``num_groups`` blocks."""
    verts = np.flatnonzero(~np.isin(netlist.node_type, (HARD_MACRO, SOFT_MACRO)))
    local = np.full(netlist.n_nodes, -1, np.int64)
    local[verts] = np.arange(len(verts))
    n_fixed = int(fixed.max()) + 1 if (fixed >= 0).any() else 0
    n_cells = int(np.count_nonzero(netlist.node_type == STDCELL))
    k = n_fixed + max(1, min(num_groups, n_cells))
    block, used = partition(hg.ptr, local[hg.pins], hg.weight, len(verts), k,
                            fixed=fixed[verts], imbalance=imbalance, seed=seed, backend=backend)
    group = np.full(netlist.n_nodes, -1, np.int64)
    group[verts] = block
    return group, used, k, n_fixed


def cluster_netlist(
    netlist: Union[Netlist, str, os.PathLike],
    num_groups: int = DEFAULT_GROUPS,
    canvas: Optional[Sequence[float]] = None,
    grid: Optional[Sequence[int]] = None,
    utilization: float = DEFAULT_UTILIZATION,
    cell_utilization: float = DEFAULT_CELL_UTILIZATION,
    shape: str = "gcell",
    max_fanout: Optional[int] = DEFAULT_MAX_FANOUT,
    fixed_levels: int = 1,
    breakup: bool = True,
    imbalance: float = DEFAULT_IMBALANCE,
    seed: int = 0,
    backend: str = "auto",
    log: Optional[Callable[[str], None]] = None,
) -> ClusteringResult:
    """Group the standard cells of ``netlist`` into soft macros (see the module docstring).

    Args:
        netlist: a flat :class:`Netlist` or its path.
        num_groups: partitioner blocks besides the fixed groups (Circuit Training: 500).
        canvas, grid: ``(W, H)``, ``(cols, rows)``; chosen when not given (``floorplan.py``).
        utilization: design area / canvas area for a chosen canvas (the binary's 0.6).
        cell_utilization: soft-macro area = cell area / this (Circuit Training: 0.5).
        shape: ``"gcell"`` (one grid cell wide, Circuit Training's grouper) or ``"square"``.
        max_fanout: nets with more sinks are ignored by the grouping and dropped (CT: 500).
        fixed_levels: logic levels added to the macro-pin and port groups (CT: 1).
        breakup: break up spread groups and merge small ones (needs cell positions).
        imbalance: partition balance (blocks at most ``1 + imbalance`` times the mean).
        seed: partitioner seed. backend: ``"auto"``, ``"mtkahypar"`` or ``"numpy"``.
        log: called with one line per step (e.g. ``print``).
    """
    say = log or (lambda s: None)
    if shape not in SHAPES:
        raise ConfigError(f"shape {shape!r} is not one of {SHAPES}")
    if backend not in BACKENDS:
        raise ConfigError(f"partitioner {backend!r} is not one of {BACKENDS}")
    if num_groups < 1:
        raise ConfigError(f"num_groups must be >= 1, got {num_groups}")
    if not 0.0 < cell_utilization <= 1.0:
        raise ConfigError(f"cell_utilization must be in (0, 1], got {cell_utilization}")
    times: Dict[str, float] = {}
    t = time.perf_counter()
    if not isinstance(netlist, Netlist):
        netlist = read_netlist(netlist)
        times["parse"] = time.perf_counter() - t
    nl = netlist
    if nl.count(STDCELL) == 0:
        raise ConfigError(f"netlist {nl.path} has no standard cells (STDCELL nodes): nothing to "
                          "cluster; use it as it is")
    if nl.count(SOFT_MACRO):
        say(f"note: {nl.count(SOFT_MACRO)} soft macros already in the netlist are kept as they are")
    t = time.perf_counter()
    cv, canvas_source = _canvas_of(nl, canvas, utilization)
    if grid is not None:
        g = (int(grid[0]), int(grid[1]))
        if g[0] < 1 or g[1] < 1:
            raise ConfigError(f"grid must be two positive integers COLS ROWS, got {tuple(grid)}")
        grid_source = "given"
    else:
        g = choose_grid(nl, cv)
        grid_source = "chosen"
    times["floorplan"] = time.perf_counter() - t
    say(f"canvas {cv[0]:.3f} x {cv[1]:.3f} ({canvas_source}), grid {g[0]} x {g[1]} ({grid_source})")

    t = time.perf_counter()
    hg = netlist_hypergraph(nl, max_fanout)
    fixed = grouping.fixed_groups(nl, hg, cv, g, fixed_levels)
    times["fixed_groups"] = time.perf_counter() - t
    t = time.perf_counter()
    group, used, k, n_fixed = _partition_groups(nl, hg, fixed, num_groups, imbalance, seed, backend)
    times["partition"] = time.perf_counter() - t
    say(f"partitioned into {k} blocks ({n_fixed} fixed groups) with "
        f"{used} in {times['partition']:.1f} s")
    stats: Dict[str, Any] = {"partitioner": used, "blocks": k, "fixed_groups": n_fixed,
                             "dropped_high_fanout_nets": int(np.count_nonzero(
                                 np.diff(nl.net_ptr) - 1 > (max_fanout or np.inf)))}
    t = time.perf_counter()
    positions = _has_positions(nl)
    threshold = math.sqrt(cv[0] * cv[1] / 16.0)
    if breakup and positions:
        group = grouping.break_up(nl, group, threshold)
        stats["groups_after_breakup"] = int(group.max()) + 1
    group = grouping.make_connected(nl, hg, group)
    stats["groups_after_connect"] = int(group.max()) + 1
    if breakup and positions:
        group = grouping.merge_small_groups(nl, hg, group, nl.n_nodes // k // 4, threshold / 2.0)
    times["breakup_merge"] = time.perf_counter() - t
    n_groups = int(group.max()) + 1

    t = time.perf_counter()
    if positions:
        cx, cy = grouping.group_centres(nl, group, n_groups)
    else:
        cx, cy = np.full(n_groups, cv[0] / 2), np.full(n_groups, cv[1] / 2)
    soft = soft_macro_geometry(nl, group, n_groups, cx, cy, cell_utilization, shape, cv[0] / g[0])
    nets = rebuild_nets(nl, hg, group)
    header = [f"Clustered by rlframe from {nl.path}",
              f"groups {num_groups}, partitioner {used}, seed {seed}, cell utilization "
              f"{cell_utilization}, shape {shape}, max fanout {max_fanout}"]
    taken = {nm.split("/", 1)[0] for nm, t in zip(nl.names, nl.node_type) if t != STDCELL}
    clash = sorted(taken.intersection(f"Grp_{g}" for g in range(n_groups)))
    if clash:
        raise ConfigError(f"netlist {nl.path} already has nodes named {clash[0]!r}..., the names "
                          "the new soft macros would take: rename them or cluster the flat netlist")
    text = netlist_text(nl, group, nets, soft, cv, header, cell_utilization)
    times["write"] = time.perf_counter() - t
    cells = nl.node_type == STDCELL
    stats.update({
        "soft_macros": int(len(np.unique(group[cells & (group >= 0)]))),
        "cell_positions": positions,
        "seconds": {k2: round(v, 3) for k2, v in times.items()},
    })
    say(f"{stats['soft_macros']} soft macros")
    return ClusteringResult(source=nl, group=group, canvas=cv, grid=g, canvas_source=canvas_source,
                            grid_source=grid_source, soft=soft, nets=nets, text=text, stats=stats)
