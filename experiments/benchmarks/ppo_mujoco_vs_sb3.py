"""PPO on a MuJoCo env (HalfCheetah-v5): rlframe vs stable-baselines3, RL-zoo hyper-parameters, same env steps.

Both sides use RL-zoo's HalfCheetah PPO set (1 env, n_steps 512, batch 64, 20 epochs, gamma 0.98, GAE lambda
0.92, constant lr 2.0633e-5, clip 0.1, ent_coef 0.000401762, vf_coef 0.58096, max_grad_norm 0.8, separate 256x256
ReLU actor and critic, log_std_init -2, ortho_init False (torch's default Linear initialisation), observations and
rewards normalised) and the same torch threads. SB3 normalises
with ``VecNormalize``; rlframe with gymnasium's ``NormalizeObservation`` and ``NormalizeReward(gamma=0.98)``
wrappers on its ``GymEnv`` (one env, so the running statistics see the same stream). Both run the same number of
env steps; the wall clock runs from building the envs to the end of training (imports done before). The final
return of each is measured the same way afterwards: ``--eval-episodes`` episodes of the raw env with the mean
action and the observation statistics frozen. Seeds are interleaved (rlframe, SB3, ...).

    pip install mujoco      # (rlframe[mujoco])
    python experiments/benchmarks/ppo_mujoco_vs_sb3.py --json experiments/benchmarks/results/ppo_mujoco_vs_sb3.json
    python experiments/benchmarks/ppo_mujoco_vs_sb3.py --steps 10000 --eval-episodes 1     # a quick run
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_sb3 import Clock, only, write_json  # noqa: E402

ENV = "HalfCheetah-v5"
HP = dict(n_envs=1, n_steps=512, batch_size=64, n_epochs=20, gamma=0.98, gae_lambda=0.92, learning_rate=2.0633e-05,
          clip_range=0.1, ent_coef=0.000401762, vf_coef=0.58096, max_grad_norm=0.8, hidden=(256, 256),
          log_std_init=-2.0, ortho_init=False)


def evaluate(policy: Callable[[np.ndarray], np.ndarray], normalize: Callable[[np.ndarray], np.ndarray],
             episodes: int, seed: int) -> float:
    """Mean undiscounted return of ``episodes`` raw-env episodes with the deterministic ``policy``."""
    env = gym.make(ENV)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed * 100 + i)
        total, done = 0.0, False
        while not done:
            action = np.clip(policy(normalize(obs)), env.action_space.low, env.action_space.high)
            obs, r, term, trunc, _ = env.step(action)
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return float(np.mean(returns))


_OBS_NORMS: List[gym.Env] = []  # the rlframe side's NormalizeObservation wrappers (serial sampler: this process)


def _normalize_observation(env: gym.Env) -> gym.Env:
    env = gym.wrappers.NormalizeObservation(env)
    _OBS_NORMS.append(env)
    return env


def _normalize_reward(env: gym.Env) -> gym.Env:
    return gym.wrappers.NormalizeReward(env, gamma=HP["gamma"])


def run_rlframe(seed: int, steps: int, eval_episodes: int) -> Dict[str, Any]:
    from rlframe.agents.pg import GaussianPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners.minibatch_rl import MinibatchRl
    from rlframe.samplers.serial import SerialSampler

    clock = Clock()
    sampler = SerialSampler(GymEnv, dict(id=ENV, wrappers=[_normalize_observation, _normalize_reward]),
                            batch_T=HP["n_steps"], batch_B=HP["n_envs"], max_decorrelation_steps=0)
    algo = PPO(discount=HP["gamma"], gae_lambda=HP["gae_lambda"], learning_rate=HP["learning_rate"],
               linear_lr_schedule=False,  # the zoo set's learning rate is constant (rlframe's default decays it)
               value_loss_coeff=HP["vf_coef"], entropy_loss_coeff=HP["ent_coef"], max_grad_norm=HP["max_grad_norm"],
               normalize_advantage=True, epochs=HP["n_epochs"],
               minibatches=HP["n_steps"] * HP["n_envs"] // HP["batch_size"], ratio_clip=HP["clip_range"])
    agent = GaussianPgAgent(model_kwargs=dict(hidden_sizes=HP["hidden"], shared=False, nonlinearity=torch.nn.ReLU,
                                              init_log_std=HP["log_std_init"], ortho_init=HP["ortho_init"]))
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name="ppo_mujoco", use_tensorboard=False, console=False):
            runner = MinibatchRl(algo, agent, sampler, n_steps=steps, seed=seed,
                                 log_interval_steps=10 * HP["n_steps"], checkpoint=False)
            runner.train()
            result = dict(steps=runner.env_steps, **clock.stamp())
            rms = _OBS_NORMS[-1].obs_rms  # the training env's statistics (the sampler has closed it)
            mean, std = rms.mean.copy(), np.sqrt(rms.var + 1e-8)
            agent.eval_mode(0)
            zeros_a, zeros_r = torch.zeros(1, agent.env_model_kwargs["action_size"]), torch.zeros(1)

            def policy(obs):
                x = torch.as_tensor(obs, dtype=torch.float32)[None]
                return agent.step(x, zeros_a, zeros_r).action[0].numpy()

            result["final_return"] = evaluate(policy, lambda o: (o - mean) / std, eval_episodes, seed)
    return result


def run_sb3(seed: int, steps: int, eval_episodes: int) -> Dict[str, Any]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    clock = Clock()
    env = VecNormalize(make_vec_env(ENV, n_envs=HP["n_envs"], seed=seed), gamma=HP["gamma"])
    model = SB3PPO("MlpPolicy", env, n_steps=HP["n_steps"], batch_size=HP["batch_size"], n_epochs=HP["n_epochs"],
                   gamma=HP["gamma"], gae_lambda=HP["gae_lambda"], learning_rate=HP["learning_rate"],
                   clip_range=HP["clip_range"], ent_coef=HP["ent_coef"], vf_coef=HP["vf_coef"],
                   max_grad_norm=HP["max_grad_norm"], seed=seed, device="cpu", verbose=0,
                   policy_kwargs=dict(log_std_init=HP["log_std_init"], ortho_init=HP["ortho_init"],
                                      activation_fn=torch.nn.ReLU,
                                      net_arch=dict(pi=list(HP["hidden"]), vf=list(HP["hidden"]))))
    model.learn(total_timesteps=steps)
    result = dict(steps=model.num_timesteps, **clock.stamp())
    env.training = False
    result["final_return"] = evaluate(lambda o: model.predict(o, deterministic=True)[0],
                                      lambda o: env.normalize_obs(o), eval_episodes, seed)
    env.close()
    return result


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100_000, help="env steps per run (both sides)")
    p.add_argument("--seeds", type=int, default=1, help="runs per framework (seeds first..first+N-1), interleaved")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads for both frameworks")
    p.add_argument("--only", choices=["rlframe", "sb3"], default=None, help="run one side only")
    p.add_argument("--json", type=str, default=None, help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import stable_baselines3  # noqa: F401  (imports before any clock starts)
    import rlframe.runners.minibatch_rl  # noqa: F401
    gym.make(ENV).close()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo (seconds)

    runs = only(args.only, {"rlframe": lambda seed: run_rlframe(seed, args.steps, args.eval_episodes),
                            "sb3": lambda seed: run_sb3(seed, args.steps, args.eval_episodes)})
    out: Dict[str, Any] = {side: {} for side in runs}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for side in (list(runs) if seed % 2 == 0 else list(runs)[::-1]):
            r = runs[side](seed)
            for k, v in r.items():
                out[side].setdefault(k, []).append(v)
            print(f"seed {seed} {side:8s} {r['steps']:7,d} steps in {r['wall_s']:7.1f} s (cpu {r['cpu_s']:7.1f} s), "
                  f"final return {r['final_return']:8.1f}", flush=True)
            write_json(args.json, {**out, "complete": False})  # a long run stopped early keeps its finished sides
    rl, sb = out.get("rlframe"), out.get("sb3")
    if rl and sb:
        out["ratio_median"] = float(np.median(rl["wall_s"]) / np.median(sb["wall_s"]))
        print(f"wall-clock ratio rlframe/SB3 (median): {out['ratio_median']:.2f}; final return rlframe "
              f"{np.median(rl['final_return']):.0f} vs SB3 {np.median(sb['final_return']):.0f}")
    out.update(complete=True, env=ENV, hyper_parameters=HP, threads=args.threads, steps=args.steps,
               eval_episodes=args.eval_episodes)
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
