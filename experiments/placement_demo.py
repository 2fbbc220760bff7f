"""rlframe's flagship demo: PPO learns chip macro placement, then meets the classical baselines.

Circuit Training's formulation (Mirhoseini et al., Nature 2021): one hard macro per step, largest
first, the action a grid cell, infeasible cells masked out of the policy. MaskPlace's dense reward
(-ΔHPWL per step) and image observations (Lai et al., NeurIPS 2022), and a MaskPlace-style fully
convolutional policy: one logit per grid cell from a small conv net over the image planes (position
mask, wire mask, canvas). The house PPO and masked ``CategoricalPgAgent`` train it.

    python experiments/placement_demo.py                      # macro_tiles_10x10: 100 macros, ~2 min on 2 cores
    python experiments/placement_demo.py --steps 2000 --sa-seconds 1      # a smoke test, seconds

TensorBoard (``tensorboard --logdir runs``): ``placement/proxy_cost``, ``placement/wirelength_cost``,
``placement/density_cost``, ``placement/congestion_cost``, ``placement/hpwl`` (training episodes)
against env steps, and ``placement/layout``: the deterministic policy's placement at every log
interval. At the end: a table of the policy's deterministic placement against random, greedy and
simulated-annealing placements of the same design, and the policy's placement as ``policy.plc``
in the run directory.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg import PPO
from rlframe.envs.gym import GymEnv
from rlframe.placement.baselines import greedy_placement, random_placement, simulated_annealing
from rlframe.placement.env.rollout import policy_placement, rendering_env
from rlframe.logging import logger_context
from rlframe.placement.env import MacroPlacementEnv
from rlframe.placement.policies import POLICIES
from rlframe.runners import MinibatchRlEval
from rlframe.samplers.serial import SerialSampler

ENV_ID = "rlframe.placement:rlframe/MacroPlacement-v0"
COST_TERMS = ("proxy_cost", "wirelength_cost", "density_cost", "congestion_cost", "hpwl")

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--design", default="macro_tiles_10x10", help="shipped design name or netlist path")
p.add_argument("--steps", type=int, default=60_000, help="env steps to train for")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--log-dir", default="runs")
p.add_argument("--log-interval", type=int, default=6_000, help="env steps between log rows and layouts")
p.add_argument("--sa-seconds", type=float, default=10.0, help="simulated annealing's time budget")
p.add_argument("--policy", choices=tuple(POLICIES), default="cell",
               help="cell (CellConvPolicy, default), cnn (MaskPlaceCnnPolicy) or gnn (EdgeGnnPolicy)")
p.add_argument("--random-samples", type=int, default=16, help="random placements averaged in the table")


def main(argv=None):
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    torch.set_num_threads(1)
    env_kwargs = dict(id=ENV_ID, design=args.design, reward="hpwl",
                      observation="graph" if args.policy == "gnn" else "image")
    model = dict(channels=16)
    if args.policy == "gnn":  # the graph observation does not carry the grid's shape
        grid = MacroPlacementEnv(design=args.design).problem.grid
        model["grid"] = (grid.rows, grid.cols)
    config = dict(design=args.design, steps=args.steps, seed=args.seed, env_kwargs=env_kwargs,
                  policy=args.policy, batch_T=100, batch_B=4, model=model,
                  algo=dict(discount=0.99, gae_lambda=0.95, learning_rate=1e-3, epochs=4, minibatches=4,
                            ratio_clip=0.2, entropy_loss_coeff=0.003))

    sampler = SerialSampler(EnvCls=GymEnv, env_kwargs=env_kwargs, batch_T=config["batch_T"],
                            batch_B=config["batch_B"], max_decorrelation_steps=0,
                            eval_n_envs=1, eval_max_trajectories=1, eval_max_steps=10_000)
    agent = CategoricalPgAgent(POLICIES[args.policy], model_kwargs=config["model"])   # masks obs.action_mask
    algo = PPO(**config["algo"])
    show_env = rendering_env(env_kwargs)   # the runner logs placement/layout itself (the env's metrics hook)
    runner = MinibatchRlEval(algo, agent, sampler, n_steps=args.steps, seed=args.seed,
                             affinity=dict(master_torch_threads=1), log_interval_steps=args.log_interval)
    with logger_context(args.log_dir, name="placement_demo", params=config) as logger:
        runner.train()
        train_s = time.perf_counter() - t_start

        # --- the trained policy's deterministic placement vs the baselines, same design ---
        agent.eval_mode(runner.itr)
        info = policy_placement(agent, show_env)
        plc_path = os.path.join(logger.run_dir, "policy.plc")
        show_env.unwrapped.placement().write(plc_path)
        problem = show_env.unwrapped.problem
        rows = [("PPO policy (deterministic)", {k: float(getattr(info, k)) for k in COST_TERMS}, train_s)]
        rand = [random_placement(problem, seed=s) for s in range(args.random_samples)]
        rows.append((f"random legal (mean of {len(rand)})",
                     {k: float(np.mean([r.costs[k] for r in rand])) for k in COST_TERMS},
                     sum(r.seconds for r in rand)))
        greedy = greedy_placement(problem)
        rows.append(("greedy (wire mask)", greedy.costs, greedy.seconds))
        sa = simulated_annealing(problem, time_budget=args.sa_seconds, seed=args.seed)
        rows.append((f"simulated annealing ({args.sa_seconds:g} s)", sa.costs, sa.seconds))

    print(f"\n{args.design}: {problem.n_macros} macros on a {problem.grid.cols} x {problem.grid.rows} grid, "
          f"{runner.env_steps:,d} env steps. Lower is better.")
    head = ("proxy", "wirelen", "density", "congest", "HPWL", "time s")
    print(f"{'placement':32s} " + " ".join(f"{h:>{n}s}" for h, n in zip(head, (7, 8, 8, 8, 11, 7))))
    for name, c, secs in rows:
        print(f"{name:32s} {c['proxy_cost']:7.4f} {c['wirelength_cost']:8.4f} {c['density_cost']:8.4f} "
              f"{c['congestion_cost']:8.4f} {c['hpwl']:11.1f} {secs:7.1f}")
    ppo = rows[0][1]["proxy_cost"]
    for name, c, _ in rows[1:]:
        d = c["proxy_cost"] - ppo
        verdict = "better" if d > 1e-9 else ("worse" if d < -1e-9 else "equal")
        pct = 100 * abs(d) / c["proxy_cost"]
        print(f"  PPO vs {name}: {verdict} by {abs(d):.4f} proxy cost ({pct:.1f}%)")
    print(f"Policy placement: {plc_path}\nTensorBoard:      {logger.tensorboard_command()}")
    print(f"Total wall-clock: {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
