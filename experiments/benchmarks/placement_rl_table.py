"""The placement results table of docs/placement.md: on one design, with one wall-clock budget and seed, every
placer -- greedy, random search, simulated annealing (``rlframe placement greedy|random|sa``) and the learned
policy zero-shot, fine-tuned and trained from scratch (the recipe, ``experiments/placement_ppo.py``) -- each
in a fresh process, one at a time, its result scored under the protocol's soft-macro regimes (``centre``: FD
from the canvas centre, ``refine``: FD from the design's initial soft-macro positions kept if better).

    python experiments/benchmarks/placement_rl_table.py --design ariane133 --time 300 --seed 0 \\
        --json experiments/benchmarks/results/placement_rl_table_ariane133_s4.json

Each row records its command, wall seconds, the CPU seconds the child process used (the machine may be
shared: compare placers by the CPU they got, too) and the load average when it started. The JSON is
rewritten after every placer, so an interrupted run keeps the rows it finished. ``--placers`` picks a subset.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPE = os.path.join(os.path.dirname(HERE), "placement_ppo.py")
PLACERS = ("greedy", "random", "sa", "rl_zero_shot", "rl_fine_tuned", "rl_scratch")
REGIMES = ("centre", "refine")
CLI = "import sys; from rlframe.cli import main; sys.exit(main(sys.argv[1:]))"


def command(placer: str, design: str, budget: float, seed: int, out: str, js: str):
    """``(printable command, argv)`` of one placer."""
    if placer in ("greedy", "random", "sa"):
        args = ["placement", placer, "--netlist", design, "--out", out, "--json"]
        if placer != "greedy":
            args += ["--time", str(budget), "--seed", str(seed)]
        return "rlframe " + " ".join(args), [sys.executable, "-c", CLI] + args
    time_s = 0 if placer == "rl_zero_shot" else budget
    ck = "none" if placer == "rl_scratch" else "pretrained"
    args = ["--design", design, "--time", str(time_s), "--checkpoint", ck, "--seed", str(seed), "--out", out,
            "--json", js]
    return "python experiments/placement_ppo.py " + " ".join(args), [sys.executable, RECIPE] + args


def run_one(placer: str, design: str, budget: float, seed: int, workdir: str, timeout: float) -> dict:
    out, js = os.path.join(workdir, f"{placer}.plc"), os.path.join(workdir, f"{placer}.json")
    shown, argv = command(placer, design, budget, seed, out, js)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = dict(placer=placer, command=shown, returncode=proc.returncode, wall_seconds=wall,
               child_cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
               load_average_at_start=load)
    if proc.returncode != 0:
        row["stderr_tail"] = proc.stderr[-2000:]
        return row
    res = json.loads(proc.stdout) if placer in ("greedy", "random", "sa") else json.load(open(js))
    row["regimes"] = {fd: res["regimes"][fd] for fd in ("centre", "refine", "none")}
    if placer in ("greedy", "random", "sa"):
        row.update(seconds=res["seconds"], evaluations=res["evaluations"], stats=res.get("stats"))
    else:
        row.update({k: res[k] for k in ("seconds", "cpu_seconds", "env_steps", "deterministic_evaluations",
                                        "sampled_episodes", "winner", "timing", "ppo", "reward")})
    return row


def table(rows) -> str:
    lines = ["| placer | " + " | ".join(f"proxy ({fd})" for fd in REGIMES) + " | wall s | CPU s |",
             "|---|" + "---|" * (len(REGIMES) + 2)]
    for r in rows:
        if "regimes" not in r:
            lines.append(f"| {r['placer']} | failed (rc {r['returncode']}) |")
            continue
        costs = " | ".join(f"{r['regimes'][fd]['proxy_cost']:.4f}" for fd in REGIMES)
        lines.append(f"| {r['placer']} | {costs} | {r['wall_seconds']:.0f} | {r['child_cpu_seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", default="ariane133", help="shipped design name or netlist path")
    p.add_argument("--time", type=float, default=300.0, help="wall-clock budget of each timed placer (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--placers", nargs="+", choices=PLACERS, default=list(PLACERS))
    p.add_argument("--json", required=True, help="results file (rewritten after each placer)")
    p.add_argument("--workdir", default=None, help="where the .plc files go (default: a temporary folder)")
    a = p.parse_args(argv)
    workdir = a.workdir or tempfile.mkdtemp(prefix="placement_rl_table_")
    os.makedirs(workdir, exist_ok=True)
    result = dict(design=a.design, budget_seconds=a.time, seed=a.seed, cpus=os.cpu_count(), rows=[],
                  started=time.strftime("%Y-%m-%d %H:%M:%S"),
                  command="python experiments/benchmarks/placement_rl_table.py " + " ".join(sys.argv[1:] if argv is None
                                                                                            else argv))
    for placer in a.placers:
        print(f"{placer} ...", flush=True)
        row = run_one(placer, a.design, a.time, a.seed, workdir, timeout=3 * a.time + 900)
        result["rows"].append(row)
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
        print(table([row]).splitlines()[-1], flush=True)
    print(table(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
