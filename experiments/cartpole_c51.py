"""C51 (distributional DQN, 51 atoms) on CartPole-v1, with cartpole_dqn.py's schedule: 256 env steps per
iteration then 128 gradient steps on batches of 64, lr 2.3e-3, gamma 0.99, target copied every iteration,
epsilon 1 -> 0.04 over the first 16% of the steps. The atoms span [0, 100]: CartPole's discounted return
(+1 per step, gamma 0.99) is at most 1 / (1 - 0.99) = 100.

    python experiments/cartpole_c51.py                      # 50k steps, reaches eval return 500
    python experiments/cartpole_c51.py --sampler cpu --workers 2

Evaluation (greedy actions on the expected values) runs before training and at every log interval.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.dqn import CatDqnAgent
from rlframe.algos.dqn import CatDQN
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads, save_replay
        batch_T=256,
        batch_B=1,
        log_interval_steps=5_120,
        eval=dict(n_envs=10, max_trajectories=10, max_steps=10 * 500),
        model=dict(hidden_sizes=[256, 256]),
        agent=dict(n_atoms=51, v_min=0.0, v_max=100.0, eps_init=1.0, eps_final=0.04,
                   eps_steps=int(0.16 * args.steps), eps_eval=0.0),
        algo=dict(discount=0.99, learning_rate=2.3e-3, batch_size=64, replay_size=100_000, min_steps_learn=1000,
                  replay_ratio=128 / 256, target_update_interval=256, target_update_tau=1.0, clip_grad_norm=10.0),
    )


def main(argv=None):
    args = parse_args(__doc__, env="CartPole-v1", steps=50_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))
    agent = CatDqnAgent(model_kwargs=config["model"], **config["agent"])
    algo = CatDQN(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="cartpole_c51", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=475)


if __name__ == "__main__":
    sys.exit(run_main(main))
