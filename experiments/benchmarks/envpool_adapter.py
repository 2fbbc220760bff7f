"""EnvPool's own step loop against ``EnvPoolEnv.step`` as it was (a second ``reset(env_ids)`` call per step with
an ended env, EnvPool's public ``step``) and as it is (spare envs, EnvPool's C++ send/recv), interleaved rounds of
64 steps of 32 CartPole-v1 envs with the same random actions, wall µs per step (best and median of the rounds).

    python experiments/benchmarks/envpool_adapter.py
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from rlframe.envs.vector import EnvPoolEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--B", type=int, default=32)
    args = parser.parse_args()
    import envpool

    B = args.B
    own_env = envpool.make_gymnasium("CartPole-v1", num_envs=B, seed=0)
    own_env.reset()
    actions = [np.random.default_rng(0).integers(0, 2, B) for _ in range(64)]
    before = EnvPoolEnv("CartPole-v1", num_envs=B, spares=0, direct_calls=False)
    after = EnvPoolEnv("CartPole-v1", num_envs=B)
    for env in (before, after):
        env.reset()
    loops = {"EnvPool's own loop (public step)": own_env.step,
             "EnvPoolEnv.step, spares=0, direct_calls=False (before)": before.step,
             "EnvPoolEnv.step, spares and direct calls (now)": after.step}
    times = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, step in loops.items():
            t0 = time.perf_counter()
            for a in actions:
                step(a)
            times[name].append((time.perf_counter() - t0) / len(actions) * 1e6)
    for name, ts in times.items():
        ts.sort()
        print(f"{name:58} wall µs per {B}-env step: best {ts[0]:7.1f}  median {ts[len(ts) // 2]:7.1f}")


if __name__ == "__main__":
    main()
