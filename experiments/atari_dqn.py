"""Dueling double DQN on an Atari game (ALE through ale-py: pip install -e '.[atari]'), after the RL zoo's
Atari DQN: 10M env steps, replay of 100k steps (a frame replay: each 84x84 frame stored once), learning from
100k steps on, one update of 32 every 4 env steps (replay ratio 0.25), lr 1e-4, target copied every 1,000
env steps, epsilon 1 -> 0.01 over the first 10% of the steps; the Nature-DQN torso with a dueling head.

    python experiments/atari_dqn.py                                   # ALE/Pong-v5, 10M steps
    python experiments/atari_dqn.py --env ALE/Breakout-v5 --sampler cpu --workers 2

Training envs clip rewards to their sign (rollout/return_mean is the clipped return); evaluation envs do not
(eval/return_mean is the game score), and act with epsilon 0.05 (Mnih et al. 2015's evaluation). Both use
no-op starts, frame skip 4 with max-pooling, FIRE on reset and 4 stacked 84x84 grey frames
(rlframe/envs/atari.py); an episode is a whole game (no end of episode at a lost life).
"""
import sys

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.dqn import DqnAgent
from rlframe.algos.dqn import DQN
from rlframe.envs.atari import AtariEnv
from rlframe.logging import logger_context
from rlframe.models.dqn import DqnConvModel
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads, save_replay
        batch_T=4,
        batch_B=8,
        log_interval_steps=250_000,
        atari=dict(episodic_life=False, repeat_action_probability=0.0, max_episode_steps=27_000),  # AtariEnv
        eval=dict(n_envs=4, max_trajectories=8, max_steps=8 * 27_000),
        model=dict(hidden_sizes=[512], dueling=True),
        agent=dict(eps_init=1.0, eps_final=0.01, eps_steps=int(0.1 * args.steps), eps_eval=0.05),
        algo=dict(discount=0.99, learning_rate=1e-4, batch_size=32, replay_size=100_000, min_steps_learn=100_000,
                  replay_ratio=0.25, target_update_interval=1000, target_update_tau=1.0, double_dqn=True,
                  n_step_return=1, clip_grad_norm=10.0, frame_replay=True),
    )


def main(argv=None):
    args = parse_args(__doc__, env="ALE/Pong-v5", steps=10_000_000, argv=argv)
    config = resolve_config(args, build_config)

    env_kwargs = dict(id=config["env"], **config["atari"])
    sampler = make_sampler(config, env_kwargs=env_kwargs, EnvCls=AtariEnv,
                           eval_env_kwargs=dict(env_kwargs, clip_reward=False))
    agent = DqnAgent(ModelCls=DqnConvModel, model_kwargs=config["model"], **config["agent"])
    algo = DQN(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="atari_dqn", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger)


if __name__ == "__main__":
    sys.exit(run_main(main))
