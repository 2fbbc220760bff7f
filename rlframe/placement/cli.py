"""``rlframe placement ...`` sub-commands (also runnable as ``python -m rlframe.placement.cli``).

* ``placement cost --netlist N [--plc P] [--json]`` -- Circuit Training's proxy cost of a placement
  (``P`` a path, or a file name in a shipped design's folder, e.g. ``legalized.plc``);
  canvas, grid and routing settings come from the .plc header and may be overridden with
  ``--canvas W H``, ``--grid COLS ROWS``, ``--routes H V``, ``--macro-routes H V``, ``--smooth N``.
* ``placement info N [--json]`` -- node counts, nets, areas, canvas.
* ``placement random|greedy|sa --netlist N [--plc P] [--grid C R] [--time S] [--moves M] [--seed S]
  [--no-fd] [--json] --out OUT.plc`` -- baseline placements of the hard macros
  (``rlframe.placement.baselines``); ``--plc`` gives the header settings and the starting
  positions of soft macros, ports and fixed macros (default: the design's initial.plc); soft macros
  are then placed force-directed (unless ``--no-fd``); the written .plc reads back with
  ``placement cost``.

``N`` is a netlist path or a shipped design name (``rlframe placement info --list`` lists them).
Wire into the main CLI with :func:`add_placement_parser`.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from rlframe.errors import NetlistParseError


def add_placement_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the ``placement`` command (with its sub-commands) to ``subparsers``."""
    p = subparsers.add_parser("placement", help="chip macro placement: cost, info, baselines",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="placement_cmd", metavar="{cost,info,random,greedy,sa}")
    sub.required = True

    c = sub.add_parser("cost", help="proxy cost of a placement (Circuit Training's formula)")
    c.add_argument("--netlist", required=True, help="netlist .pb.txt[.gz] or shipped design name")
    c.add_argument("--plc", default=None,
                   help=".plc placement (default: the design's initial.plc if any, else the "
                        "netlist's own coordinates)")
    c.add_argument("--grid", nargs=2, type=int, metavar=("COLS", "ROWS"))
    c.add_argument("--canvas", nargs=2, type=float, metavar=("W", "H"))
    c.add_argument("--routes", nargs=2, type=float, metavar=("H", "V"),
                   help="routing tracks per micron, horizontal and vertical")
    c.add_argument("--macro-routes", nargs=2, type=float, metavar=("H", "V"),
                   help="routing tracks per micron used by hard macros")
    c.add_argument("--smooth", type=float, help="congestion smoothing range (cells)")
    c.add_argument("--weights", nargs=3, type=float, default=(1.0, 0.5, 0.5),
                   metavar=("WL", "DENSITY", "CONGESTION"), help="proxy-cost weights")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(placement_func=cmd_cost)

    i = sub.add_parser("info", help="counts, nets, areas and canvas of a netlist")
    i.add_argument("netlist", nargs="?", help="netlist .pb.txt[.gz] or shipped design name")
    i.add_argument("--list", action="store_true", help="list the shipped designs")
    i.add_argument("--json", action="store_true")
    i.set_defaults(placement_func=cmd_info)

    for name, helptext in (("random", "random legal placement (best of --time seconds of samples)"),
                           ("greedy", "greedy placement: least HPWL increase per macro, largest first"),
                           ("sa", "simulated annealing over hard-macro moves on the proxy cost")):
        b = sub.add_parser(name, help=helptext)
        b.add_argument("--netlist", required=True, help="netlist .pb.txt[.gz] or shipped design name")
        b.add_argument("--plc", default=None,
                       help="starting .plc: header settings, soft-macro/port/fixed-macro positions "
                            "(default: the design's initial.plc if any)")
        b.add_argument("--grid", nargs=2, type=int, metavar=("COLS", "ROWS"))
        b.add_argument("--time", type=float, default=None,
                       help="time budget in seconds (random: default one sample; sa: default 60)")
        if name == "sa":
            b.add_argument("--moves", type=int, default=None, help="move budget (with or instead of --time)")
        b.add_argument("--seed", type=int, default=0)
        b.add_argument("--no-fd", action="store_true",
                       help="keep soft macros where they start (no force-directed placement)")
        b.add_argument("--weights", nargs=3, type=float, default=(1.0, 0.5, 0.5),
                       metavar=("WL", "DENSITY", "CONGESTION"), help="proxy-cost weights")
        b.add_argument("--out", required=True, help="output .plc path")
        b.add_argument("--json", action="store_true", help="print one JSON object")
        b.set_defaults(placement_func=cmd_baseline, baseline=name)
    return p


def _load(name: str):
    from rlframe.placement.designs import resolve_design
    from rlframe.placement.formats.netlist import read_netlist
    net_path, plc_path = resolve_design(name)
    return read_netlist(net_path), plc_path


def cmd_cost(args: argparse.Namespace) -> int:
    from rlframe.placement.cost import PlacementCost
    from rlframe.placement.designs import resolve_plc
    nl, default_plc = _load(args.netlist)
    plc = resolve_plc(args.netlist, args.plc) or default_plc
    overrides = dict(
        grid=tuple(args.grid) if args.grid else None,
        canvas=tuple(args.canvas) if args.canvas else None,
        routes_per_micron=tuple(args.routes) if args.routes else None,
        macro_routing_alloc=tuple(args.macro_routes) if args.macro_routes else None,
        smooth_range=args.smooth)
    if plc:
        pc = PlacementCost.from_plc(nl, plc, **overrides)
    else:
        pc = PlacementCost(nl, **{k: v for k, v in overrides.items() if v is not None})
    wl, dens, cong = args.weights
    e = pc.evaluate(wl=wl, density=dens, congestion=cong)
    out = {k: e[k] for k in ("hpwl", "wirelength_cost", "density_cost", "congestion_cost",
                             "proxy_cost")}
    if args.json:
        print(json.dumps(out))
    else:
        g = pc.grid
        print(f"netlist {nl.path}\nplacement {plc or '(netlist coordinates)'}")
        print(f"canvas {g.width:g} x {g.height:g}, grid {g.cols} x {g.rows}, routes/um "
              f"{pc.routes_per_micron}, macro routes/um {pc.macro_routing_alloc}, "
              f"smooth {pc.smooth_range}")
        for k, v in out.items():
            print(f"{k:16s} {v:.6f}")
        print(f"{'macro overlap':16s} {e['overlap']:.3f}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.list or not args.netlist:
        from rlframe.placement.designs import list_designs
        names = list_designs()
        print(json.dumps(names) if args.json else "\n".join(names))
        return 0
    nl, plc = _load(args.netlist)
    s = nl.summary()
    s["initial_plc"] = plc
    if args.json:
        print(json.dumps(s))
    else:
        for k, v in s.items():
            print(f"{k:18s} {v:.3f}" if isinstance(v, float) else f"{k:18s} {v}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from rlframe.placement import baselines
    from rlframe.placement.state import PlacementProblem
    from rlframe.placement.designs import resolve_plc
    problem = PlacementProblem(args.netlist, plc=resolve_plc(args.netlist, args.plc),
                               grid=tuple(args.grid) if args.grid else None)
    common = dict(run_fd=not args.no_fd, weights=tuple(args.weights))
    if args.baseline == "random":
        res = baselines.random_placement(problem, seed=args.seed, time_budget=args.time, **common)
    elif args.baseline == "greedy":
        res = baselines.greedy_placement(problem, **common)
    else:
        budget = args.time if args.time is not None else (None if args.moves else 60.0)
        res = baselines.simulated_annealing(problem, time_budget=budget, max_moves=args.moves,
                                            seed=args.seed, **common)
    res.write(args.out)
    out = {"baseline": res.name, "out": args.out, "seconds": res.seconds,
           "evaluations": res.evaluations, **res.costs,
           "before_fd": res.costs_before_fd, "stats": res.stats}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{res.name}: {res.evaluations} evaluations in {res.seconds:.1f} s -> {args.out}")
        for k in ("hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost"):
            print(f"{k:16s} {res.costs[k]:.6f}   (before force-directed: {res.costs_before_fd[k]:.6f})")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch parsed ``placement`` arguments; user errors print one line and return 2."""
    try:
        return args.placement_func(args)
    except (FileNotFoundError, NetlistParseError, ValueError, RuntimeError) as e:
        print(f"rlframe placement: error: {e}", file=sys.stderr)
        return 2


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlframe.placement.cli")
    sub = parser.add_subparsers(dest="cmd")
    sub.required = True
    add_placement_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] != "placement":
        argv.insert(0, "placement")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
