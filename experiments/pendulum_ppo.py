"""PPO on Pendulum-v1 (continuous actions, diagonal gaussian policy with a learned log-std), with
hyper-parameters after the RL zoo's (4 envs x 1024 steps, minibatches of 64, 10 epochs, gamma 0.9,
GAE lambda 0.95, lr 1e-3, clip 0.2); without the zoo's gSDE exploration.

    python experiments/pendulum_ppo.py                      # 200k steps, ~2 min, eval return about -180
    python experiments/pendulum_ppo.py --sampler cpu --workers 2
    python experiments/pendulum_ppo.py --resume runs/pendulum_ppo/run_0 --steps 400000

Evaluation (mean actions) runs before training and at every log interval. A return near -200 or
better is a swinging-up, balancing pendulum.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.pg import GaussianPgAgent
from rlframe.algos.pg import PPO
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        batch_T=1024,
        batch_B=4,
        log_interval_steps=20_000,
        eval=dict(n_envs=5, max_trajectories=5, max_steps=5 * 200),
        model=dict(hidden_sizes=[64, 64], init_log_std=0.0),
        algo=dict(discount=0.9, gae_lambda=0.95, learning_rate=1e-3, linear_lr_schedule=True, epochs=10,
                  minibatches=64, ratio_clip=0.2, entropy_loss_coeff=0.0, max_grad_norm=0.5),
    )


def main(argv=None):
    args = parse_args(__doc__, env="Pendulum-v1", steps=200_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = GaussianPgAgent(model_kwargs=config["model"], clip_actions=True)
    algo = PPO(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"])
    with logger_context(args.log_dir, name="pendulum_ppo", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=-200)


if __name__ == "__main__":
    sys.exit(run_main(main))
