"""Per-env-step overhead of rlframe's collectors, GymEnv and parallel workers, before/after in one run.

Figures (random actions, ``batch_T=64``): the raw gymnasium ``env.step`` loop on CartPole-v1 (``gym.make``,
with its wrappers), the same loop through :class:`~rlframe.envs.gym.GymEnv`, and SerialSampler, CpuSampler
with one worker and with two workers on CartPole-v1 and on a *null env* (a step returns a constant
``EnvStep``: what is left is the collector's and the agent's cost) at B=16 and B=32.

For every figure it records wall-clock steps/s and the CPU time per env step of the processes doing the
work (the master for the serial sampler, the workers for CpuSampler), read from ``/proc`` through psutil.
``cpu_per_wall`` below 1 for a one-worker CpuSampler means the worker waited for a CPU (another process
ran on it), not that it did more work.

``--baseline-rev REV`` also measures the ``rlframe`` package as it was at git revision ``REV`` (extracted
with ``git archive`` into a temporary directory and put first on ``PYTHONPATH`` of a child process), with
the current and the old code run alternately ``--repeats`` times so that machine load hits both alike;
medians and the best repeat (max steps/s, min CPU per step: the code's own cost with the least
interference from other processes) are reported.

    python experiments/benchmarks/collector_overhead.py --json experiments/benchmarks/results/collector_overhead.json
    python experiments/benchmarks/collector_overhead.py --baseline-rev HEAD~3 --repeats 5 --json ...
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import gymnasium as gym
import numpy as np

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.base import EnvSpaces, EnvStep

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class NullEnv:
    """An rlframe env that costs (almost) nothing: constant observation, reward 1, truncated every 200 steps."""

    def __init__(self, episode: int = 200):
        self.spaces = EnvSpaces(gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2))
        self.obs = np.zeros(4, np.float32)
        self.info = namedarraytuple("EnvInfo", [])()
        self.episode, self.t = episode, 0

    def reset(self) -> np.ndarray:
        self.t = 0
        return self.obs

    def step(self, action: Any) -> Any:
        self.t += 1
        return EnvStep(self.obs, 1.0, False, self.t >= self.episode, self.info)

    def close(self) -> None:
        pass


def _cpu_seconds(procs: List[Any]) -> float:
    total = 0.0
    for p in procs:
        t = p.cpu_times()
        total += t.user + t.system
    return total


def raw_loop(env_id: str, seconds: float, through_gymenv: bool = False) -> Dict[str, float]:
    """Single-process step loop with precomputed Python-int actions (``GymEnv`` in between if asked)."""
    if through_gymenv:
        from rlframe.envs.gym import GymEnv

        env = GymEnv(env_id)
        env.seed(0)
        env.reset()
        step, reset = env.step, env.reset
    else:
        env = gym.make(env_id)
        env.reset(seed=0)
        step, reset = env.step, env.reset
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, 1024)]
    n, c0, t0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in actions:
            out = step(a)
            if out[2] or out[3]:
                reset()
        n += len(actions)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return {"steps_per_s": n / wall, "cpu_us_per_step": 1e6 * cpu / n, "cpu_per_wall": cpu / wall}


def sampler_figure(kind: str, env: str, B: int, seconds: float, start_method: str,
                   pin: bool = True) -> Dict[str, float]:
    """Steps/s and CPU µs per env step of one sampler (``serial``, ``cpu1``, ``cpu2``)."""
    import psutil
    import torch

    from rlframe.agents.random_agent import RandomAgent
    from rlframe.envs.gym import GymEnv
    from rlframe.launching.affinity import make_affinity
    from rlframe.samplers.parallel import CpuSampler
    from rlframe.samplers.serial import SerialSampler

    torch.set_num_threads(1)
    EnvCls, kwargs = (GymEnv, {"id": "CartPole-v1"}) if env == "CartPole-v1" else (NullEnv, {})
    common = dict(batch_T=64, batch_B=B, max_decorrelation_steps=0)
    affinity = None
    if kind == "serial":
        sampler = SerialSampler(EnvCls, kwargs, **common)
    else:
        workers = int(kind[3:])
        sampler = CpuSampler(EnvCls, kwargs, n_workers=workers, start_method=start_method, **common)
        affinity = make_affinity(n_workers=workers, set_affinity=pin)
    agent = RandomAgent()
    try:
        sampler.initialize(agent, affinity=affinity, seed=0)
        agent.sample_mode(0)
        for itr in range(3):  # warm-up (first touches of shared pages, lazy imports)
            sampler.obtain_samples(itr)
        procs = [psutil.Process()] if kind == "serial" else [psutil.Process(p.pid) for p in sampler.pool.procs]
        n, itr, c0, t0 = 0, 3, _cpu_seconds(procs), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            sampler.obtain_samples(itr)
            n += 64 * B
            itr += 1
        wall, cpu = time.perf_counter() - t0, _cpu_seconds(procs) - c0
    finally:
        sampler.shutdown()
    n_proc = 1 if kind == "serial" else int(kind[3:])
    return {"steps_per_s": n / wall, "cpu_us_per_step": 1e6 * cpu / n, "cpu_per_wall": cpu / wall / n_proc}


def figures(seconds: float, start_method: str, Bs: List[int], kinds: List[str], envs: List[str],
            unpinned: bool) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {
        "raw gym.make loop CartPole-v1": raw_loop("CartPole-v1", seconds),
        "GymEnv loop CartPole-v1": raw_loop("CartPole-v1", seconds, through_gymenv=True),
    }
    for env in envs:
        for B in Bs:
            for kind in kinds:
                out[f"{kind} {env} B={B}"] = sampler_figure(kind, env, B, seconds, start_method)
                if unpinned and kind != "serial":
                    out[f"{kind} unpinned {env} B={B}"] = sampler_figure(kind, env, B, seconds, start_method, pin=False)
    return out


def _child(args: argparse.Namespace, pythonpath: Optional[str]) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--seconds", str(args.seconds),
           "--start-method", args.start_method, "--B", *map(str, args.B), "--kinds", *args.kinds,
           "--envs", *args.envs] + (["--unpinned"] if args.unpinned else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath or ROOT, env.get("PYTHONPATH")) if p)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extract(rev: str, into: str) -> str:
    archive = subprocess.run(["git", "archive", rev, "rlframe"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--seconds", type=float, default=0.5, help="measuring time per figure")
    ap.add_argument("--repeats", type=int, default=5, help="alternating repeats (medians are reported)")
    ap.add_argument("--baseline-rev", default=None, help="also measure rlframe/ as it was at this git revision")
    ap.add_argument("--start-method", default="fork")
    ap.add_argument("--B", nargs="+", type=int, default=[16, 32])
    ap.add_argument("--kinds", nargs="+", default=["serial", "cpu1", "cpu2"])
    ap.add_argument("--envs", nargs="+", default=["CartPole-v1", "null"])
    ap.add_argument("--unpinned", action="store_true", help="also run the CpuSamplers with unpinned workers")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        import rlframe

        res = figures(args.seconds, args.start_method, args.B, args.kinds, args.envs, args.unpinned)
        print(json.dumps({"rlframe": os.path.dirname(rlframe.__file__), "figures": res}))
        return

    codes = {"current": None}
    tmp = None
    if args.baseline_rev:
        tmp = tempfile.TemporaryDirectory(prefix="rlframe-baseline-")
        codes[f"rev {args.baseline_rev}"] = _extract(args.baseline_rev, tmp.name)
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in codes}
    try:
        for rep in range(args.repeats):
            for name, path in codes.items():
                r = _child(args, path)
                runs[name].append(r["figures"])
                print(f"repeat {rep + 1}/{args.repeats} {name} ({r['rlframe']}) done", file=sys.stderr, flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    # Medians say what to expect; the best repeat (max steps/s, min CPU per step) is the code's own cost
    # with the least interference from other processes on a shared machine.
    medians: Dict[str, Dict[str, Dict[str, float]]] = {}
    best: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name, rs in runs.items():
        medians[name] = {fig: {k: statistics.median(r[fig][k] for r in rs) for k in rs[0][fig]} for fig in rs[0]}
        best[name] = {fig: {"steps_per_s": max(r[fig]["steps_per_s"] for r in rs),
                            "cpu_us_per_step": min(r[fig]["cpu_us_per_step"] for r in rs)} for fig in rs[0]}
    names = list(codes)
    print(f"{'':38}" + "".join(f"{n:>46}" for n in names))
    print(f"{'figure':38}" + f"{'steps/s med':>13}{'best':>10}{'cpu us med':>12}{'best':>6}{'cpu/wall':>9}" * len(names))
    for fig in medians["current"]:
        line = f"{fig:38}"
        for n in names:
            m, b = medians[n][fig], best[n][fig]
            line += (f"{m['steps_per_s']:>13,.0f}{b['steps_per_s']:>10,.0f}{m['cpu_us_per_step']:>12.2f}"
                     f"{b['cpu_us_per_step']:>6.2f}{m['cpu_per_wall']:>9.2f}")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "best": best, "runs": runs, "repeats": args.repeats,
                       "seconds_per_figure": args.seconds,
                       "start_method": args.start_method, "baseline_rev": args.baseline_rev,
                       "batch_T": 64, "policy": "RandomAgent"}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
