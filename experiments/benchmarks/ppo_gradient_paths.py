"""PPO's gradient paths timed against each other: autograd through ``PPO.loss``, ``fast_gradients`` with
autograd's backward pass through the network, and ``fast_gradients`` with the backward pass written out
(``rlframe/algos/pg/closed_form.py``, the default where the model allows it).

One real CartPole-v1 batch (``SerialSampler``, 8 envs x 32 steps, separate 64x64 actor and critic as in
``ppo_cartpole_vs_sb3.py``), then ``optimize_agent`` on it with each path, alternating them so machine
load hits all alike. Settings: RL-zoo's (20 epochs, one 256-sample minibatch) and rlframe's PPO defaults
(10 epochs, 4 minibatches). Reports the median milliseconds per ``optimize_agent`` call and the ratios
to the autograd path (< 1: the closed form pays).

    python experiments/benchmarks/ppo_gradient_paths.py --reps 15 [--json results/ppo_gradient_paths.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Dict

import torch

SETTINGS = {"rl_zoo (20 epochs x 1 minibatch)": dict(epochs=20, minibatches=1),
            "defaults (10 epochs x 4 minibatches)": dict(epochs=10, minibatches=4)}


def one_batch(seed: int = 0):
    from rlframe.agents import CategoricalPgAgent
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.serial import SerialSampler

    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(64, 64), shared=False))
    sampler = SerialSampler(GymEnv, dict(id="CartPole-v1"), batch_T=32, batch_B=8, max_decorrelation_steps=0)
    sampler.initialize(agent, seed=seed, bootstrap_value=True)
    try:
        agent.sample_mode(0)
        samples, _ = sampler.obtain_samples(0)
        return agent, _copy(samples), sampler.batch_spec
    finally:
        sampler.shutdown()


def _copy(x):
    from rlframe.core.namedarraytuple import map_leaves

    return map_leaves(lambda a: a.copy(), x)


PATHS = ("closed_form", "fast_autograd_backward", "autograd")


def time_paths(reps: int) -> Dict[str, Dict[str, float]]:
    import rlframe.algos.pg.ppo as ppo_module
    from rlframe.algos.pg import PPO

    agent, samples, batch_spec = one_batch()
    state = {k: v.clone() for k, v in agent.model.state_dict().items()}
    closed_form_policy = ppo_module.closed_form_policy
    out = {}
    for name, kw in SETTINGS.items():
        times = {path: [] for path in PATHS}
        for _ in range(reps):
            for path in PATHS:
                # the fast path without the written-out backward pass: as if the model did not allow it
                ppo_module.closed_form_policy = closed_form_policy if path == "closed_form" else lambda *a: None
                agent.model.load_state_dict(state)
                algo = PPO(discount=0.98, gae_lambda=0.8, learning_rate=1e-3, max_grad_norm=0.5,
                           fast_gradients=path != "autograd", **kw)
                algo.initialize(agent, n_itr=100, batch_spec=batch_spec)
                agent.train_mode(0)
                t0 = time.perf_counter()
                algo.optimize_agent(0, samples)
                times[path].append(time.perf_counter() - t0)
        ppo_module.closed_form_policy = closed_form_policy
        ms = {path: 1e3 * statistics.median(times[path]) for path in PATHS}
        out[name] = {**{f"{path}_ms": v for path, v in ms.items()},
                     "ratio_closed_form_over_autograd": ms["closed_form"] / ms["autograd"],
                     "ratio_fast_autograd_backward_over_autograd": ms["fast_autograd_backward"] / ms["autograd"]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=15, help="optimize_agent calls per path and setting")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", type=str, default=None, help="write the results here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = time_paths(args.reps)
    for name, r in results.items():
        print(f"{name}: closed form {r['closed_form_ms']:.1f} ms, fast with autograd backward "
              f"{r['fast_autograd_backward_ms']:.1f} ms, autograd {r['autograd_ms']:.1f} ms per optimize_agent "
              f"(closed form / autograd = {r['ratio_closed_form_over_autograd']:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
