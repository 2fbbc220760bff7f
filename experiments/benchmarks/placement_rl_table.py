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

``--regime refine`` runs the recipe with ``--regime refine`` (trained and selected for the refine regime) and
writes every placer's ``.plc`` in that regime (``--fd refine``); ``--parallel 2`` runs two placers at a time,
each in its own process (e.g. the policy and SA of one seed side by side, so that on a shared machine both
see the same load; each row's CPU seconds are its own process's, from ``os.wait4``)::

    nice -n 10 python experiments/benchmarks/placement_rl_table.py --design ariane133 --time 300 --seed 0 \
        --placers rl_scratch sa --regime refine --parallel 2 --json results.json

``--recipe-args`` passes more flags to the recipe's rows (e.g. ``--recipe-args='--soft-canvas'``).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Optional, Sequence

from rlframe.placement.cli import FINE_TUNING_DEFAULTS

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPE = os.path.join(os.path.dirname(HERE), "placement_ppo.py")
PLACERS = ("greedy", "random", "sa", "rl_zero_shot", "rl_fine_tuned", "rl_scratch")
REGIMES = ("centre", "refine")
CLI = "import sys; from rlframe.cli import main; sys.exit(main(sys.argv[1:]))"


def command(placer: str, design: str, budget: float, seed: int, out: str, js: str, regime: str = "centre",
            recipe_args: Sequence[str] = ()):
    """``(printable command, argv)`` of one placer; ``regime``: the soft-macro regime it writes its .plc in
    (and, for the recipe, trains for); ``recipe_args``: more flags of the recipe (``--recipe-args``)."""
    if placer in ("greedy", "random", "sa"):
        args = ["placement", placer, "--netlist", design, "--out", out, "--fd", regime, "--json"]
        if placer != "greedy":
            args += ["--time", str(budget), "--seed", str(seed)]
        return "rlframe " + " ".join(args), [sys.executable, "-c", CLI] + args
    time_s = 0 if placer == "rl_zero_shot" else budget
    ck = "none" if placer == "rl_scratch" else "pretrained"
    args = ["--design", design, "--time", str(time_s), "--checkpoint", ck, "--seed", str(seed), "--out", out,
            "--json", js, "--regime", regime] + list(recipe_args)
    return "python experiments/placement_ppo.py " + " ".join(args), [sys.executable, RECIPE] + args


class Job:
    """One placer running in its own process (stdout/stderr to files in the work folder)."""

    def __init__(self, placer: str, design: str, budget: float, seed: int, workdir: str, timeout: float,
                 regime: str = "centre", recipe_args: Sequence[str] = ()):
        self.placer, self.timeout = placer, timeout
        self.out, self.js = os.path.join(workdir, f"{placer}.plc"), os.path.join(workdir, f"{placer}.json")
        self.shown, argv = command(placer, design, budget, seed, self.out, self.js, regime, recipe_args)
        self.stdout, self.stderr = self.js + ".stdout", self.js + ".stderr"
        self.load = os.getloadavg()[0]
        self.t0 = time.perf_counter()
        with open(self.stdout, "w") as so, open(self.stderr, "w") as se:
            self.proc = subprocess.Popen(argv, stdout=so, stderr=se, env={**os.environ, "OMP_NUM_THREADS": "1"})

    def poll(self) -> Optional[dict]:
        """The row once the process has ended (killed past ``timeout``), else None."""
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            if time.perf_counter() - self.t0 <= self.timeout:
                return None
            self.proc.kill()
            pid, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.row(time.perf_counter() - self.t0, usage.ru_utime + usage.ru_stime)

    def row(self, wall: float, cpu: float) -> dict:
        placer, rc = self.placer, self.proc.returncode
        row = dict(placer=placer, command=self.shown, returncode=rc, wall_seconds=wall, child_cpu_seconds=cpu,
                   load_average_at_start=self.load)
        if rc != 0:
            row["stderr_tail"] = open(self.stderr).read()[-2000:]
            return row
        res = json.load(open(self.stdout if placer in ("greedy", "random", "sa") else self.js))
        return _fill(row, placer, res)


def run_one(placer: str, design: str, budget: float, seed: int, workdir: str, timeout: float,
            regime: str = "centre", recipe_args: Sequence[str] = ()) -> dict:
    """Run one placer to its end; its row."""
    job = Job(placer, design, budget, seed, workdir, timeout, regime, recipe_args)
    while True:
        row = job.poll()
        if row is not None:
            return row
        time.sleep(0.2)


def run_parallel(placers: Sequence[str], parallel: int, on_row, **job_kwargs) -> None:
    """Run ``placers`` ``parallel`` at a time, each in its own process (``Job``); ``on_row(row)`` as each
    ends, the row naming the placers that ran beside it."""
    queue, running = list(placers), []
    while queue or running:
        while queue and len(running) < parallel:
            running.append(Job(queue.pop(0), **job_kwargs))
            print(f"{running[-1].placer} ...", flush=True)
        for job in list(running):
            row = job.poll()
            if row is not None:
                running.remove(job)
                row["beside"] = [j.placer for j in running]
                on_row(row)
        time.sleep(0.2)


def _fill(row: dict, placer: str, res: dict) -> dict:
    row["regimes"] = {fd: res["regimes"][fd] for fd in ("centre", "refine", "none")}
    if placer in ("greedy", "random", "sa"):
        row.update(seconds=res["seconds"], evaluations=res["evaluations"], stats=res.get("stats"),
                   out_fd=res.get("fd"), out=res.get("out"))
    else:
        row.update({k: res.get(k) for k in ("seconds", "cpu_seconds", "env_steps", "deterministic_evaluations",
                                            "sampled_episodes", "winner", "timing", "ppo", "reward", "regime",
                                            "trained_on_fd", "soft_canvas", "density_reward", "wire_density",
                                            "wirelength_reward", *FINE_TUNING_DEFAULTS, "restored_cost",
                                            "best_history", "out")})
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
    p.add_argument("--regime", choices=REGIMES, default="centre",
                   help="the soft-macro regime every .plc is written in and the recipe trains for (--regime)")
    p.add_argument("--parallel", type=int, default=1,
                   help="placers run at a time, each in its own process (default 1: one after the other)")
    p.add_argument("--recipe-args", default="", metavar="'FLAGS'",
                   help="more flags for the recipe's rows (rl_*), one quoted string, e.g. "
                        "--recipe-args='--soft-canvas --density-reward 0.5'")
    a = p.parse_args(argv)
    if a.parallel < 1:
        p.error(f"--parallel {a.parallel}: give 1 or more")
    workdir = a.workdir or tempfile.mkdtemp(prefix="placement_rl_table_")
    os.makedirs(workdir, exist_ok=True)
    result = dict(design=a.design, budget_seconds=a.time, seed=a.seed, cpus=os.cpu_count(), rows=[],
                  regime=a.regime, parallel=a.parallel, nice=os.nice(0), recipe_args=a.recipe_args,
                  started=time.strftime("%Y-%m-%d %H:%M:%S"),
                  command="python experiments/benchmarks/placement_rl_table.py " + " ".join(sys.argv[1:] if argv is None
                                                                                            else argv))

    def on_row(row):
        result["rows"].append(row)
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
        print(table([row]).splitlines()[-1], flush=True)

    run_parallel(a.placers, a.parallel, on_row, design=a.design, budget=a.time, seed=a.seed, workdir=workdir,
                 timeout=3 * a.time + 900, regime=a.regime, recipe_args=shlex.split(a.recipe_args))
    print(table(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
