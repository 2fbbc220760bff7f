"""AsyncRl against MinibatchRl at the same replay ratio: wall-clock to an eval threshold and env steps per
second, for SAC on Pendulum and DQN on CartPole, in one run (each script with ``--runner sync`` and
``--runner async``, nothing else changed: the algorithm's ``replay_ratio`` holds in both; async runs use the
script's default sampler, ``AsyncSerialSampler``: one sampler process beside the optimizer).

    python experiments/benchmarks/async_vs_sync.py --rounds 1 --json experiments/benchmarks/results/async_vs_sync.json
    python experiments/benchmarks/async_vs_sync.py --steps sac=3000 dqn=10000      # a time budget per case
    python experiments/benchmarks/async_vs_sync.py --cases sac --steps 6000 --extra="--sampler gpu"

Rounds interleave sync and async so that a loaded machine affects both alike; quote ratios of the same run.
``cpu_s`` misses the async sampler process (it is started through a forkserver, which nobody waits for), so it
is not compared.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from script_runs import PYTHON, ratio, run_variant  # noqa: E402
from vs_sb3 import write_json  # noqa: E402

CASES = {"sac": ("experiments/pendulum_sac.py", -200.0), "dqn": ("experiments/cartpole_dqn.py", 475.0)}


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    p.add_argument("--steps", nargs="+", default=None, metavar="[CASE=]N",
                   help="env steps per run, for every case or per case (default: each script's own)")
    p.add_argument("--extra", default="", help="more script flags for the async runs, e.g. --extra='--sampler gpu --workers 2'")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    steps = _case_steps(args.steps or [])
    out: Dict[str, Any] = {"benchmark": "async_vs_sync", "cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
                           "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            script, threshold = CASES[case]
            runs: Dict[str, List[Dict[str, Any]]] = {"sync": [], "async": []}
            for r in range(args.rounds):
                for runner in runs:
                    cmd = [PYTHON, script, "--seed", str(args.seed), "--runner", runner]
                    if steps.get(case, steps.get(None)):
                        cmd += ["--steps", str(steps.get(case, steps.get(None)))]
                    if runner == "async" and args.extra:
                        cmd += args.extra.replace("=", " ").split()
                    res = run_variant(cmd, os.path.join(tmp, f"{case}_{runner}_{r}"), threshold, args.timeout)
                    runs[runner].append(res)
                    print(case, runner, r, {k: v for k, v in res.items() if k != "cmd"}, flush=True)
            s, a = runs["sync"][-1], runs["async"][-1]
            out["cases"][case] = {
                "threshold": threshold, "runs": runs,
                "async_sps_vs_sync": ratio(a.get("sps"), s.get("sps")),
                "async_time_to_threshold_vs_sync": ratio(a.get("seconds_to_threshold"), s.get("seconds_to_threshold")),
            }
            print(case, {k: v for k, v in out["cases"][case].items() if k != "runs"}, flush=True)
    out["load_avg_end"] = os.getloadavg()
    write_json(args.json, out)
    return out


def _case_steps(entries: List[str]) -> Dict[Optional[str], int]:
    """``["3000"]`` -> every case 3000 steps; ``["sac=3000", "dqn=10000"]`` -> per case."""
    steps: Dict[Optional[str], int] = {}
    for e in entries:
        case, _, n = e.rpartition("=")
        if case and case not in CASES:
            raise SystemExit(f"--steps {e}: unknown case {case!r}; cases: {', '.join(sorted(CASES))}.")
        steps[case or None] = int(n)
    return steps


if __name__ == "__main__":
    main()
