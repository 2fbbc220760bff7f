"""DDPG on Pendulum-v1 with the RL zoo's hyper-parameters: 400x300 actor and one critic, lr 1e-3, gamma 0.98,
replay of 200k, 10k uniformly random warm-up steps, Gaussian exploration noise 0.1, batch 256, tau 0.005,
no policy delay, no target smoothing (the TD3 script's settings otherwise): each iteration collects one
200-step episode (``batch_T=200``) and then takes one gradient step per env step (``replay_ratio=1``).

    python experiments/pendulum_ddpg.py                     # 20k steps (see docs/algorithms.md for returns)
    python experiments/pendulum_ddpg.py --resume runs/pendulum_ddpg/run_0 --steps 40000

Evaluation (deterministic actions) runs before training and at every log interval.
"""
import sys

from common import make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_main
from pendulum_td3 import build_config as td3_config

from rlframe.agents.qpg import DdpgAgent
from rlframe.algos.qpg import DDPG
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    config = td3_config(args)  # the same zoo set, without TD3's additions
    config["algo"] = {k: v for k, v in config["algo"].items()
                      if k not in ("policy_delay", "target_noise", "target_noise_clip")}
    return config


def main(argv=None):
    args = parse_args(__doc__, env="Pendulum-v1", steps=20_000, argv=argv)
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu|gpu|alternating
    agent = DdpgAgent(model_kwargs=config["model"], q_model_kwargs=config["q_model"], **config["agent"])
    algo = DDPG(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="pendulum_ddpg", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger, target=-200)


if __name__ == "__main__":
    sys.exit(run_main(main))
