"""Benchmark: rlframe's vectorised proxy cost vs a straightforward per-net pure-Python loop.

Both evaluate Circuit Training's proxy cost (same formulas, see docs/placement.md) of the same
Ariane133 placement in the same run; we report times, the speed-up with and without the netlist
parse, the parse time, the incremental single-macro move time, the agreement of the two evaluators
and env steps/s.

    python experiments/benchmarks/placement_cost.py [--design ariane133] [--plc legalized.plc]
        [--repeats 20] [--json PATH] [--baseline-rev GIT_REV]

``--baseline-rev`` also times ``cost.py`` and ``force_directed.py`` (``rlframe/placement/``, or
``rlframe/envs/placement/`` before the move) as they were at a git revision (``--fd-baseline-rev``:
another one for ``force_directed.py``), in the same run and interleaved with the current ones, and runs the env entries on that revision's whole package in a
child process, alternating with the current one (before/after figures on a shared machine; JSON
``baseline``, ``fd.baseline_*``, ``env.<name>.baseline_*``; CPU-time figures beside wall-clock). The
netlist parse is always timed that way against ``PARSE_BASELINE_REV`` (the line-by-line parser),
on the design and on any ``--flat`` netlists (JSON ``parse``: per file ``parse_s``,
``baseline_parse_s``, ``speedup``, ``identical``).

Env hook: ``ENV_BENCHMARKS`` maps a name to a callable ``fn(design: str) -> dict`` whose result
is merged into the JSON under ``"env"``: here the env steps/s of a random legal policy
(``MacroPlacementEnv``; image or graph observations, with and without the final force-directed
soft-macro placement). ``--env-only`` runs just those.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Sequence

import numpy as np

from rlframe.placement.cost import PlacementCost
from rlframe.placement.designs import design_file, resolve_design
from rlframe.placement.geometry import oriented_size
from rlframe.placement.formats.netlist import HARD_MACRO, SOFT_MACRO, read_netlist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_meta import run_meta  # noqa: E402

#: name -> fn(design) -> dict of metrics; the env/baselines colleague registers entries here.
ENV_BENCHMARKS: Dict[str, Callable[[str], dict]] = {}


def env_random_policy_sps(design: str, episodes: int = 3, run_fd: bool = True,
                          observation: str = "image") -> dict:
    """Env steps/s of a random *legal* policy (uniform over the action mask) on ``design``:
    the whole episode loop (reset, steps, the final force-directed placement and proxy cost),
    after one untimed warm-up episode."""
    import gymnasium

    import rlframe.placement  # noqa: F401  (registers the env)

    env = gymnasium.make("rlframe/MacroPlacement-v0", design=design, run_fd=run_fd,
                         observation=observation)
    rng = np.random.default_rng(0)

    def legal_action() -> int:   # uniform over the feasible cells (cheaper than rng.choice)
        cells = np.flatnonzero(env.unwrapped.action_masks())
        return int(cells[rng.integers(len(cells))])

    # one untimed episode first: compiled kernels load (or compile, in a fresh checkout) on first use
    env.reset(seed=episodes)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(legal_action())
        done = term or trunc
    steps, final_s, costs = 0, 0.0, []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for ep in range(episodes):
        env.reset(seed=ep)
        done = False
        while not done:
            action = legal_action()
            t = time.perf_counter()
            _, _, term, trunc, info = env.step(action)
            if term:
                final_s += time.perf_counter() - t   # includes the last step itself
            done = term or trunc
            steps += 1
        costs.append(info["proxy_cost"])
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"design": design, "observation": observation, "run_fd": run_fd,
            "episodes": episodes, "steps": steps, "steps_per_s": steps / total,
            "cpu_steps_per_s": steps / max(cpu, 1e-9),
            "steps_per_s_excluding_episode_end": (steps - episodes) / max(total - final_s, 1e-9),
            "episode_end_s": final_s / episodes, "proxy_cost_mean": float(np.mean(costs))}


ENV_BENCHMARKS["random_policy_image"] = lambda design: env_random_policy_sps(design)
ENV_BENCHMARKS["random_policy_image_no_fd"] = lambda design: env_random_policy_sps(
    design, run_fd=False)
ENV_BENCHMARKS["random_policy_graph"] = lambda design: env_random_policy_sps(
    design, observation="graph")


def _tree_at(rev: str) -> str:
    """A temporary folder holding ``rlframe/`` as it was at git ``rev`` (``git archive``)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tempfile.mkdtemp(prefix=f"rlframe_{rev}_")
    tar = subprocess.run(["git", "archive", rev, "rlframe"], cwd=root, check=True,
                         capture_output=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", out], input=tar, check=True, timeout=60)
    return out


def env_at_rev(rev_tree: str, design: str, names: Sequence[str]) -> dict:
    """``ENV_BENCHMARKS[name](design)`` run by a child Python on the package in ``rev_tree``."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]); "
            "import placement_cost as b; "
            "print(json.dumps({n: b.ENV_BENCHMARKS[n](sys.argv[3]) for n in sys.argv[4:]}))")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, "-c", code, rev_tree, here, design, *names],
                         check=True, capture_output=True, text=True, timeout=1800, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def env_interleaved(design: str, baseline_rev: str, rounds: int = 2) -> dict:
    """Every ``ENV_BENCHMARKS`` entry now and at ``baseline_rev`` (a child process on that
    revision's package), alternating ``rounds`` times; medians of steps/s and their ratio."""
    tree = _tree_at(baseline_rev)
    now: Dict[str, List[dict]] = {n: [] for n in ENV_BENCHMARKS}
    old: Dict[str, List[dict]] = {n: [] for n in ENV_BENCHMARKS}
    for _ in range(rounds):
        for name, fn in ENV_BENCHMARKS.items():
            now[name].append(fn(design))
            old[name].append(env_at_rev(tree, design, [name])[name])
    out = {}
    for name in ENV_BENCHMARKS:
        r = dict(now[name][-1])
        for key in ("steps_per_s", "cpu_steps_per_s", "episode_end_s"):
            r[key] = statistics.median(v[key] for v in now[name])
            r[f"baseline_{key}"] = statistics.median(v[key] for v in old[name])
        r["baseline_rev"] = baseline_rev
        r["speedup_now_vs_rev"] = r["steps_per_s"] / r["baseline_steps_per_s"]
        r["cpu_speedup_now_vs_rev"] = r["cpu_steps_per_s"] / r["baseline_cpu_steps_per_s"]
        r["rounds"] = rounds
        out[name] = r
    return out


# ------------------------------------------------------------------------------------------------
# Reference: one Python loop per net / macro / cell, in the style of plc_client_os.py.
# ------------------------------------------------------------------------------------------------
def reference_cost(pc: PlacementCost) -> Dict[str, float]:
    """Proxy-cost terms of ``pc``'s current placement computed with plain Python loops."""
    nl, g = pc.netlist, pc.grid
    xs, ys = pc.x.tolist(), pc.y.tolist()
    ptr, nodes, weights = nl.net_ptr.tolist(), nl.net_nodes.tolist(), nl.net_weight.tolist()
    cols, rows, gw, gh = g.cols, g.rows, g.cell_width, g.cell_height

    # wirelength
    hpwl = 0.0
    for k in range(len(ptr) - 1):
        nx = [xs[n] for n in nodes[ptr[k]:ptr[k + 1]]]
        ny = [ys[n] for n in nodes[ptr[k]:ptr[k + 1]]]
        hpwl += weights[k] * (max(nx) - min(nx) + max(ny) - min(ny))
    wl_cost = hpwl / ((g.width + g.height) * sum(weights)) if weights else 0.0

    w_all, h_all = oriented_size(nl, pc.orientation)
    w_all, h_all = w_all.tolist(), h_all.tolist()

    def cell_range(i):
        x0, x1 = xs[i] - w_all[i] / 2, xs[i] + w_all[i] / 2
        y0, y1 = ys[i] - h_all[i] / 2, ys[i] + h_all[i] / 2
        br, bc = math.floor(y0 / gh), math.floor(x0 / gw)
        ur, uc = math.floor(y1 / gh), math.floor(x1 / gw)
        if ur < 0 or uc < 0:
            return None
        return (x0, x1, y0, y1, max(br, 0), max(bc, 0), min(ur, rows - 1), min(uc, cols - 1))

    def overlap(x0, x1, y0, y1, r, c):
        dx = min(x1, (c + 1) * gw) - max(x0, c * gw)
        dy = min(y1, (r + 1) * gh) - max(y0, r * gh)
        return (dx, dy) if dx > 0 and dy > 0 else (0.0, 0.0)

    # density
    occ = [0.0] * (rows * cols)
    types = nl.node_type.tolist()
    for i, t in enumerate(types):
        if t not in (HARD_MACRO, SOFT_MACRO):
            continue
        cr = cell_range(i)
        if cr is None:
            continue
        x0, x1, y0, y1, br, bc, ur, uc = cr
        for r in range(br, ur + 1):
            for c in range(bc, uc + 1):
                dx, dy = overlap(x0, x1, y0, y1, r, c)
                occ[r * cols + c] += dx * dy
    dens = [o / (gw * gh) for o in occ]
    nz = sorted((d for d in dens if d != 0.0), reverse=True)
    cnt = math.floor(len(dens) * 0.1)
    if len(dens) < 10:
        density = 0.5 * (sum(nz) / len(nz) if nz else 0.0)
    else:
        density = 0.5 * sum(nz[:cnt]) / cnt

    # congestion: nets
    H = [0.0] * (rows * cols)
    V = [0.0] * (rows * cols)

    def hroute(row, c0, c1, w):
        for c in range(c0, c1):
            H[row * cols + c] += w

    def vroute(col, r0, r1, w):
        for r in range(r0, r1):
            V[r * cols + col] += w

    def two_pin(src, snk, w):
        hroute(src[0], min(src[1], snk[1]), max(src[1], snk[1]), w)
        vroute(snk[1], min(src[0], snk[0]), max(src[0], snk[0]), w)

    def gcell(n):
        return (min(max(math.floor(ys[n] / gh), 0), rows - 1),
                min(max(math.floor(xs[n] / gw), 0), cols - 1))

    for k in range(len(ptr) - 1):
        net = nodes[ptr[k]:ptr[k + 1]]
        w = max(weights[k], 1.0)
        src = gcell(net[0])
        cells = {gcell(n) for n in net}
        if len(cells) == 2 or len(cells) > 3:
            for cl in cells:
                if cl != src:
                    two_pin(src, cl, w)
        elif len(cells) == 3:
            (y1, x1), (y2, x2), (y3, x3) = sorted(cells, key=lambda p: (p[1], p[0]))
            if x1 < x2 < x3 and min(y1, y3) < y2 < max(y1, y3):
                hroute(y1, x1, x2, w)
                hroute(y2, x2, x3, w)
                vroute(x2, min(y1, y2), max(y1, y2), w)
                vroute(x3, min(y2, y3), max(y2, y3), w)
            elif x2 == x3 and x1 < x2 and y1 < min(y2, y3):
                hroute(y1, x1, x2, w)
                vroute(x2, y1, max(y2, y3), w)
            elif y2 == y3:
                hroute(y1, x1, x2, w)
                hroute(y2, x2, x3, w)
                vroute(x2, min(y1, y2), max(y1, y2), w)
            else:
                (y1, x1), (y2, x2), (y3, x3) = sorted(cells)
                hroute(y2, min(x1, x2, x3), max(x1, x2, x3), w)
                vroute(x1, min(y1, y2), max(y1, y2), w)
                vroute(x3, min(y2, y3), max(y2, y3), w)
    h_routes = gh * pc.routes_per_micron[0]
    v_routes = gw * pc.routes_per_micron[1]
    H = [h / h_routes for h in H]
    V = [v / v_routes for v in V]

    # smoothing: V along the row, H along the column
    s = pc.smooth_range
    Vs = [0.0] * (rows * cols)
    Hs = [0.0] * (rows * cols)
    for r in range(rows):
        for c in range(cols):
            lo, hi = max(c - s, 0), min(c + s, cols - 1)
            for p in range(lo, hi + 1):
                Vs[r * cols + p] += V[r * cols + c] / (hi - lo + 1)
            lo, hi = max(r - s, 0), min(r + s, rows - 1)
            for p in range(lo, hi + 1):
                Hs[p * cols + c] += H[r * cols + c] / (hi - lo + 1)

    # congestion: hard macros, with the binary's partial-overlap rule
    h_alloc, v_alloc = pc.macro_routing_alloc
    for i, t in enumerate(types):
        if t != HARD_MACRO:
            continue
        cr = cell_range(i)
        if cr is None:
            continue
        x0, x1, y0, y1, br, bc, ur, uc = cr
        part_v = part_h = False
        for r in range(br, ur + 1):
            for c in range(bc, uc + 1):
                dx, dy = overlap(x0, x1, y0, y1, r, c)
                if ur != br and r in (br, ur) and abs(dy - gh) > 1e-5:
                    part_v = True
                if uc != bc and c in (bc, uc) and abs(dx - gw) > 1e-5:
                    part_h = True
                Vs[r * cols + c] += dx * v_alloc / v_routes
                Hs[r * cols + c] += dy * h_alloc / h_routes
        if part_v:
            for c in range(bc, uc + 1):
                Vs[ur * cols + c] -= overlap(x0, x1, y0, y1, ur, c)[0] * v_alloc / v_routes
        if part_h:
            for r in range(br, ur + 1):
                Hs[r * cols + uc] -= overlap(x0, x1, y0, y1, r, uc)[1] * h_alloc / h_routes
    allc = sorted(Vs + Hs, reverse=True)
    cnt = math.floor(len(allc) * 0.05)
    congestion = allc[0] if cnt == 0 else sum(allc[:cnt]) / cnt
    return {"hpwl": hpwl, "wirelength_cost": wl_cost, "density_cost": density,
            "congestion_cost": congestion,
            "proxy_cost": wl_cost + 0.5 * density + 0.5 * congestion}


# ------------------------------------------------------------------------------------------------
def _time(fn, repeats: int) -> List[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


#: REFERENCES.md: a straightforward pure-Python evaluator on Ariane133, parsing included.
REFERENCE_FIGURE_S = 2.3


def _module_at(rev: str, relpath: str):
    """The module ``relpath`` (e.g. ``rlframe/envs/placement/cost.py``) as it was at git ``rev``."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = subprocess.run(["git", "show", f"{rev}:{relpath}"], cwd=root,
                         check=True, capture_output=True, text=True, timeout=30).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(src)
    name = f"{os.path.basename(relpath)[:-3]}_at_{rev}"
    spec = importlib.util.spec_from_file_location(name, f.name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    os.unlink(f.name)
    return mod


def _placement_module_at(rev: str, name: str):
    """``rlframe/placement/<name>.py`` at git ``rev`` (``rlframe/envs/placement/`` before the move)."""
    try:
        return _module_at(rev, f"rlframe/placement/{name}.py")
    except subprocess.CalledProcessError:
        return _module_at(rev, f"rlframe/envs/placement/{name}.py")


def _cost_class_at(rev: str):
    """``PlacementCost`` as ``cost.py`` was at git revision ``rev``."""
    return _placement_module_at(rev, "cost").PlacementCost


#: the last revision of netlist.py with only the line-by-line parser
PARSE_BASELINE_REV = "f89624f"


def parse_times(paths: List[str], repeats: int, baseline_rev: str = PARSE_BASELINE_REV) -> dict:
    """``read_netlist`` now and at ``baseline_rev``, interleaved (same machine load), per file;
    also checks that both give the same arrays."""
    old = _module_at(baseline_rev, "rlframe/envs/placement/netlist.py").read_netlist
    out = {}
    for path in paths:
        new_s, old_s = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            a = read_netlist(path)
            new_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = old(path)
            old_s.append(time.perf_counter() - t)
        same = a.names == b.names and all(
            np.array_equal(getattr(a, k), getattr(b, k)) for k in
            ("node_type", "width", "height", "x", "y", "orientation", "pin_parent", "pin_x_offset",
             "pin_y_offset", "weight", "net_ptr", "net_nodes", "net_weight"))
        out[os.path.basename(os.path.dirname(path)) or path] = {
            "path": path, "nodes": a.n_nodes, "parse_s": statistics.median(new_s),
            "parse_min_s": min(new_s), "baseline_parse_s": statistics.median(old_s),
            "baseline_parse_min_s": min(old_s), "baseline_rev": baseline_rev,
            "speedup": statistics.median(old_s) / statistics.median(new_s), "identical": same}
    return out


def run(design: str, plc: str, repeats: int, baseline_rev: str = None, env: bool = True,
        flat: Sequence[str] = (), fd_baseline_rev: str = None) -> dict:
    net_path, _ = resolve_design(design)
    parse_s = _time(lambda: read_netlist(net_path), max(1, min(repeats, 3)))
    nl = read_netlist(net_path)
    plc_path = design_file(design, plc) if plc else resolve_design(design)[1]
    pc = PlacementCost.from_plc(nl, plc_path)

    def full(c=pc):
        c.set_positions(c.x, c.y, c.orientation)
        return c.evaluate()

    full()                   # warm-up: compiled kernels load on first use
    old = None
    if baseline_rev:
        old = _cost_class_at(baseline_rev).from_plc(nl, plc_path)
        full(old)
    ours_s, old_s, ours_cpu, old_cpu = [], [], [], []
    for _ in range(repeats):   # interleaved, so machine load hits both alike
        c = time.process_time()
        ours_s += _time(full, 1)
        ours_cpu.append(time.process_time() - c)
        if old is not None:
            c = time.process_time()
            old_s += _time(lambda: full(old), 1)
            old_cpu.append(time.process_time() - c)
    ours = full()
    terms_s = _time(pc.evaluate, repeats)
    ref_s = _time(lambda: reference_cost(pc), max(1, min(repeats, 3)))
    ref = reference_cost(pc)

    rng = np.random.default_rng(0)
    hard = nl.hard_macro_indices
    x0, y0 = pc.x.copy(), pc.y.copy()

    def move():
        i = int(rng.choice(hard))
        pc.move_node(i, rng.uniform(0, pc.grid.width), rng.uniform(0, pc.grid.height))

    def move_eval():
        move()
        return pc.evaluate()

    move_s = _time(move, 50 * repeats)
    move_eval_s = _time(move_eval, 50 * repeats)
    pc.set_positions(x0, y0)

    med = statistics.median
    parse, mine, loop = med(parse_s), med(ours_s), med(ref_s)
    result = {
        "design": design, "netlist": net_path, "plc": plc,
        "nodes": nl.n_nodes, "nets": nl.n_nets,
        "parse_s": parse,
        "rlframe_eval_ms": 1e3 * mine,
        "rlframe_eval_min_ms": 1e3 * min(ours_s),
        "rlframe_eval_cpu_ms": 1e3 * med(ours_cpu),    # CPU time: less sensitive to other jobs
        "rlframe_cost_terms_ms": 1e3 * med(terms_s),
        "reference_eval_ms": 1e3 * loop,
        "speedup": loop / mine,
        "speedup_including_parse": (parse + loop) / (parse + mine),
        "reference_figure_s": REFERENCE_FIGURE_S,
        "speedup_vs_reference_figure_including_parse": REFERENCE_FIGURE_S / (parse + mine),
        "rlframe_move_ms": 1e3 * med(move_s),
        "rlframe_move_plus_eval_ms": 1e3 * med(move_eval_s),
        "rlframe": ours,
        "reference": ref,
        "max_rel_diff": max(abs(ours[k] - ref[k]) / max(abs(ref[k]), 1e-300) for k in ref),
        "repeats": repeats,
        "python": sys.version.split()[0], "numpy": np.__version__,
        "machine": platform.machine(), "processor": platform.processor(),
    }
    if old is not None:
        result["baseline"] = {"rev": baseline_rev, "eval_ms": 1e3 * med(old_s),
                              "eval_min_ms": 1e3 * min(old_s), "eval_cpu_ms": 1e3 * med(old_cpu),
                              "cpu_speedup_now_vs_rev": med(old_cpu) / med(ours_cpu),
                              "speedup_now_vs_rev": med(old_s) / mine,
                              "identical_costs": full(old) == ours}
    result["parse"] = parse_times([net_path] + list(flat), max(1, min(repeats, 3)))
    if len(nl.soft_macro_indices):
        from rlframe.placement.force_directed import FDSchedule, ForceDirectedPlacer
        fd = ForceDirectedPlacer(nl, (pc.grid.width, pc.grid.height))
        fd.run(x0, y0, pc.orientation)      # builds the per-placer structures
        fd_old = None
        fd_rev = fd_baseline_rev or baseline_rev
        if fd_rev:
            fd_old = _placement_module_at(fd_rev, "force_directed").ForceDirectedPlacer(
                nl, (pc.grid.width, pc.grid.height))
        fast = ForceDirectedPlacer(nl, (pc.grid.width, pc.grid.height), exact=False)
        fast.run(x0, y0, pc.orientation)
        fd_s, fd_old_s, fd_cpu, fd_old_cpu, fast_s, fast_cpu = [], [], [], [], [], []
        for _ in range(9):      # interleaved with the baseline's placer (same machine load)
            c = time.process_time()
            fd_s += _time(lambda: fd.run(x0, y0, pc.orientation), 1)
            fd_cpu.append(time.process_time() - c)
            c = time.process_time()
            fast_s += _time(lambda: fast.run(x0, y0, pc.orientation), 1)
            fast_cpu.append(time.process_time() - c)
            if fd_old is not None:
                c = time.process_time()
                fd_old_s += _time(lambda: fd_old.run(x0, y0, pc.orientation), 1)
                fd_old_cpu.append(time.process_time() - c)
        fd_costs, fast_costs = {}, {}
        for start, sch in (("centre", FDSchedule()), ("current", FDSchedule(use_current_loc=True))):
            fx, fy = fd.run(x0, y0, pc.orientation, sch)
            pc.set_positions(fx, fy)
            fd_costs[start] = pc.evaluate()
            fx, fy = fast.run(x0, y0, pc.orientation, sch)
            pc.set_positions(fx, fy)
            fast_costs[start] = pc.evaluate()["proxy_cost"]
        pc.set_positions(x0, y0)
        result["fd"] = {"backend": fd.backend, "soft_macros": int(len(nl.soft_macro_indices)), "edges": fd.n_edges,
                        "run_s": med(fd_s), "run_min_s": min(fd_s),
                        "proxy_cost_as_given": ours["proxy_cost"],
                        "proxy_cost_fd_from_centre": fd_costs["centre"]["proxy_cost"],
                        "proxy_cost_fd_from_current": fd_costs["current"]["proxy_cost"],
                        "costs_fd_from_centre": fd_costs["centre"],
                        "costs_fd_from_current": fd_costs["current"],
                        "run_cpu_s": med(fd_cpu),
                        # exact=False: the forces in linear-algebra form (not bit-identical; see
                        # experiments/benchmarks/fd_order_sensitivity.py for how far results move)
                        "fast_run_s": med(fast_s), "fast_run_min_s": min(fast_s), "fast_run_cpu_s": med(fast_cpu),
                        "fast_proxy_cost_fd_from_centre": fast_costs["centre"],
                        "fast_proxy_cost_fd_from_current": fast_costs["current"]}
        if fd_old is not None:
            old_costs = {}
            for start, sch in (("centre", FDSchedule()), ("current", FDSchedule(use_current_loc=True))):
                fx, fy = fd_old.run(x0, y0, pc.orientation, sch)
                pc.set_positions(fx, fy)
                old_costs[start] = pc.evaluate()["proxy_cost"]
            pc.set_positions(x0, y0)
            result["fd"].update({
                "baseline_rev": fd_rev, "baseline_run_s": med(fd_old_s),
                "baseline_run_cpu_s": med(fd_old_cpu),
                "speedup_now_vs_rev": med(fd_old_s) / med(fd_s),
                "cpu_speedup_now_vs_rev": med(fd_old_cpu) / med(fd_cpu),
                "fast_speedup_vs_rev": med(fd_old_s) / med(fast_s),
                "fast_cpu_speedup_vs_rev": med(fd_old_cpu) / med(fast_cpu),
                "baseline_proxy_cost_fd_from_centre": old_costs["centre"],
                "baseline_proxy_cost_fd_from_current": old_costs["current"]})
    if env and ENV_BENCHMARKS:
        result["env"] = (env_interleaved(design, baseline_rev) if baseline_rev else
                         {name: fn(design) for name, fn in ENV_BENCHMARKS.items()})
        result["env_steps_per_s"] = {name: v["steps_per_s"] for name, v in result["env"].items()}
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--design", default="ariane133")
    ap.add_argument("--plc", default="legalized.plc",
                    help="a .plc file name inside the design's folder ('' for the default)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--baseline-rev", default=None,
                    help="also time cost.py, force_directed.py and the env as they were at this git "
                         "revision (same run, interleaved)")
    ap.add_argument("--fd-baseline-rev", default=None,
                    help="time force_directed.py against this revision instead of --baseline-rev (e.g. the "
                         "numpy placer before it was compiled)")
    ap.add_argument("--no-env", action="store_true", help="skip the env steps/s entries")
    ap.add_argument("--json", default=None, help="write the result to this JSON file")
    ap.add_argument("--env-only", action="store_true", help="only the ENV_BENCHMARKS entries")
    ap.add_argument("--flat", nargs="*", default=[],
                    help="more netlists (e.g. the flat ones) to time the parser on, now vs "
                         f"git {PARSE_BASELINE_REV} (the line-by-line parser)")
    a = ap.parse_args(argv)
    if a.env_only:
        r = {name: fn(a.design) for name, fn in ENV_BENCHMARKS.items()}
        for name, v in r.items():
            print(f"{name:28s} {v['steps_per_s']:8.1f} steps/s  ({v['steps_per_s_excluding_episode_end']:.0f}"
                  f" steps/s without the episode end, {v['episode_end_s']:.3f} s per episode end)")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({**r, "meta": run_meta()}, f, indent=2)
        return 0
    r = run(a.design, a.plc, a.repeats, a.baseline_rev, env=not a.no_env, flat=a.flat,
            fd_baseline_rev=a.fd_baseline_rev)
    print(f"{r['design']}: {r['nodes']} nodes, {r['nets']} nets; parse {r['parse_s']:.3f} s")
    if "fd" in r:
        f = r["fd"]
        if f["backend"] != "numba":
            print("force-directed: numba is not installed, so the numpy loop runs (same results, several times "
                  "slower); the compiled loop comes with pip install -e \".[fast]\" (also in [test])")
        print(f"force-directed soft macros ({f['backend']}): {f['run_s']:.3f} s (min {f['run_min_s']:.3f}); proxy cost "
              f"{f['proxy_cost_as_given']:.4f} as given, {f['proxy_cost_fd_from_centre']:.4f} after FD "
              f"from the centre, {f['proxy_cost_fd_from_current']:.4f} from the given positions")
    for name, v in r["parse"].items():
        print(f"parse {name:28s} {v['nodes']:7d} nodes  {v['parse_s']:.3f} s  (git {v['baseline_rev']}: "
              f"{v['baseline_parse_s']:.3f} s, x{v['speedup']:.1f}; identical: {v['identical']})")
    print(f"rlframe   full evaluation {r['rlframe_eval_ms']:8.2f} ms (min {r['rlframe_eval_min_ms']:.2f}; "
          f"CPU {r['rlframe_eval_cpu_ms']:.2f})")
    if "baseline" in r:
        b = r["baseline"]
        print(f"rlframe @ {b['rev']} full evaluation {b['eval_ms']:8.2f} ms (min {b['eval_min_ms']:.2f}; CPU "
              f"{b['eval_cpu_ms']:.2f}); now x{b['speedup_now_vs_rev']:.1f} faster (CPU x{b['cpu_speedup_now_vs_rev']:.1f}), "
              f"identical costs: {b['identical_costs']}")
    print(f"reference full evaluation {r['reference_eval_ms']:8.2f} ms  (speed-up x{r['speedup']:.0f}; "
          f"x{r['speedup_including_parse']:.1f} including the parse)")
    print(f"vs REFERENCES.md's {r['reference_figure_s']} s (parse included): "
          f"x{r['speedup_vs_reference_figure_including_parse']:.1f}")
    print(f"rlframe   move one macro {r['rlframe_move_ms']:.3f} ms, + evaluate {r['rlframe_move_plus_eval_ms']:.3f} ms")
    print(f"agreement: max relative difference {r['max_rel_diff']:.2e}")
    for k in ("hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost"):
        print(f"  {k:16s} rlframe {r['rlframe'][k]:.6f}  reference {r['reference'][k]:.6f}")
    if "fd" in r and "baseline_run_s" in r["fd"]:
        f = r["fd"]
        print(f"force-directed @ {f['baseline_rev']}: {f['baseline_run_s']:.3f} s; now x{f['speedup_now_vs_rev']:.1f} "
              f"faster (CPU time x{f['cpu_speedup_now_vs_rev']:.1f}); proxy cost then "
              f"{f['baseline_proxy_cost_fd_from_centre']:.4f} / {f['baseline_proxy_cost_fd_from_current']:.4f}")
        print(f"force-directed exact=False: {f['fast_run_s'] * 1e3:.1f} ms, x{f['fast_speedup_vs_rev']:.1f} faster than "
              f"@ {f['baseline_rev']} (CPU x{f['fast_cpu_speedup_vs_rev']:.1f}); proxy cost "
              f"{f['fast_proxy_cost_fd_from_centre']:.4f} / {f['fast_proxy_cost_fd_from_current']:.4f}")
    for name, v in r.get("env", {}).items():
        extra = (f"  (@ {v['baseline_rev']}: {v['baseline_steps_per_s']:.1f}, x{v['speedup_now_vs_rev']:.2f}; "
                 f"CPU x{v['cpu_speedup_now_vs_rev']:.2f})" if "baseline_rev" in v else "")
        print(f"env {name:28s} {v['steps_per_s']:8.1f} steps/s{extra}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({**r, "meta": run_meta()}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
