"""How much the proxy cost after force-directed placement moves when only the rounding changes.

For every shipped design with soft macros (ariane133, the synthetic demo_16, Circuit Training's small
designs with one soft macro), on the shipped placement and on random legal ones (the env's rules, seeded),
FD from the canvas centre and from the current positions (Circuit Training's schedule), this reports:

* ``recorded``: the proxy cost after FD with ``force_directed.py`` as it was at ``--rev`` (the values the
  exact path must keep; ``--fixture PATH`` writes them, with how they were made, for
  tests/placement/test_force_directed.py);
* ``exact``: the same with today's default (``exact=True``) and its relative difference;
* ``reordered``: the default with the spring-edge list permuted (``--perms`` seeds): the *same* forces,
  summed in another order -- the spread a change of rounding alone causes (the method is chaotic);
* ``fast``: ``ForceDirectedPlacer(exact=False)`` (the forces in linear-algebra form) and its CPU time.

    python experiments/benchmarks/fd_order_sensitivity.py [--rev b5e083d] [--perms 8]
        [--fixture tests/placement/fd_costs.json] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, Iterator, Tuple

import numpy as np

import rlframe.placement as placement
from rlframe.placement import FDSchedule, ForceDirectedPlacer, PlacementCost, read_netlist, resolve_design
from rlframe.placement.state import PlacementProblem, PlacementState

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: design -> random legal placements (seeds); designs are shipped names or folders under rlframe/placement/data/
DESIGNS: Dict[str, Tuple[int, ...]] = {
    "ariane133": (0, 1, 2),
    "synthetic/demo_16": (0, 1),
    "sample_clustered": (),
    "simple_grouped_with_coords": (),
    "simple_grouped_with_coords_with_blockage": (),
}


def design_path(design: str) -> str:
    """A shipped design name, or a folder under rlframe/placement/data/ (the synthetic demo)."""
    folder = os.path.join(os.path.dirname(placement.__file__), "data", design)
    return folder if os.path.isdir(folder) else design


def fd_cases(design: str, seeds) -> Iterator[Tuple[str, PlacementCost, np.ndarray, np.ndarray]]:
    """(case name, cost, x, y): the shipped placement, then one random legal placement per seed (every
    hard macro on a uniformly drawn feasible cell, ``np.random.default_rng(seed)``, the env's rules)."""
    net, plc = resolve_design(design_path(design))
    nl = read_netlist(net)
    pc = PlacementCost.from_plc(nl, plc)
    yield "shipped", pc, pc.x.copy(), pc.y.copy()
    for seed in seeds:
        st, rng = PlacementState(PlacementProblem(nl, plc)), np.random.default_rng(seed)
        while not st.done:
            st.place(int(rng.choice(np.flatnonzero(st.mask()))))
        yield f"random{seed}", pc, st.x.copy(), st.y.copy()


def module_at(rev: str):
    """``rlframe/placement/force_directed.py`` at git ``rev`` (compiled without numba's disk cache)."""
    import importlib.util
    import tempfile
    src = subprocess.run(["git", "show", f"{rev}:rlframe/placement/force_directed.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=30).stdout.replace("cache=True", "cache=False")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(src)
    name = f"force_directed_at_{rev}"
    spec = importlib.util.spec_from_file_location(name, f.name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def reordered(fd: ForceDirectedPlacer, seed: int) -> ForceDirectedPlacer:
    """``fd`` with its spring-edge list permuted: the same springs, summed in another order."""
    p = np.random.default_rng(seed).permutation(fd.n_edges)
    for name in ("_s_node", "_t_node", "_s_body", "_t_body", "_s_idx", "_t_idx", "_w", "_io", "_e_s", "_e_t"):
        setattr(fd, name, getattr(fd, name)[p])
    fd._bodies = None
    return fd


def cost_after(fd, pc: PlacementCost, x, y, use_current_loc: bool) -> float:
    fx, fy = fd.run(x, y, pc.orientation, FDSchedule(use_current_loc=use_current_loc))
    pc.set_positions(fx, fy, pc.orientation)
    return float(pc.proxy_cost())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", default="b5e083d", help="git revision whose force_directed.py gives the recorded values")
    ap.add_argument("--perms", type=int, default=8, help="edge-order permutations per case")
    ap.add_argument("--fixture", default=None, help="write the recorded values to this JSON (tests' fixture)")
    ap.add_argument("--json", default=None, help="write the whole result to this JSON")
    args = ap.parse_args()
    old = module_at(args.rev)
    rows, fixture = [], {}
    for design, seeds in DESIGNS.items():
        for case, pc, x, y in fd_cases(design, seeds):
            canvas = (pc.grid.width, pc.grid.height)
            nl = pc.netlist
            for start, cur in (("centre", False), ("current", True)):
                rec = cost_after(old.ForceDirectedPlacer(nl, canvas), pc, x, y, cur)
                exact = cost_after(ForceDirectedPlacer(nl, canvas), pc, x, y, cur)
                fast_fd = ForceDirectedPlacer(nl, canvas, exact=False)
                fast = cost_after(fast_fd, pc, x, y, cur)
                perm = [cost_after(reordered(ForceDirectedPlacer(nl, canvas), s), pc, x, y, cur)
                        for s in range(args.perms)]
                rel = lambda c: c / rec - 1.0   # noqa: E731
                row = {"design": design, "case": case, "start": start, "recorded": rec,
                       "exact": exact, "exact_rel": rel(exact), "fast": fast, "fast_rel": rel(fast),
                       "reordered": perm, "reordered_rel_min": min(map(rel, perm)) if perm else 0.0,
                       "reordered_rel_max": max(map(rel, perm)) if perm else 0.0}
                if case == "shipped" and design == "ariane133":
                    for label, fd in (("exact", ForceDirectedPlacer(nl, canvas)), ("fast", fast_fd)):
                        fd.run(x, y, pc.orientation)
                        t = []
                        for _ in range(7):
                            c = time.process_time()
                            fd.run(x, y, pc.orientation, FDSchedule(use_current_loc=cur))
                            t.append(time.process_time() - c)
                        row[f"{label}_run_cpu_ms"] = 1e3 * float(np.median(t))
                rows.append(row)
                fixture[f"{design}|{case}|{start}"] = rec
                print(f"{design:42s} {case:8s} {start:7s} recorded {rec:.6f}  exact {row['exact_rel']:+.2e}  "
                      f"fast {row['fast_rel']:+.3%}  reordered {row['reordered_rel_min']:+.3%} .. "
                      f"{row['reordered_rel_max']:+.3%}", flush=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    made = (f"proxy cost after FD (CT's schedule) with rlframe/placement/force_directed.py at {args.rev}, "
            f"by `python experiments/benchmarks/fd_order_sensitivity.py --rev {args.rev} --fixture ...` "
            f"(run at {head}); random legal placements: experiments/benchmarks/fd_order_sensitivity.py fd_cases")
    summary = {
        "max_abs_exact_rel": max(abs(r["exact_rel"]) for r in rows),
        "max_abs_fast_rel": max(abs(r["fast_rel"]) for r in rows),
        "mean_fast_rel": float(np.mean([r["fast_rel"] for r in rows])),
        "max_abs_reordered_rel": max(max(abs(r["reordered_rel_min"]), abs(r["reordered_rel_max"])) for r in rows),
        "cases_fast_within_0.5pct": sum(abs(r["fast_rel"]) <= 0.005 for r in rows),
        "cases_reordered_all_within_0.5pct": sum(max(abs(r["reordered_rel_min"]), abs(r["reordered_rel_max"])) <= 0.005
                                                 for r in rows),
        "cases_fast_within_reordered_range": sum(r["reordered_rel_min"] <= r["fast_rel"] <= r["reordered_rel_max"]
                                                 for r in rows),
        "cases": len(rows)}
    print(json.dumps(summary, indent=1))
    if args.fixture:
        with open(args.fixture, "w") as f:
            json.dump({"made": made, "rev": args.rev, "costs": fixture}, f, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rev": args.rev, "head": head, "perms": args.perms, "summary": summary, "rows": rows,
                       "command": " ".join(["python"] + sys.argv)}, f, indent=1)


if __name__ == "__main__":
    main()
