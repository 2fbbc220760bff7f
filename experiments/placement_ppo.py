"""PPO on chip macro placement (Circuit Training's formulation, Mirhoseini et al., Nature 2021) on a
small design: one hard macro per step, largest first, the action a grid cell, infeasible cells masked
out of the policy (the agent reads the env's ``action_mask``), reward -proxy cost at the end
(``--reward proxy``) or MaskPlace's dense -ΔHPWL (``--reward hpwl``), or both (``--reward mix``). The policy (``--policy``): ``mlp`` (an MLP over the image
planes -- position mask, wire mask, canvas -- and the macro descriptor), ``cell`` (CellConvPolicy), ``cnn``
(MaskPlace-style CNN, MaskPlaceCnnPolicy) or ``gnn`` (Circuit Training's edge-GNN with a deconvolution
head over the graph observation, EdgeGnnPolicy); see rlframe/placement/policies/.

    python experiments/placement_ppo.py                               # macro_tiles_10x10, 100 macros
    python experiments/placement_ppo.py --design toy_macro_stdcell --steps 20000
    python experiments/placement_ppo.py --reward hpwl --sampler cpu --workers 2
    python experiments/placement_ppo.py --policy gnn --reward mix --steps 20000

Logged like every run (progress.csv, TensorBoard); the final deterministic evaluation's return is
minus the proxy cost (proxy reward) of the placement the policy makes. TensorBoard also holds the
placement tags of the training episodes (``placement/proxy_cost``, ``placement/wirelength_cost``,
``placement/density_cost``, ``placement/congestion_cost``, ``placement/hpwl``) and, at every log
interval, the deterministic policy's layout as the image ``placement/layout``. For the flagship demo
(a conv policy, the baselines table, the .plc) see ``experiments/placement_demo.py``.
"""
import argparse
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg import PPO
from rlframe.logging import logger_context
from rlframe.placement.env import MacroPlacementEnv
from rlframe.placement.policies import POLICIES
from rlframe.runners import MinibatchRlEval

ENV_ID = "rlframe.placement:rlframe/MacroPlacement-v0"


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        design=args.design,
        reward=args.reward,
        policy=args.policy,
        batch_T=200,  # two 100-macro episodes per env and batch
        batch_B=4,
        log_interval_steps=4_000,
        eval=dict(n_envs=1, max_trajectories=1, max_steps=1_000),
        env_kwargs=dict(observation="graph" if args.policy == "gnn" else "image", run_fd=True),
        model=dict(hidden_sizes=[256, 256]) if args.policy == "mlp" else {},
        algo=dict(discount=1.0, gae_lambda=0.95, learning_rate=3e-4, epochs=4, minibatches=4,
                  ratio_clip=0.2, entropy_loss_coeff=0.01),
    )


def main(argv=None):
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--design", default="macro_tiles_10x10",
                       help="shipped design name or netlist path (default macro_tiles_10x10)")
    extra.add_argument("--reward", choices=("proxy", "hpwl", "mix"), default="proxy")
    extra.add_argument("--policy", choices=("mlp",) + tuple(POLICIES), default="mlp")
    known, rest = extra.parse_known_args(argv)
    args = parse_args(__doc__, env=ENV_ID, steps=40_000, argv=rest)
    args.design, args.reward, args.policy = known.design, known.reward, known.policy
    config = resolve_config(args, build_config)

    if config["policy"] == "gnn":  # the graph observation does not carry the grid's shape
        grid = MacroPlacementEnv(design=config["design"]).problem.grid
        config["model"].setdefault("grid", (grid.rows, grid.cols))
    env_kwargs = dict(id=config["env"], design=config["design"], reward=config["reward"],
                      **config["env_kwargs"])
    sampler = make_sampler(config, env_kwargs=env_kwargs)  # --sampler serial|cpu|gpu|alternating
    model_cls = {} if config["policy"] == "mlp" else dict(ModelCls=POLICIES[config["policy"]])
    agent = CategoricalPgAgent(**model_cls, model_kwargs=config["model"])  # masks obs.action_mask
    algo = PPO(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
    )
    with logger_context(args.log_dir, name="placement_ppo", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger)


if __name__ == "__main__":
    sys.exit(run_main(main))
