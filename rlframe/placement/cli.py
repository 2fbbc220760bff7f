"""``rlframe placement ...`` sub-commands (also runnable as ``python -m rlframe.placement.cli``).

* ``placement cost --netlist N [--plc P] [--fd centre|refine|none] [--json]`` -- the proxy cost of a
  placement and its components, scored by the evaluation protocol (rlframe/placement/protocol.py):
  ``--fd none`` (default) scores the .plc as written, ``--fd centre`` places the soft macros by
  force-directed placement from the canvas centre first (Circuit Training's default, what CT and TILOS
  publish), ``--fd refine`` from their current positions, kept if better. ``P`` is a path or a file name
  in a shipped design's folder (e.g. ``legalized.plc``); canvas, grid and routing settings come from the
  .plc header and may be overridden with ``--canvas W H``, ``--grid COLS ROWS``, ``--routes H V``,
  ``--macro-routes H V``, ``--smooth N``.
* ``placement info N [--plc P] [--grid C R] [--canvas W H] [--json]`` -- what to know before training:
  macros, soft macros, nets, canvas, grid, utilisation, and whatever makes every episode dead-end.
* ``placement random|greedy|sa --netlist N [--plc P] [--grid C R] [--time S] [--moves M] [--seed S]
  [--fd centre|refine|none] [--json] --out OUT.plc`` -- baseline placements of the hard macros
  (``rlframe.placement.baselines``); ``--plc`` gives the header settings and the starting positions of
  soft macros, ports and fixed macros (default: the design's initial.plc); the soft macros are then
  placed under the ``--fd`` regime (default ``centre``; ``--no-fd`` = ``--fd none``), and OUT.plc holds
  them where that score put them: ``placement cost --plc OUT.plc --fd none`` re-scores it to the printed
  value (and, for ``centre``, so does ``--fd centre``).

``N`` is a netlist path or a shipped design name (``rlframe placement info --list`` lists them).
Wire into the main CLI with :func:`add_placement_parser`.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any, Dict, List, Optional

from rlframe.errors import ConfigError, NetlistParseError
from rlframe.placement.cost import COST_TERMS, term_fields
from rlframe.placement.protocol import FD_REGIMES

def _cost_keys() -> tuple:
    """The cost keys every command prints: the HPWL, each registered term, the proxy cost."""
    return ("hpwl", *term_fields(), "proxy_cost")


def add_placement_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the ``placement`` command (with its sub-commands) to ``subparsers``."""
    p = subparsers.add_parser("placement", help="chip macro placement: cost, info, baselines",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="placement_cmd")
    sub.required = True
    _add_cost(sub)
    _add_info(sub)
    _add_baselines(sub)
    from rlframe.placement.clustering.cli import add_cluster_parser
    add_cluster_parser(sub)
    _add_synth(sub)
    _add_rl(sub)
    return p


#: The best-of-N and fine-tuning schedule of :func:`rlframe.placement.rl.rl_place`: its keywords with their
#: defaults there (None: the rl module's constant). The flags of :func:`add_fine_tuning_arguments` carry
#: these names; :func:`fine_tuning_kwargs` reads them back, so a new keyword is added here and in rl_place only.
FINE_TUNING_DEFAULTS: Dict[str, Any] = {
    "samples": None, "sample_share": None, "imitate": 0, "imitate_top": 1, "imitate_interval": None,
    "prior_temperature": None, "warm_temperature": None, "sample_temperature": 1.0, "restore_best_policy": False}


def fine_tuning_kwargs(args: argparse.Namespace, prefix: str = "") -> Dict[str, Any]:
    """rl_place's schedule keywords (:data:`FINE_TUNING_DEFAULTS`) from the flags that
    :func:`add_fine_tuning_arguments` added with the same ``prefix``."""
    dest = prefix.replace("-", "_")
    return {key: getattr(args, dest + key) for key in FINE_TUNING_DEFAULTS}


def fine_tuning_schedule(given: Dict[str, Any]) -> Dict[str, Any]:
    """``given`` schedule keywords completed with :data:`FINE_TUNING_DEFAULTS` (what a results file
    records); a keyword rl_place does not take is an error naming the known ones."""
    unknown = sorted(set(given) - set(FINE_TUNING_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown fine-tuning keyword(s) {unknown}; rl_place's schedule takes "
                        f"{sorted(FINE_TUNING_DEFAULTS)} (rlframe/placement/cli.py FINE_TUNING_DEFAULTS)")
    return {**FINE_TUNING_DEFAULTS, **given}


def add_fine_tuning_arguments(parser, prefix: str = "", defaults: Optional[Dict[str, Any]] = None) -> None:
    """The best-of-N and fine-tuning schedule flags of :func:`rlframe.placement.rl.rl_place`, shared by
    ``placement rl``, experiments/placement_ppo.py and experiments/placement_pretrain.py (``prefix``, e.g.
    ``"eval-"``: ``--eval-samples`` ...; ``defaults``: by destination name without the prefix, e.g.
    ``{"samples": 64}``; None: rl_place's own default, named in the help). Read them back with
    :func:`fine_tuning_kwargs`."""
    d = fine_tuning_schedule(defaults or {})
    flags = {
        "samples": (int, "best-of-N: placements sampled from the policy after its deterministic one, without "
                         "training; with a budget and a checkpoint, sampled before PPO starts (rl_place's samples; "
                         "None: rlframe.placement.rl.SAMPLES)"),
        "sample_share": (float, "with a budget: the share of it spent sampling without training: the checkpoint's "
                                "samples first, the rest from the fine-tuned policy after PPO (rl_place's "
                                "sample_share; None: rlframe.placement.rl.SAMPLE_SHARE)"),
        "imitate": (int, "with a budget: self-imitation steps on the policy's best placement(s) whenever they "
                         "improve (rl_place's imitate; 0: none; docs/placement.md, 'The pre-trained placer')"),
        "imitate_top": (int, "with --imitate: imitate the K cheapest distinct placements found so far (the "
                             "cross-entropy method's elite) instead of the best only (rl_place's imitate_top; 1: "
                             "the best only)"),
        "imitate_interval": (float, "with --imitate: also imitate when this many seconds passed since the last "
                                    "imitation, even if the placements did not change (rl_place's "
                                    "imitate_interval; None: on changes only)"),
        "prior_temperature": (float, "with a budget and a checkpoint: the checkpoint's logits are divided by this "
                                     "before fine-tuning (> 1: a flatter prior; rl_place's prior_temperature; None: "
                                     "rlframe.placement.rl.PRIOR_TEMPERATURE)"),
        "warm_temperature": (float, "with a budget and a checkpoint: the temperature of the checkpoint's first "
                                    "samples only (rl_place's warm_temperature; None: "
                                    "rlframe.placement.rl.WARM_TEMPERATURE, None there = the prior temperature)"),
        "sample_temperature": (float, "with a budget: the temperature of the sampling after PPO (< 1: closer to "
                                      "the fine-tuned policy's argmax; rl_place's sample_temperature; 1: unchanged)"),
    }
    for dest, (kind, text) in flags.items():
        parser.add_argument(f"--{prefix}{dest.replace('_', '-')}", type=kind, default=d[dest],
                            help=f"{text} (default {d[dest]})")
    parser.add_argument(f"--{prefix}restore-best-policy", action=argparse.BooleanOptionalAction,
                        default=d["restore_best_policy"],
                        help="with a budget: after PPO, put back the weights of its cheapest deterministic placement "
                             "if the last one is worse (a late PPO collapse; rl_place's restore_best_policy)")


def _add_rl(sub) -> None:
    r = sub.add_parser("rl", help="place with a learned policy: zero-shot from a checkpoint or fine-tuned "
                                  "(rlframe/placement/rl.py)")
    r.add_argument("--netlist", required=True, help="netlist .pb.txt[.gz] or shipped design name")
    r.add_argument("--plc", default=None, help="starting .plc (default: the design's / the companion .plc)")
    r.add_argument("--checkpoint", default=None,
                   help="policy checkpoint: 'pretrained' (the shipped pre-trained MaskPlace CNN, "
                        "rlframe/placement/data/pretrained/README.md) or a file from --save-checkpoint")
    r.add_argument("--policy", choices=("cell", "cnn", "gnn"), default="cnn",
                   help="policy to train from scratch when no --checkpoint (default cnn)")
    r.add_argument("--time", type=float, default=0.0,
                   help="wall-clock budget of PPO fine-tuning in seconds; the result is the best of the policy's "
                        "deterministic and sampled placements in it (0: zero-shot, needs --checkpoint)")
    r.add_argument("--eval-every", type=int, default=None,
                   help="with --time: PPO iterations between deterministic placements of the policy (default: "
                        "rlframe.placement.rl.EVAL_EVERY)")
    add_fine_tuning_arguments(r)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--reward", choices=("proxy", "hpwl", "mix"), default="mix")
    r.add_argument("--fd", choices=FD_REGIMES, default="centre", help="soft-macro regime of the printed score")
    r.add_argument("--save-checkpoint", default=None, help="write the (fine-tuned) policy here")
    r.add_argument("--out", required=True, help="output .plc path")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(placement_func=cmd_rl)


def cmd_rl(args: argparse.Namespace) -> int:
    from rlframe.placement.rl import rl_place
    res = rl_place(args.netlist, args.out, plc=args.plc, checkpoint=args.checkpoint, policy=args.policy,
                   seconds=args.time, seed=args.seed, fd=args.fd, reward=args.reward,
                   save_checkpoint=args.save_checkpoint, eval_every=args.eval_every, **fine_tuning_kwargs(args))
    out = {"out": res.out, "fd": args.fd, "seconds": res.seconds, "env_steps": res.env_steps,
           "evaluations": res.evaluations, "sampled": res.sampled, "winner": res.source,
           "restored_cost": res.restored_cost,
           "checkpoint": res.checkpoint, **res.costs}
    if args.json:
        print(_json(out))
    else:
        print(f"rl: {res.env_steps} env steps, best of {res.evaluations} deterministic and {res.sampled} sampled "
              f"placements ({res.source} won) in {res.seconds:.1f} s -> {res.out}")
        print(f"soft macros: {_REGIME_TEXT[args.fd]}")
        _print_costs(res.costs)
    return 0


def _add_synth(sub) -> None:
    s = sub.add_parser("synth", help="write a synthetic netlist and its .plc (rlframe/placement/synthetic.py)")
    s.add_argument("--out", required=True, help="folder for synthetic_<N>_s<S>.pb.txt and .plc")
    s.add_argument("--macros", type=int, default=16, help="hard macros (default 16)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--soft-per-macro", type=float, default=4.0, help="soft macros per hard macro")
    s.add_argument("--ports", type=int, default=16)
    s.add_argument("--utilization", type=float, default=0.6, help="macro area / canvas area")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(placement_func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    from rlframe.placement.formats import read_netlist
    from rlframe.placement.synthetic import SyntheticSpec, write_synthetic
    spec = SyntheticSpec(n_macros=args.macros, seed=args.seed, soft_per_macro=args.soft_per_macro,
                         n_ports=args.ports, utilization=args.utilization)
    netlist, plc = write_synthetic(args.out, spec)
    out = {"netlist": netlist, "plc": plc, "stats": read_netlist(netlist).summary()}
    if args.json:
        print(_json(out))
    else:
        st = out["stats"]
        print(f"wrote {netlist} ({st['hard_macros']} hard macros, {st['soft_macros']} soft macros, "
              f"{st['ports']} ports, {st['nets']} nets) and {plc}")
    return 0


def _add_weights(parser: argparse.ArgumentParser) -> None:
    names = tuple(COST_TERMS)
    parser.add_argument("--weights", nargs=len(names), type=float, default=None,
                        metavar=tuple(n.upper() for n in names),
                        help="proxy-cost weights, one per cost term (default "
                             + " / ".join(f"{t.weight:g}" for t in COST_TERMS.values()) + ")")


def _add_cost(sub) -> None:
    c = sub.add_parser("cost", help="proxy cost of a placement (Circuit Training's formula)")
    c.add_argument("--netlist", required=True, help="netlist .pb.txt[.gz] or shipped design name")
    c.add_argument("--plc", default=None,
                   help=".plc placement (default: the design's initial.plc if any, else the "
                        "netlist's own coordinates)")
    c.add_argument("--fd", choices=FD_REGIMES, default=None,
                   help="soft macros: none = as in the .plc (default), centre = force-directed from the canvas "
                        "centre (the protocol's published regime), refine = from their positions, kept if better")
    c.add_argument("--grid", nargs=2, type=int, metavar=("COLS", "ROWS"))
    c.add_argument("--canvas", nargs=2, type=float, metavar=("W", "H"))
    c.add_argument("--routes", nargs=2, type=float, metavar=("H", "V"),
                   help="routing tracks per micron, horizontal and vertical")
    c.add_argument("--macro-routes", nargs=2, type=float, metavar=("H", "V"),
                   help="routing tracks per micron used by hard macros")
    c.add_argument("--smooth", type=float, help="congestion smoothing range (cells)")
    _add_weights(c)
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(placement_func=cmd_cost)


def _add_info(sub) -> None:
    i = sub.add_parser("info", help="macros, nets, canvas, grid, utilisation and dead ends of a netlist")
    i.add_argument("netlist", nargs="?", help="netlist .pb.txt[.gz] or shipped design name")
    i.add_argument("--plc", default=None, help=".plc giving canvas and grid (default: the design's initial.plc)")
    i.add_argument("--grid", nargs=2, type=int, metavar=("COLS", "ROWS"))
    i.add_argument("--canvas", nargs=2, type=float, metavar=("W", "H"))
    i.add_argument("--list", action="store_true", help="list the shipped designs")
    i.add_argument("--json", action="store_true")
    i.set_defaults(placement_func=cmd_info)


def _add_baselines(sub) -> None:
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
        b.add_argument("--fd", choices=FD_REGIMES, default="centre",
                       help="soft-macro regime of the printed score and of OUT.plc (default centre)")
        b.add_argument("--no-fd", action="store_const", const="none", dest="fd",
                       help="same as --fd none: keep soft macros where they start")
        _add_weights(b)
        b.add_argument("--out", required=True, help="output .plc path")
        b.add_argument("--json", action="store_true", help="print one JSON object")
        b.set_defaults(placement_func=cmd_baseline, baseline=name)


# ----- output ---------------------------------------------------------------------------------------
def _json(obj: Dict[str, Any]) -> str:
    """One JSON line; a NaN or infinity is an error naming the field (JSON has no NaN)."""
    bad = [k for k, v in _flat(obj) if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise ConfigError(f"non-finite value(s) in the result: {', '.join(bad)}; the inputs hold something the "
                          "checks missed -- please report it with the netlist and .plc")
    return json.dumps(obj, allow_nan=False)


def _flat(obj: Any, prefix: str = ""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, f"{prefix}{k}.")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _flat(v, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), obj


def _print_costs(costs: Dict[str, float], extra: Optional[Dict[str, float]] = None, label: str = "") -> None:
    for k in _cost_keys():
        line = f"{k:16s} {costs[k]:.6f}"
        if extra is not None:
            line += f"   ({label}: {extra[k]:.6f})"
        print(line)


# ----- commands -------------------------------------------------------------------------------------
def cmd_cost(args: argparse.Namespace) -> int:
    from rlframe.placement.cost import PlacementCost
    from rlframe.placement.designs import load_design
    from rlframe.placement.protocol import fd_placer_for, score_positions

    nl, pl = load_design(args.netlist, args.plc)
    overrides = dict(
        grid=tuple(args.grid) if args.grid else None,
        canvas=tuple(args.canvas) if args.canvas else None,
        routes_per_micron=tuple(args.routes) if args.routes else None,
        macro_routing_alloc=tuple(args.macro_routes) if args.macro_routes else None,
        smooth_range=args.smooth)
    if pl is not None:
        pc = PlacementCost.from_plc(nl, pl, **overrides)
    else:
        _warn_defaults(nl, overrides)
        pc = PlacementCost(nl, **{k: v for k, v in overrides.items() if v is not None})
    fd = args.fd or "none"
    ev = score_positions(pc, fd_placer_for(pc) if fd != "none" else None, pc.x, pc.y, pc.orientation, fd,
                         args.weights)
    out: Dict[str, Any] = {k: ev.costs[k] for k in _cost_keys()}
    if args.fd is not None:
        out["fd"] = fd
    if args.json:
        print(_json(out))
    else:
        g = pc.grid
        print(f"netlist {nl.path}\nplacement {pl.path if pl is not None else '(netlist coordinates)'}")
        print(f"canvas {g.width:g} x {g.height:g}, grid {g.cols} x {g.rows}, routes/um "
              f"{pc.routes_per_micron}, macro routes/um {pc.macro_routing_alloc}, "
              f"smooth {pc.smooth_range}")
        print(f"soft macros: {_REGIME_TEXT[fd]}")
        _print_costs(ev.costs)
        print(f"{'macro overlap':16s} {ev.costs['overlap']:.3f}")
    return 0


_REGIME_TEXT = {"none": "as in the placement (--fd none)",
                "centre": "force-directed from the canvas centre (--fd centre)",
                "refine": "force-directed from their positions, kept if better (--fd refine)"}


def _warn_defaults(nl, overrides: Dict[str, Any]) -> None:
    """No .plc: say which settings fall back to defaults (never silently)."""
    from rlframe.placement.cost import DEFAULT_GRID
    if overrides.get("grid") is None:
        warnings.warn(f"{nl.path}: no .plc and no --grid: using the default grid {DEFAULT_GRID[0]} x "
                      f"{DEFAULT_GRID[1]}; pass --plc or --grid COLS ROWS", stacklevel=2)
    if overrides.get("canvas") is None and nl.canvas_bbox is None:
        warnings.warn(f"{nl.path}: no .plc, no '# FP bbox' line and no --canvas: using a square canvas of "
                      "the design's area / 0.6; pass --plc or --canvas W H", stacklevel=2)


def cmd_info(args: argparse.Namespace) -> int:
    if args.list or not args.netlist:
        from rlframe.placement.designs import list_designs
        names = list_designs()
        print(json.dumps(names) if args.json else "\n".join(names))
        return 0
    from rlframe.placement.info import design_info
    info = design_info(args.netlist, plc=args.plc, grid=tuple(args.grid) if args.grid else None,
                       canvas=tuple(args.canvas) if args.canvas else None)
    if args.json:
        print(_json(info))
        return 0
    for k, v in info.items():
        if k in ("dead_ends", "warnings"):
            continue
        print(f"{k:22s} {v:.3f}" if isinstance(v, float) else f"{k:22s} {v}")
    for w in info["warnings"]:
        print(f"warning: {w}")
    for d in info["dead_ends"]:
        print(f"DEAD END: {d}")
    if not info["dead_ends"]:
        print(f"{'dead ends':22s} none found")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from rlframe.placement import baselines
    from rlframe.placement.designs import resolve_plc
    from rlframe.placement.state import PlacementProblem
    problem = PlacementProblem(args.netlist, plc=resolve_plc(args.netlist, args.plc),
                               grid=tuple(args.grid) if args.grid else None)
    common = dict(run_fd=args.fd != "none", weights=args.weights)
    if args.baseline == "random":
        res = baselines.random_placement(problem, seed=args.seed, time_budget=args.time, **common)
    elif args.baseline == "greedy":
        res = baselines.greedy_placement(problem, **common)
    else:
        budget = args.time if args.time is not None else (None if args.moves else 60.0)
        res = baselines.simulated_annealing(problem, time_budget=budget, max_moves=args.moves,
                                            seed=args.seed, **common)
    ev = res.regime(args.fd)
    res.write(args.out, args.fd)
    out = {"baseline": res.name, "out": args.out, "fd": args.fd, "seconds": res.seconds,
           "evaluations": res.evaluations, **ev.costs, "before_fd": res.costs_before_fd,
           "regimes": {k: {c: r.costs[c] for c in _cost_keys()} for k, r in res.regimes.items()},
           "stats": res.stats}
    if args.json:
        print(_json(out))
    else:
        print(f"{res.name}: {res.evaluations} evaluations in {res.seconds:.1f} s -> {args.out}")
        print(f"soft macros: {_REGIME_TEXT[args.fd]}")
        _print_costs(ev.costs, res.costs_before_fd, "before force-directed")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch parsed ``placement`` arguments; user errors print one line and return 2, warnings one line
    each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = args.placement_func(args)
        except (FileNotFoundError, NetlistParseError, ConfigError, ValueError, RuntimeError, MemoryError) as e:
            code = 2
            _print_warnings(caught)
            print(f"rlframe placement: error: {e}", file=sys.stderr)
            return code
    _print_warnings(caught)
    return code


def _print_warnings(caught: List[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        if issubclass(w.category, DeprecationWarning) or str(w.message) in seen:
            continue
        seen.add(str(w.message))
        print(f"rlframe placement: warning: {w.message}", file=sys.stderr)


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
