"""R2D1 (recurrent replay DQN: Kapturowski et al. 2019's R2D2 on one machine) on a partially observed task:
by default CartPole with the velocities hidden (``rlframe/CartPolePOMDP-v1``, observation ``[x, theta]``), which a
feed-forward DQN cannot balance. An LSTM dueling Q-network fed the previous action and reward, prioritized
sequence replay (stored LSTM state, burn-in of 10 steps, 20 trained steps, sequences every 10 steps), 5-step
double-Q targets with value rescaling; 8 envs x 16 steps per iteration, one gradient step on 32 sequences every
16 env steps (Adam, lr 5e-4, eps 1e-5), target network copied every 2,000 env steps, epsilon 1 -> 0.02 over the
first 30k env steps. The same settings for every env (docs/algorithms.md, "What the POMDP scripts solve").

    python experiments/pomdp_r2d1.py                                  # 150k steps
    python experiments/pomdp_r2d1.py --sampler cpu --workers 2
    python experiments/pomdp_r2d1.py --env rlframe/TMaze-v0 --steps 30000    # memory task: eval 1.0
    python experiments/pomdp_r2d1.py --env my_module:MyMemoryTask-v0 --target 0.9

``--env`` takes any env with a Discrete action space (a Box one stops with a ConfigError pointing to
``pomdp_ppo_lstm.py``). ``GpuSampler`` and ``AlternatingSampler`` do not support
recurrent agents (a ConfigError says so): use serial or cpu. Evaluation (greedy actions, 10 episodes) runs
before training and at every log interval; the last one is printed at the end against the env's
``reward_threshold`` (``--target RETURN`` overrides it). The LSTM learns what to remember from the 20 trained
steps of a sequence (after 10 burn-in steps): measured, the 10-step T-maze is learned by 20k steps, a 15-step one
by 51k (with the default budget) (longer memories: try a larger ``sequence_length`` / ``burn_in`` in ``build_config``).
"""
import sys

from common import (add_target_flag, env_action_space, eval_step_bound, make_run_affinity, make_runner, make_sampler,
                    parse_args, report, resolve_config, run_fields, run_main, solved_target)

import gymnasium as gym

from rlframe.agents.dqn.r2d1 import R2d1Agent
from rlframe.algos.dqn.r2d1 import R2D1
from rlframe.errors import ConfigError
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads, save_replay
        batch_T=16,
        batch_B=8,
        log_interval_steps=10_240,
        eval=dict(n_envs=10, max_trajectories=10, max_steps=eval_step_bound(args.env, 10)),  # 10 whole episodes
        model=dict(fc_sizes=[64], lstm_size=64, head_sizes=[64], dueling=True),
        agent=dict(eps_init=1.0, eps_final=0.02, eps_steps=30_000, eps_eval=0.0),
        algo=dict(sequence_length=20, burn_in=10, stride=10, n_step_return=5, discount=0.99, batch_size=32,
                  replay_size=50_000, min_steps_learn=2_000, replay_ratio=1 / 16, target_update_interval=2_000,
                  learning_rate=5e-4, adam_eps=1e-5, clip_grad_norm=40.0, double_dqn=True, value_rescale=True,
                  prioritized_replay=True, pri_alpha=0.9, pri_beta_init=0.6, pri_beta_final=0.6),
    )


def check_discrete_actions(env_id):
    """R2D1 acts by an argmax over one Q-value per action: only ``Discrete`` action spaces."""
    space = env_action_space(env_id)
    if not isinstance(space, gym.spaces.Discrete):
        raise ConfigError(
            f"pomdp_r2d1.py needs a Discrete action space (R2D1 picks the action with the largest Q-value), but "
            f"{env_id} has {space}. For continuous actions use the recurrent Gaussian policy of "
            f"experiments/pomdp_ppo_lstm.py: python experiments/pomdp_ppo_lstm.py --env {env_id}"
        )


def main(argv=None):
    args = parse_args(__doc__, env="rlframe/CartPolePOMDP-v1", steps=150_000, argv=argv,
                      add_arguments=add_target_flag)
    config = resolve_config(args, build_config)
    check_discrete_actions(config["env"])

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu
    agent = R2d1Agent(model_kwargs=config["model"], **config["agent"])
    algo = R2D1(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
                         save_replay=config["save_replay"])
    with logger_context(args.log_dir, name="pomdp_r2d1", params=config, resume=args.resume) as logger:
        result = runner.train()
    target, source = solved_target(args, config["env"])
    return report(result, logger, target=target, target_source=source)


if __name__ == "__main__":
    sys.exit(run_main(main))
