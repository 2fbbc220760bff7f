"""PPO on CartPole-v1: rlframe vs stable-baselines3, identical hyper-parameters, interleaved seeds.

Both sides use RL-zoo's CartPole-v1 PPO set (8 envs, n_steps 32, batch 256, 20 epochs, gamma 0.98,
GAE lambda 0.8, lr 1e-3 and clip 0.2 both decayed linearly over the 100k-step budget, ent_coef 0,
vf_coef 0.5, max_grad_norm 0.5, separate 64x64 tanh actor and critic, orthogonal init, Adam eps 1e-5)
and the same number of torch threads. A run stops as soon as the mean return of the last 10 finished
episodes is >= 475 (checked at every iteration for rlframe, at every env step for SB3, which only
favours SB3); we report the wall-clock seconds (from building the envs to the stop, set-up included;
both frameworks are imported before any clock starts) and the env steps used. Seeds are interleaved (rlframe, SB3, rlframe, SB3, ...) so machine load hits
both alike; the figure of merit is ``median(rlframe wall_s) / median(sb3 wall_s)``.

rlframe side: ``GymEnv`` + ``SerialSampler`` + ``CategoricalPgAgent`` + ``PPO`` + ``MinibatchRl``
(the real runner, logging each iteration to a throw-away run directory).

    python experiments/benchmarks/ppo_cartpole_vs_sb3.py --seeds 3 --json results/ppo_cartpole.json
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch

HP = dict(n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8, learning_rate=1e-3,
          clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)


def run_rlframe(seed: int, budget: int, target: float, window: int) -> Dict[str, Any]:
    from rlframe.agents import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners.minibatch_rl import MinibatchRl
    from rlframe.samplers.serial import SerialSampler

    t0, c0 = time.perf_counter(), time.process_time()
    recent: collections.deque = collections.deque(maxlen=window)
    result: Dict[str, Any] = {"solved": False, "sample_s": 0.0, "optimize_s": 0.0}

    def stop(runner, itr, values):
        result["sample_s"] += values.get("time/sample_s", 0.0)
        result["optimize_s"] += values.get("time/optimize_s", 0.0)
        for t in runner.new_traj_infos:  # episodes finished in this (one-iteration) interval
            recent.append(float(t.Return))
        if len(recent) == window and sum(recent) / window >= target:
            result.update(solved=True, wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0,
                          steps=runner.env_steps)
            runner.stop()

    sampler = SerialSampler(GymEnv, dict(id="CartPole-v1"), batch_T=HP["n_steps"], batch_B=HP["n_envs"],
                            max_decorrelation_steps=0)
    algo = PPO(discount=HP["gamma"], gae_lambda=HP["gae_lambda"], learning_rate=HP["learning_rate"],
               linear_lr_schedule=True, value_loss_coeff=HP["vf_coef"], entropy_loss_coeff=HP["ent_coef"],
               max_grad_norm=HP["max_grad_norm"], normalize_advantage=True, epochs=HP["n_epochs"],
               minibatches=HP["n_steps"] * HP["n_envs"] // HP["batch_size"], ratio_clip=HP["clip_range"],
               linear_clip_schedule=True)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(64, 64), shared=False))
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name="ppo_cartpole", use_tensorboard=False, console=False):
            runner = MinibatchRl(algo, agent, sampler, n_steps=budget, seed=seed,
                                 log_interval_steps=HP["n_steps"] * HP["n_envs"], callbacks=[stop], checkpoint=False)
            runner.train()
    if not result["solved"]:
        result.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0, steps=runner.env_steps)
    return result


def run_sb3(seed: int, budget: int, target: float, window: int) -> Dict[str, Any]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    t0, c0 = time.perf_counter(), time.process_time()
    result: Dict[str, Any] = {"solved": False}

    class Stop(BaseCallback):
        def __init__(self):
            super().__init__()
            self.recent = collections.deque(maxlen=window)

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                ep = info.get("episode")
                if ep is not None:
                    self.recent.append(float(ep["r"]))
            if len(self.recent) == window and sum(self.recent) / window >= target:
                result.update(solved=True, wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0,
                              steps=self.num_timesteps)
                return False
            return True

    def lin(v):
        return lambda progress_remaining: progress_remaining * v

    env = make_vec_env("CartPole-v1", n_envs=HP["n_envs"], seed=seed)
    model = SB3PPO("MlpPolicy", env, n_steps=HP["n_steps"], batch_size=HP["batch_size"], n_epochs=HP["n_epochs"],
                   gamma=HP["gamma"], gae_lambda=HP["gae_lambda"], learning_rate=lin(HP["learning_rate"]),
                   clip_range=lin(HP["clip_range"]), ent_coef=HP["ent_coef"], vf_coef=HP["vf_coef"],
                   max_grad_norm=HP["max_grad_norm"], seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=budget, callback=Stop())
    if not result["solved"]:
        result.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0, steps=model.num_timesteps)
    env.close()
    return result


def _warm_imports() -> None:
    import gymnasium as gym
    import stable_baselines3.common.env_util  # noqa: F401
    from stable_baselines3 import PPO as _  # noqa: F401

    import rlframe.agents  # noqa: F401
    import rlframe.algos.pg  # noqa: F401
    import rlframe.envs.gym  # noqa: F401
    import rlframe.logging  # noqa: F401
    import rlframe.runners.minibatch_rl  # noqa: F401
    import rlframe.samplers.serial  # noqa: F401

    gym.make("CartPole-v1").close()
    # The first torch optimiser of a process imports torch._dynamo (1-3 s): a one-off process cost that
    # would land on whichever framework happens to run first.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _median(xs: List[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="runs per framework (seeds 0..N-1), interleaved")
    p.add_argument("--budget", type=int, default=100_000, help="env-step budget (the schedules' horizon)")
    p.add_argument("--target", type=float, default=475.0, help="stop when the last-10-episode mean return >= this")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--threads", type=int, default=1, help="torch threads for both frameworks")
    p.add_argument("--only", choices=["rlframe", "sb3"], default=None, help="run one side only")
    p.add_argument("--json", type=str, default=None, help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    _warm_imports()  # import both frameworks before any clock starts

    out: Dict[str, Any] = {
        "rlframe": {"wall_s": [], "steps": [], "cpu_s": [], "solved": [], "sample_s": [], "optimize_s": []},
        "sb3": {"wall_s": [], "steps": [], "cpu_s": [], "solved": []},
    }
    sides = [s for s in ("rlframe", "sb3") if args.only in (None, s)]
    for seed in range(args.seeds):
        order = sides if seed % 2 == 0 else sides[::-1]  # alternate who goes first
        for side in order:
            r = (run_rlframe if side == "rlframe" else run_sb3)(seed, args.budget, args.target, args.window)
            for k in out[side]:
                out[side][k].append(r.get(k))
            extra = (f"  sample {r['sample_s']:.2f}s optimise {r['optimize_s']:.2f}s"
                     if side == "rlframe" else "")
            print(f"seed {seed} {side:8s} {'solved' if r['solved'] else 'NOT solved'} after {r['steps']:7,d} steps "
                  f"in {r['wall_s']:6.2f} s (cpu {r['cpu_s']:6.2f} s){extra}", flush=True)

    rl, sb = out["rlframe"], out["sb3"]
    both = bool(rl["wall_s"] and sb["wall_s"])
    out["ratio_median"] = _median(rl["wall_s"]) / _median(sb["wall_s"]) if both else None
    # CPU seconds are less sensitive to other processes' load on a shared machine than wall-clock.
    out["ratio_cpu_median"] = _median(rl["cpu_s"]) / _median(sb["cpu_s"]) if both else None
    # Wall-clock per env step: the speed of the machinery, free of how lucky a seed's learning was.
    for d in (rl, sb):
        d["us_per_step"] = [1e6 * w / max(n, 1) for w, n in zip(d["wall_s"], d["steps"])]
    out["ratio_per_step_median"] = _median(rl["us_per_step"]) / _median(sb["us_per_step"]) if both else None
    out["hyper_parameters"] = HP
    out["threads"] = args.threads
    print()
    print(f"{'':10s} {'median wall_s':>14s} {'median cpu_s':>13s} {'median steps':>13s} {'solved':>7s}   "
          "wall_s per seed")
    for side in sides:
        d = out[side]
        print(f"{side:10s} {_median(d['wall_s']):14.2f} {_median(d['cpu_s']):13.2f} {_median(d['steps']):13,.0f} "
              f"{sum(map(bool, d['solved'])):>4d}/{len(d['solved']):<2d}   "
              + " ".join(f"{w:.2f}" for w in d["wall_s"]))
    if rl["wall_s"]:
        s, o, w = sum(rl["sample_s"]), sum(rl["optimize_s"]), sum(rl["wall_s"])
        print(f"rlframe time split: sampling {s / w:.0%}, optimisation {o / w:.0%}, "
              f"other (set-up, logging) {(w - s - o) / w:.0%}")
    if out["ratio_median"] is not None:
        print(f"ratio (median rlframe wall_s / median sb3 wall_s): {out['ratio_median']:.3f}   "
              f"(cpu_s: {out['ratio_cpu_median']:.3f}; wall-clock per env step: {out['ratio_per_step_median']:.3f})")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
