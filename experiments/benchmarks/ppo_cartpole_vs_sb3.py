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
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_sb3 import Clock, interleave, only, rlframe_stopper, sb3_stopper, summarise, write_json  # noqa: E402

HP = dict(n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8, learning_rate=1e-3,
          clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)


def run_rlframe(seed: int, budget: int, target: float, window: int) -> Dict[str, Any]:
    from rlframe.agents import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners.minibatch_rl import MinibatchRl
    from rlframe.samplers.serial import SerialSampler

    clock = Clock()
    result: Dict[str, Any] = {}
    stop = rlframe_stopper(result, clock, target, window)

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
        result.update(steps=runner.env_steps, **clock.stamp())
    return result


def run_sb3(seed: int, budget: int, target: float, window: int) -> Dict[str, Any]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    clock = Clock()
    result: Dict[str, Any] = {}

    def lin(v):
        return lambda progress_remaining: progress_remaining * v

    env = make_vec_env("CartPole-v1", n_envs=HP["n_envs"], seed=seed)
    model = SB3PPO("MlpPolicy", env, n_steps=HP["n_steps"], batch_size=HP["batch_size"], n_epochs=HP["n_epochs"],
                   gamma=HP["gamma"], gae_lambda=HP["gae_lambda"], learning_rate=lin(HP["learning_rate"]),
                   clip_range=lin(HP["clip_range"]), ent_coef=HP["ent_coef"], vf_coef=HP["vf_coef"],
                   max_grad_norm=HP["max_grad_norm"], seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=budget, callback=sb3_stopper(result, clock, target, window))
    if not result["solved"]:
        result.update(steps=model.num_timesteps, **clock.stamp())
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

    runs = only(args.only, {"rlframe": lambda seed: run_rlframe(seed, args.budget, args.target, args.window),
                            "sb3": lambda seed: run_sb3(seed, args.budget, args.target, args.window)})
    out: Dict[str, Any] = summarise(interleave(args.seeds, runs))
    rl = out.get("rlframe")
    if rl and rl["wall_s"]:
        s, o, w = sum(rl["sample_s"]), sum(rl["optimize_s"]), sum(rl["wall_s"])
        print(f"rlframe time split: sampling {s / w:.0%}, optimisation {o / w:.0%}, "
              f"other (set-up, logging) {(w - s - o) / w:.0%}")
    out["hyper_parameters"] = HP
    out["threads"] = args.threads
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
