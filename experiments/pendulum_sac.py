"""SAC on Pendulum-v1 with the RL zoo's hyper-parameters (SB3 defaults + lr 1e-3): twin 256x256 critics and a
256x256 tanh-Gaussian actor, batch 256, one gradient step per env step (``batch_T=1``), gamma 0.99,
tau 0.005, automatic entropy tuning, 100 uniformly random warm-up steps, replay of 1M.

    python experiments/pendulum_sac.py                      # 20k steps; seed 0: eval -142.6 (23 min on a loaded 2-core machine)
    python experiments/pendulum_sac.py --resume runs/pendulum_sac/run_0 --steps 40000 --save-replay

Evaluation (deterministic actions, tanh of the mean) runs before training and at every log interval. A return
near -200 or better is a swinging-up, balancing pendulum.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.qpg import SacAgent
from rlframe.algos.qpg import SAC
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads, save_replay
        batch_T=1,
        batch_B=1,
        log_interval_steps=2_000,
        eval=dict(n_envs=5, max_trajectories=5, max_steps=5 * 200),
        model=dict(hidden_sizes=[256, 256]),
        q_model=dict(hidden_sizes=[256, 256]),
        algo=dict(discount=0.99, learning_rate=1e-3, batch_size=256, replay_size=1_000_000, min_steps_learn=100,
                  replay_ratio=1.0, target_update_tau=0.005),
    )


def main(argv=None):
    args = parse_args(__doc__, env="Pendulum-v1", steps=20_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = SacAgent(model_kwargs=config["model"], q_model_kwargs=config["q_model"])
    algo = SAC(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="pendulum_sac", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=-200)


if __name__ == "__main__":
    sys.exit(run_main(main))
