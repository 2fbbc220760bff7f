"""A2C on CartPole-v1 with the RL-zoo hyper-parameters (8 envs x 5 steps, RMSprop lr 7e-4,
gamma 0.99, GAE lambda 1, no entropy bonus, gradient-norm clip 0.5).

    python experiments/cartpole_a2c.py                      # 500k steps
    python experiments/cartpole_a2c.py --sampler cpu --workers 2 --steps 200000
    python experiments/cartpole_a2c.py --resume runs/cartpole_a2c/run_0 --steps 1000000

Evaluation (deterministic actions) runs before training and at every log interval.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg import A2C
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        batch_T=5,  # RL zoo: n_steps 5
        batch_B=8,  # n_envs 8
        log_interval_steps=25_000,
        eval=dict(n_envs=10, max_trajectories=10, max_steps=10 * 500),
        model=dict(hidden_sizes=[64, 64]),
        algo=dict(discount=0.99, gae_lambda=1.0, learning_rate=7e-4, value_loss_coeff=0.5, entropy_loss_coeff=0.0,
                  max_grad_norm=0.5),
    )


def main(argv=None):
    args = parse_args(__doc__, env="CartPole-v1", steps=500_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = CategoricalPgAgent(model_kwargs=config["model"])
    algo = A2C(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"])
    with logger_context(args.log_dir, name="cartpole_a2c", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=475)


if __name__ == "__main__":
    sys.exit(run_main(main))
