"""SyncRl scaling on CPU (gloo): env steps per second and wall-clock to an eval threshold for the single-process
runner (MinibatchRl) and for 1, 2, ... torchrun ranks (SyncRl), the same script and config, in one run.

    python experiments/benchmarks/sync_rl_scaling.py --steps 100000 --ranks 1 2 --rounds 1 \\
        --json experiments/benchmarks/results/sync_rl_scaling.json

Rounds interleave the variants (single, 1 rank, 2 ranks, single, ...) so that a loaded machine affects them
alike; quote the ratios to the single-process runner of the same run. N ranks split the config's envs
(docs/scaling.md), so every variant trains on the same batch per iteration.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from script_runs import PYTHON, TORCHRUN, ratio, run_variant  # noqa: E402
from vs_sb3 import write_json  # noqa: E402


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--script", default="experiments/cartpole_ppo.py")
    p.add_argument("--threshold", type=float, default=475.0)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per variant")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    common = [args.script, "--seed", str(args.seed), "--steps", str(args.steps)]
    variants = {"single": [PYTHON] + common}
    for n in args.ranks:
        variants[f"torchrun_{n}"] = [TORCHRUN, "--standalone", "--nproc-per-node", str(n)] + common
    results: Dict[str, List[Dict[str, Any]]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, cmd in variants.items():
                res = run_variant(cmd, os.path.join(tmp, f"{name}_{r}"), args.threshold, args.timeout)
                results[name].append(res)
                print(name, r, {k: v for k, v in res.items() if k != "cmd"}, flush=True)
    summary = {}
    for name, runs in results.items():
        ok = [x for x in runs if x.get("exit") == 0]
        summary[name] = {
            "sps_mean": _mean([x["sps"] for x in ok]),
            "seconds_to_threshold_mean": _mean([x["seconds_to_threshold"] for x in ok]),
            "reached": sum(x.get("seconds_to_threshold") is not None for x in ok), "runs": len(runs)}
    base = summary["single"]
    for name, s in summary.items():
        s["sps_vs_single"] = ratio(s["sps_mean"], base["sps_mean"])
        s["time_to_threshold_vs_single"] = ratio(s["seconds_to_threshold_mean"], base["seconds_to_threshold_mean"])
    out = {"benchmark": "sync_rl_scaling", "script": args.script, "threshold": args.threshold, "steps": args.steps,
           "cpus": os.cpu_count(), "summary": summary, "runs": results}
    print(summary)
    write_json(args.json, out)
    return out


def _mean(xs: List[Optional[float]]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return round(sum(xs) / len(xs), 2) if xs else None


if __name__ == "__main__":
    main()
