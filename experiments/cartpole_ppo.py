"""PPO on CartPole-v1 with the RL-zoo hyper-parameters (8 envs x 32 steps, 20 epochs on the whole
256-step batch, gamma 0.98, GAE lambda 0.8, learning rate 1e-3 and clip 0.2 both decayed linearly).

    python experiments/cartpole_ppo.py                      # 100k steps, reaches eval return 500
    python experiments/cartpole_ppo.py --sampler cpu --workers 2
    python experiments/cartpole_ppo.py --resume runs/cartpole_ppo/run_0 --steps 200000

Evaluation (deterministic actions) runs before training and at every log interval; the last one is
printed at the end.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg import PPO
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        batch_T=32,  # RL zoo: n_steps 32
        batch_B=8,  # n_envs 8
        log_interval_steps=10_000,
        eval=dict(n_envs=10, max_trajectories=10, max_steps=10 * 500),
        model=dict(hidden_sizes=[64, 64]),
        algo=dict(discount=0.98, gae_lambda=0.8, learning_rate=1e-3, linear_lr_schedule=True, epochs=20,
                  minibatches=1, ratio_clip=0.2, linear_clip_schedule=True, entropy_loss_coeff=0.0),
    )


def main(argv=None):
    args = parse_args(__doc__, env="CartPole-v1", steps=100_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = CategoricalPgAgent(model_kwargs=config["model"])
    algo = PPO(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"])
    with logger_context(args.log_dir, name="cartpole_ppo", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=475)


if __name__ == "__main__":
    sys.exit(run_main(main))
