"""TD3 on Pendulum-v1 with the RL zoo's hyper-parameters: 400x300 actor and twin critics, lr 1e-3, gamma 0.98,
replay of 200k, 10k uniformly random warm-up steps, Gaussian exploration noise 0.1, batch 256, tau 0.005,
policy delay 2, target smoothing 0.2 (clip 0.5). As the zoo's ``train_freq: [1, episode]`` with
``gradient_steps: -1``, each iteration collects one 200-step episode (``batch_T=200``) and then takes one
gradient step per env step (``replay_ratio=1``).

    python experiments/pendulum_td3.py                      # 20k steps; seed 0: eval -143.6 (18 min on a loaded 2-core machine)
    python experiments/pendulum_td3.py --resume runs/pendulum_td3/run_0 --steps 40000

Evaluation (deterministic actions) runs before training and at every log interval.
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.qpg import Td3Agent
from rlframe.algos.qpg import TD3
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads, save_replay
        batch_T=200,
        batch_B=1,
        log_interval_steps=2_000,
        eval=dict(n_envs=5, max_trajectories=5, max_steps=5 * 200),
        model=dict(hidden_sizes=[400, 300]),
        q_model=dict(hidden_sizes=[400, 300]),
        agent=dict(exploration_noise=0.1, noise_type="normal"),
        algo=dict(discount=0.98, learning_rate=1e-3, batch_size=256, replay_size=200_000, min_steps_learn=10_000,
                  replay_ratio=1.0, target_update_tau=0.005, policy_delay=2, target_noise=0.2,
                  target_noise_clip=0.5),
    )


def main(argv=None):
    args = parse_args(__doc__, env="Pendulum-v1", steps=20_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = Td3Agent(model_kwargs=config["model"], q_model_kwargs=config["q_model"], **config["agent"])
    algo = TD3(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="pendulum_td3", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=-200)


if __name__ == "__main__":
    sys.exit(run_main(main))
