"""``rlframe placement cluster``: a flat netlist -> a clustered netlist and its .plc.

    rlframe placement cluster --netlist FLAT --out CLUSTERED.pb.txt [--canvas W H] [--grid C R]
        [--utilization U] [--groups N] [--seed S] [--partitioner auto|mtkahypar|numpy]
        [--header-from PLC] [--plc-out P] [--json]

Writes ``CLUSTERED.pb.txt`` (``.gz`` compresses) and ``CLUSTERED.plc`` beside it (canvas, grid and
routing settings in the header, every node at its initial position), which ``placement
info/cost/random/greedy/sa`` and the env pick up for ``CLUSTERED.pb.txt`` with no further flags.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Dict

from rlframe.placement.clustering.cluster import (
    DEFAULT_CELL_UTILIZATION, DEFAULT_GROUPS, DEFAULT_MAX_FANOUT, DEFAULT_UTILIZATION,
    cluster_netlist)
from rlframe.placement.clustering.partition import BACKENDS
from rlframe.placement.clustering.writer import SHAPES


def add_cluster_parser(sub: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add ``cluster`` to the ``placement`` sub-commands."""
    c = sub.add_parser("cluster", help="group a flat netlist's standard cells into soft macros",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--netlist", required=True, help="flat netlist .pb.txt[.gz]")
    c.add_argument("--out", required=True, help="clustered netlist to write (.pb.txt or .pb.txt.gz)")
    c.add_argument("--plc-out", default=None,
                   help="its .plc (default: OUT with .pb.txt[.gz] replaced by .plc, found by the "
                        "other commands and the env)")
    c.add_argument("--canvas", nargs=2, type=float, metavar=("W", "H"),
                   help="canvas size (default: the netlist's '# FP bbox', else a square of the "
                        "design's area / --utilization)")
    c.add_argument("--grid", nargs=2, type=int, metavar=("COLS", "ROWS"),
                   help="placement grid (default: chosen as Circuit Training's grid selection does)")
    c.add_argument("--utilization", type=float, default=DEFAULT_UTILIZATION,
                   help=f"design area / canvas area for a chosen canvas (default {DEFAULT_UTILIZATION})")
    c.add_argument("--header-from", default=None, metavar="PLC",
                   help="take canvas, grid and routing settings from this .plc's header "
                        "(--canvas/--grid still override)")
    c.add_argument("--groups", type=int, default=DEFAULT_GROUPS,
                   help=f"partition blocks besides the fixed groups (default {DEFAULT_GROUPS})")
    c.add_argument("--cell-utilization", type=float, default=DEFAULT_CELL_UTILIZATION,
                   help="soft-macro area = cell area / this (default "
                        f"{DEFAULT_CELL_UTILIZATION}, Circuit Training's)")
    c.add_argument("--shape", choices=SHAPES, default="gcell",
                   help="soft macros one grid cell wide (Circuit Training's grouper) or square")
    c.add_argument("--max-fanout", type=int, default=DEFAULT_MAX_FANOUT,
                   help="nets with more sinks are ignored and dropped (default "
                        f"{DEFAULT_MAX_FANOUT})")
    c.add_argument("--no-breakup", action="store_true",
                   help="keep spread groups (no break-up, no merging of small groups)")
    c.add_argument("--partitioner", choices=BACKENDS, default="auto",
                   help="auto: Mt-KaHyPar when installed (pip install 'rlframe[cluster]'), else numpy")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(placement_func=cmd_cluster)
    return c


def cmd_cluster(args: argparse.Namespace) -> int:
    canvas, grid = args.canvas, args.grid
    routing: Dict[str, Any] = {}
    if args.header_from:
        from rlframe.placement.formats.plc import read_plc
        h = read_plc(args.header_from).header
        canvas = canvas or h.canvas
        grid = grid or h.grid
        routing = dict(routes_per_micron=h.routes_per_micron, macro_routing_alloc=h.macro_routing_alloc,
                       smooth_range=h.smooth_range or 0.0, overlap_threshold=h.overlap_threshold or 0.0)
    t0 = time.perf_counter()
    res = cluster_netlist(
        args.netlist, num_groups=args.groups, canvas=canvas, grid=grid,
        utilization=args.utilization, cell_utilization=args.cell_utilization, shape=args.shape,
        max_fanout=args.max_fanout, breakup=not args.no_breakup, seed=args.seed,
        backend=args.partitioner, log=None if args.json else print)
    out, plc = res.write(args.out, args.plc_out, **routing)
    seconds = time.perf_counter() - t0
    s = res.clustered.summary()
    report = {"netlist": out, "plc": plc, "source": res.source.path,
              "canvas": list(res.canvas), "canvas_source": res.canvas_source,
              "grid": list(res.grid), "grid_source": res.grid_source,
              "hard_macros": s["hard_macros"], "soft_macros": s["soft_macros"],
              "ports": s["ports"], "nets": s["nets"], "net_weight_sum": s["net_weight_sum"],
              "soft_macro_area": s["soft_macro_area"],
              "cell_area": float(res.soft.cell_area.sum()), "total_seconds": round(seconds, 3),
              **res.stats}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"wrote {out} ({s['hard_macros']} hard macros, {s['soft_macros']} soft macros, "
              f"{s['ports']} ports, {s['nets']} nets) and {plc} in {seconds:.1f} s")
        print(f"canvas {res.canvas[0]:g} x {res.canvas[1]:g} ({res.canvas_source}), grid "
              f"{res.grid[0]} x {res.grid[1]} ({res.grid_source}): pass --canvas/--grid to change")
    return 0
