"""Replay speed: ``sample_batch`` and ``append_samples`` of rlframe's replays beside Stable-Baselines3's
``ReplayBuffer.sample`` on the same data, interleaved in one run.

Setting: CartPole-sized transitions (observation 4 float32, Discrete action), ``B=8`` envs, batches of
``T=128`` steps appended until the replay holds ``--size`` steps; then ``--repeats`` rounds, each timing
``--draws`` calls of every contender in turn (so machine load hits them alike); medians of the rounds in
microseconds per call. rlframe's batches carry n-step targets (``n_step_return=3``, the window walked at
sampling time) and torch tensors; the peers are SB3's ``NStepReplayBuffer`` (``n_steps=3``, the same work)
and its one-step ``ReplayBuffer`` (``(s, a, r, s', done)`` torch tensors, less work). SB3 stores the next
observation of every step (``optimize_memory_usage`` is not supported with n-step); rlframe only the final
observations of truncated episodes.

    python experiments/benchmarks/replay_sampling.py --json experiments/benchmarks/results/replay_sampling.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, Dict, List

import gymnasium as gym
import numpy as np

from rlframe.replays import PrioritizedReplayBuffer, UniformReplayBuffer
from rlframe.samplers.base import AgentSamples, EnvSamples, Samples

B, T, OBS = 8, 128, 4


def stream(n_batches: int, rng: np.random.Generator):
    """Batches with episodes ending about every 50 steps (half of them truncated)."""
    for _ in range(n_batches):
        u = rng.random((T, B))
        term, trunc = u < 0.01, (u >= 0.01) & (u < 0.02)
        obs = rng.normal(size=(T, B, OBS)).astype(np.float32)
        action = rng.integers(0, 2, size=(T, B))
        yield Samples(
            AgentSamples(action=action, prev_action=action, agent_info=None),
            EnvSamples(observation=obs, reward=np.ones((T, B), np.float32), prev_reward=np.ones((T, B), np.float32),
                       terminated=term, truncated=trunc, done=term | trunc, timeout_value=np.zeros((T, B), np.float32),
                       env_info=None, final_observation=obs))


def build(size: int, seed: int):
    from stable_baselines3.common.buffers import NStepReplayBuffer, ReplayBuffer

    examples = dict(observation=np.zeros(OBS, np.float32), action=np.int64(0))
    uni = UniformReplayBuffer(examples, size=size, B=B, discount=0.99, n_step_return=3, seed=seed)
    pri = PrioritizedReplayBuffer(examples, size=size, B=B, discount=0.99, n_step_return=3, seed=seed)
    space = gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float32)
    sb3 = ReplayBuffer(size, space, gym.spaces.Discrete(2), device="cpu", n_envs=B)
    sb3_n = NStepReplayBuffer(size, space, gym.spaces.Discrete(2), device="cpu", n_envs=B, n_steps=3, gamma=0.99)
    append_s = {"rlframe_uniform": 0.0, "rlframe_prioritized": 0.0, "sb3": 0.0, "sb3_nstep": 0.0}
    rng = np.random.default_rng(seed)
    n_batches = size // (T * B)
    for samples in stream(n_batches, rng):
        for name, replay in (("rlframe_uniform", uni), ("rlframe_prioritized", pri)):
            t0 = time.perf_counter()
            replay.append_samples(samples)
            append_s[name] += time.perf_counter() - t0
        env = samples.env
        for name, buf in (("sb3", sb3), ("sb3_nstep", sb3_n)):
            t0 = time.perf_counter()
            for t in range(T):  # SB3 adds one vectorised step at a time (its off-policy loop does the same)
                buf.add(env.observation[t], env.observation[t], samples.agent.action[t][:, None], env.reward[t],
                        env.done[t], [{"TimeLimit.truncated": bool(x)} for x in env.truncated[t]])
            append_s[name] += time.perf_counter() - t0
    per_step = {k: 1e6 * v / (n_batches * T * B) for k, v in append_s.items()}
    return uni, pri, sb3, sb3_n, per_step


def time_calls(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e6 * (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    uni, pri, sb3, sb3_n, append_us = build(args.size, 0)
    results: Dict[str, Dict[str, object]] = {"append_us_per_env_step": append_us, "sample_us_per_call": {}}
    for batch in args.batch:
        calls = {"rlframe_uniform": lambda: uni.sample_batch(batch),
                 "rlframe_prioritized": lambda: (pri.sample_batch(batch), pri.update_batch_priorities(np.ones(batch))),
                 "sb3_nstep": lambda: sb3_n.sample(batch), "sb3": lambda: sb3.sample(batch)}
        rounds: Dict[str, List[float]] = {k: [] for k in calls}
        for _ in range(args.repeats):
            for name, fn in calls.items():
                rounds[name].append(time_calls(fn, args.draws))
        med = {k: statistics.median(v) for k, v in rounds.items()}
        results["sample_us_per_call"][str(batch)] = {
            **med, "ratio_uniform_vs_sb3_nstep": med["rlframe_uniform"] / med["sb3_nstep"],
            "ratio_uniform_vs_sb3": med["rlframe_uniform"] / med["sb3"],
            "ratio_prioritized_vs_sb3_nstep": med["rlframe_prioritized"] / med["sb3_nstep"]}
    results["config"] = vars(args)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
