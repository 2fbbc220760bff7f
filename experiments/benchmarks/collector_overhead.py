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

``--breakdown`` measures instead where the CPU time of one worker's env step goes (CartPole-v1, 16 envs per
worker as with B=32 and 2 workers, random and small-MLP policies), component by component, in CPU time of the
thread or process doing the work (so it is measurable on a loaded machine; the best of ``--repeats``
interleaved rounds is kept): the gymnasium env alone (16 envs stepped round-robin), what ``GymEnv`` adds, what
the worker's ``GuardedEnv`` heartbeat adds, the agent call (per time step / 16), the rest of the collector
(buffer writes, TrajInfo, flags, episode ends) = full ``collect_batch`` minus those, then what a worker process
adds (one-worker ``CpuSampler``: pipe, wake-ups, reply pickling), the master's CPU per env step, and what a
second worker adds to a worker's CPU per step (B=32 on 2 workers vs B=16 on 1).

    python experiments/benchmarks/collector_overhead.py --breakdown --baseline-rev 1e8db12 --repeats 5 \
        --json experiments/benchmarks/results/collector_breakdown_s5.json

The ``env`` row steps the env as each revision's ``GymEnv`` steps it (``rlframe.envs.gym.lean_stack``, before
session 5 ``without_usage_checks``); an extra row, not part of the sum, steps ``gym.make``'s full stack as
``sampler_throughput.py``'s limit does.
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
from typing import Any, Callable, Dict, List, Optional

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


def _round_robin(envs: List[Any], actions: List[int]) -> Any:
    steps, resets, n = [e.step for e in envs], [e.reset for e in envs], len(envs)

    def run() -> None:
        for i in range(0, len(actions) - n + 1, n):
            for b in range(n):
                out = steps[b](actions[i + b])
                if out[2] or out[3]:
                    resets[b]()
    return run


def _cpu_us(fn: Any, n_steps: int, rounds: int = 5) -> float:
    """Least thread CPU time of ``rounds`` calls of ``fn``, in µs per env step."""
    best = float("inf")
    for _ in range(rounds):
        c0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - c0)
    return 1e6 * best / n_steps


def _in_process_collector(policy: str, B: int) -> Any:
    """A ``ResetCollector`` over ``B`` GuardedEnv(GymEnv CartPole) envs, as a worker builds it, in this process."""
    import torch

    from rlframe.agents.pg import CategoricalPgAgent
    from rlframe.agents.random_agent import RandomAgent
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.collectors import ResetCollector
    from rlframe.samplers.parallel.worker import GuardedEnv
    from rlframe.samplers.serial import SerialSampler

    torch.set_num_threads(1)
    agent = RandomAgent() if policy == "random" else CategoricalPgAgent(model_kwargs={"hidden_sizes": [64, 64]})
    serial = SerialSampler(GymEnv, {"id": "CartPole-v1"}, batch_T=64, batch_B=B, max_decorrelation_steps=0)
    serial.initialize(agent, seed=0)
    agent.sample_mode(0)
    hb = np.zeros(8, np.int64)
    envs = [GuardedEnv(e.env if type(e).__name__ == "WatchedEnv" else e, i, hb) for i, e in enumerate(serial.collector.envs)]
    collector = ResetCollector(0, envs, serial.samples_np, 64, agent=agent)
    collector.start_envs(0)
    collector.start_agent()
    collector.collect_batch(0)
    return serial, collector


def _sched_cpu_seconds(pids: List[int]) -> float:
    """CPU time of every thread of ``pids`` from ``/proc/<pid>/task/*/schedstat`` (nanoseconds; psutil's
    ``cpu_times`` counts 10 ms clock ticks, ~0.5 µs per env step over a 20-batch burst)."""
    total = 0
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    return total * 1e-9


def _process_cpu_per_step(workers: int, B: int, policy: str, batches: int) -> Dict[str, float]:
    """CpuSampler: CPU µs per env step of its workers and of the master (schedstat), best of 3 bursts."""
    import torch

    from rlframe.agents.pg import CategoricalPgAgent
    from rlframe.agents.random_agent import RandomAgent
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.parallel import CpuSampler

    torch.set_num_threads(1)
    agent = RandomAgent() if policy == "random" else CategoricalPgAgent(model_kwargs={"hidden_sizes": [64, 64]})
    sampler = CpuSampler(GymEnv, {"id": "CartPole-v1"}, batch_T=64, batch_B=B, max_decorrelation_steps=0,
                         n_workers=workers, start_method="fork")
    best = {"worker": float("inf"), "master": float("inf")}
    try:
        sampler.initialize(agent, seed=0)
        agent.sample_mode(0)
        for itr in range(3):
            sampler.obtain_samples(itr)
        procs, me = [p.pid for p in sampler.pool.procs], [os.getpid()]
        for burst in range(3):
            w0, m0 = _sched_cpu_seconds(procs), _sched_cpu_seconds(me)
            for itr in range(batches):
                sampler.obtain_samples(3 + burst * batches + itr)
            n = batches * 64 * B
            best["worker"] = min(best["worker"], 1e6 * (_sched_cpu_seconds(procs) - w0) / n)
            best["master"] = min(best["master"], 1e6 * (_sched_cpu_seconds(me) - m0) / n)
    finally:
        sampler.shutdown()
    return best


def collect_only(rounds: int = 21) -> Dict[str, Dict[str, float]]:
    """``collect_batch`` alone (in process, 16 GuardedEnv(GymEnv CartPole) envs, ``batch_T=64``), CPU µs per env
    step: the least and the median of ``rounds`` batches, random and MLP policies (``--collect-only``)."""
    out: Dict[str, Dict[str, float]] = {}
    for policy in ("random", "mlp"):
        serial, collector = _in_process_collector(policy, 16)
        try:
            per_step = []
            for _ in range(rounds):
                c0 = time.thread_time()
                collector.collect_batch(1)
                per_step.append(1e6 * (time.thread_time() - c0) / (64 * 16))
        finally:
            serial.shutdown()
        out[policy] = {"collect_batch, least of the batches": min(per_step),
                       "collect_batch, median of the batches": statistics.median(per_step)}
    return out


def breakdown(rounds: int = 5, batches: int = 20) -> Dict[str, Dict[str, float]]:
    """Per-env-step CPU µs of one worker's step loop, component by component (see the module docstring)."""
    import torch

    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.parallel.worker import GuardedEnv

    B = 16
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, 64 * B)]
    raw = [gym.make("CartPole-v1") for _ in range(B)]
    try:  # what GymEnv steps (each revision's own: lean_stack since session 5, without_usage_checks before)
        from rlframe.envs.gym import lean_stack
        raw = [lean_stack(e) for e in raw]
    except ImportError:
        try:
            from rlframe.envs.gym import without_usage_checks
            raw = [without_usage_checks(e) for e in raw]
        except ImportError:
            pass
    full = [gym.make("CartPole-v1") for _ in range(B)]  # with gymnasium's usage-checking wrappers, as the limit
    gymenvs, guarded = [GymEnv("CartPole-v1") for _ in range(B)], []
    hb = np.zeros(8, np.int64)
    guarded = [GuardedEnv(GymEnv("CartPole-v1"), i, hb) for i in range(B)]
    for i, e in enumerate(raw + full):
        e.reset(seed=i % B)
    for e in gymenvs + guarded:
        e.reset()
    env_us = _cpu_us(_round_robin(raw, actions), len(actions), rounds)
    full_env_us = _cpu_us(_round_robin(full, actions), len(actions), rounds)
    gymenv_us = _cpu_us(_round_robin(gymenvs, actions), len(actions), rounds)
    guarded_us = _cpu_us(_round_robin(guarded, actions), len(actions), rounds)
    out: Dict[str, Dict[str, float]] = {}
    for policy in ("random", "mlp"):
        serial, collector = _in_process_collector(policy, B)
        try:
            full_us = _cpu_us(lambda: collector.collect_batch(1), 64 * B, rounds)
            with torch.no_grad():  # as inside collect_batch
                agent_us = _cpu_us(lambda: [collector._act(t, 1) for t in range(64)], 64 * B, rounds)
        finally:
            serial.shutdown()
        one = _process_cpu_per_step(1, B, policy, batches)
        two = _process_cpu_per_step(2, 2 * B, policy, batches)
        out[policy] = {
            "env as gym.make gives it, usage-checking wrappers included (the limit's loop; not in the sum)":
                full_env_us,
            "env (gymnasium CartPole, 16 envs round-robin)": env_us,
            "GymEnv wrapper": gymenv_us - env_us,
            "GuardedEnv heartbeat": guarded_us - gymenv_us,
            "agent call (per time step / 16)": agent_us,
            "collector loop (buffers, TrajInfo, flags, episode ends)": full_us - guarded_us - agent_us,
            "= collect_batch in one process": full_us,
            "worker process (sync, pipe, wake-ups)": one["worker"] - full_us,
            "= one-worker CpuSampler, worker CPU": one["worker"],
            "master CPU per env step (1 worker)": one["master"],
            "second worker's effect on worker CPU (B=32, 2 workers)": two["worker"] - one["worker"],
            "master CPU per env step (2 workers)": two["master"],
        }
    return out


def _child(args: argparse.Namespace, pythonpath: Optional[str]) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--seconds", str(args.seconds),
           "--start-method", args.start_method, "--B", *map(str, args.B), "--kinds", *args.kinds,
           "--envs", *args.envs] + (["--unpinned"] if args.unpinned else []) + (["--breakdown"] if args.breakdown else []) + (["--collect-only"] if args.collect_only else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath or ROOT, env.get("PYTHONPATH")) if p)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extract(rev: str, into: str) -> str:
    archive = subprocess.run(["git", "archive", rev, "rlframe"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def alternate_revisions(baseline_rev: Optional[str], repeats: int, run_one: Callable[[Optional[str]], Dict[str, Any]],
                        describe: Callable[[Dict[str, Any]], str]) -> Dict[str, List[Dict[str, Any]]]:
    """``run_one(path)`` for the current package (path None) and, with ``baseline_rev``, that revision's
    ``rlframe/`` (extracted to a temporary folder), alternating ``repeats`` times so machine load hits both
    alike; returns each one's results in order under ``"current"`` / ``"rev <baseline_rev>"``."""
    codes: Dict[str, Optional[str]] = {"current": None}
    with tempfile.TemporaryDirectory(prefix="rlframe-baseline-") as tmp:
        if baseline_rev:
            codes[f"rev {baseline_rev}"] = _extract(baseline_rev, tmp)
        runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in codes}
        for rep in range(repeats):
            for name, path in codes.items():
                runs[name].append(run_one(path))
                print(f"repeat {rep + 1}/{repeats} {name} ({runs[name][-1]['rlframe']}): {describe(runs[name][-1])}",
                      file=sys.stderr, flush=True)
    return runs


def _report_breakdown(runs: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> None:
    """Median over the repeats of each component (each repeat already keeps its best round), code by code."""
    names = list(runs)
    medians = {name: {fig: statistics.median(r[fig]["cpu_us_per_step"] for r in rs) for fig in rs[0]}
               for name, rs in runs.items()}
    print(f"{'CPU us per env step (one worker, 16 CartPole envs)':70}" + "".join(f"{n:>16}" for n in names))
    for fig in medians[names[0]]:
        print(f"{fig:70}" + "".join(f"{medians[n][fig]:>16.2f}" for n in names))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "runs": runs, "repeats": args.repeats, "baseline_rev": args.baseline_rev,
                       "batch_T": 64, "envs_per_worker": 16, "env": "CartPole-v1"}, f, indent=1)
        print(f"wrote {args.json}")


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
    ap.add_argument("--breakdown", action="store_true",
                    help="per-step CPU µs of one worker's step loop, component by component (module docstring)")
    ap.add_argument("--collect-only", action="store_true",
                    help="only collect_batch in process (least and median of 21 batches per repeat): a quick A/B")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        import rlframe

        if args.breakdown or args.collect_only:
            parts_of = collect_only() if args.collect_only else breakdown()
            res = {f"{policy}: {k}": {"cpu_us_per_step": v} for policy, parts in parts_of.items()
                   for k, v in parts.items()}
        else:
            res = figures(args.seconds, args.start_method, args.B, args.kinds, args.envs, args.unpinned)
        print(json.dumps({"rlframe": os.path.dirname(rlframe.__file__), "figures": res}))
        return

    runs = {name: [r["figures"] for r in rs] for name, rs in alternate_revisions(
        args.baseline_rev, args.repeats, lambda path: _child(args, path), lambda r: "done").items()}
    if args.breakdown or args.collect_only:
        _report_breakdown(runs, args)
        return
    # Medians say what to expect; the best repeat (max steps/s, min CPU per step) is the code's own cost
    # with the least interference from other processes on a shared machine.
    medians: Dict[str, Dict[str, Dict[str, float]]] = {}
    best: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name, rs in runs.items():
        medians[name] = {fig: {k: statistics.median(r[fig][k] for r in rs) for k in rs[0][fig]} for fig in rs[0]}
        best[name] = {fig: {"steps_per_s": max(r[fig]["steps_per_s"] for r in rs),
                            "cpu_us_per_step": min(r[fig]["cpu_us_per_step"] for r in rs)} for fig in rs[0]}
    names = list(runs)
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
