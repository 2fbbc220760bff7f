"""PPO with an LSTM policy (``RecurrentCategoricalPgAgent`` / ``RecurrentGaussianPgAgent``) on a partially
observed task: by default CartPole with the velocities hidden (``rlframe/CartPolePOMDP-v1``, observation
``[x, theta]``), which a feed-forward policy cannot balance. Each gradient step sees whole env columns (``[T, B]``
sequences from the stored LSTM state, reset where an episode ended).

The settings follow the env's action space (never its id), as the RL zoo's sets do:

- Discrete actions: the zoo's RecurrentPPO set for CartPoleNoVel (8 envs x 32 steps, 20 epochs, gamma 0.98,
  GAE lambda 0.8, lr 1e-3 and clip 0.2 decayed linearly, LSTM of 64, rewards scaled by the running std of the
  return: ``PPO(normalize_reward=True)``); default budget 100k steps.
- Box actions (Gaussian policy): the zoo's PendulumNoVel set (gamma 0.9, GAE lambda 0.95, 10 epochs of minibatches
  of 64 steps, lr 1e-3, 4,096 steps per iteration as 64 envs x 64 steps) with rewards scaled by the running std of
  the return (``PPO(normalize_reward=True)``); default budget 200k steps.

    python experiments/pomdp_ppo_lstm.py                              # 100k steps, eval return 500
    python experiments/pomdp_ppo_lstm.py --env rlframe/PendulumPOMDP-v1        # Box actions, 200k steps
    python experiments/pomdp_ppo_lstm.py --sampler cpu --workers 2
    python experiments/pomdp_ppo_lstm.py --env rlframe/TMaze-v0 --steps 30000     # memory task: eval 1.0
    python experiments/pomdp_ppo_lstm.py --env my_module:MyMemoryTask-v0 --target 0.9

``--env`` takes any env with a Discrete or 1-D Box action space. ``GpuSampler`` and
``AlternatingSampler`` do not support recurrent agents (a ConfigError says so): use serial or cpu.
Evaluation (deterministic actions, 10 episodes) runs before training and at every log interval; the last one is
printed at the end against the env's ``reward_threshold`` (``--target RETURN`` overrides it and is kept in the
run's params.json). Measured figures: docs/algorithms.md, "What the POMDP scripts solve". Gradients run through
one batch column (32 steps; 64 for Box actions): measured, the 10-step T-maze is learned in 10k steps, a 20-step
one with the default budget (not with ``--steps 30000``: the learning rate decays over ``--steps``); longer
memories: a larger ``batch_T``.
"""
import sys

from common import (add_target_flag, env_action_space, eval_step_bound, make_run_affinity, make_runner, make_sampler,
                    parse_args, report, resolve_config, run_fields, run_main, solved_target)

import gymnasium as gym

from rlframe.agents.pg.recurrent import RecurrentCategoricalPgAgent, RecurrentGaussianPgAgent
from rlframe.algos.pg import PPO
from rlframe.logging import logger_context
from rlframe.runners import MinibatchRlEval


DISCRETE_STEPS, BOX_STEPS = 100_000, 200_000  # default budgets (--steps), by action space


def discrete_settings():
    """Discrete actions: after the RL zoo's RecurrentPPO on CartPoleNoVel (8 envs x 32 steps, 20 epochs of one
    minibatch, gamma 0.98, GAE lambda 0.8, lr 1e-3 and clip 0.2 decayed linearly, LSTM of 64), with the zoo's
    reward normalisation (``normalize_reward``: without it the velocity-hidden Acrobot stayed at -500)."""
    return dict(
        batch_T=32,  # RL zoo (RecurrentPPO, CartPoleNoVel-v1): n_steps 32
        batch_B=8,  # n_envs 8
        model=dict(fc_sizes=[], lstm_size=64, head_sizes=[64]),
        agent=dict(),
        algo=dict(discount=0.98, gae_lambda=0.8, learning_rate=1e-3, linear_lr_schedule=True, epochs=20,
                  minibatches=1, ratio_clip=0.2, linear_clip_schedule=True, entropy_loss_coeff=0.0,
                  normalize_reward=True),
    )


def continuous_settings():
    """Box actions: after the RL zoo's RecurrentPPO on PendulumNoVel (4,096 steps per iteration, minibatches of 64
    steps, 10 epochs, gamma 0.9, GAE lambda 0.95, lr 1e-3, clip 0.2), laid out as 64 envs x 64 steps so that a
    minibatch is one whole env column; rewards scaled by the running std of the return (``normalize_reward``:
    Pendulum's -16 per step gave value losses of hundreds, and the gradient clip shrank the policy's steps)."""
    return dict(
        batch_T=64,
        batch_B=64,
        model=dict(fc_sizes=[], lstm_size=64, head_sizes=[64], init_log_std=0.0),
        agent=dict(),
        algo=dict(discount=0.9, gae_lambda=0.95, learning_rate=1e-3, linear_lr_schedule=True, epochs=10,
                  minibatches=64, ratio_clip=0.2, linear_clip_schedule=False, entropy_loss_coeff=0.0,
                  normalize_reward=True),
    )


def action_kind(env_id):
    """"box" for a ``Box`` action space (Gaussian policy), "discrete" otherwise."""
    return "box" if isinstance(env_action_space(env_id), gym.spaces.Box) else "discrete"


def build_config(args):
    """The run's settings, chosen from the env's action space (never from its id)."""
    kind = action_kind(args.env)
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        action_kind=kind,
        log_interval_steps=10_000,
        eval=dict(n_envs=10, max_trajectories=10, max_steps=eval_step_bound(args.env, 10)),  # 10 whole episodes
        **(continuous_settings() if kind == "box" else discrete_settings()),
    )


def make_agent(config):
    """The recurrent agent fitting the env's action space (runs saved before ``action_kind``: probed again)."""
    kind = config.get("action_kind") or action_kind(config["env"])
    AgentCls = RecurrentGaussianPgAgent if kind == "box" else RecurrentCategoricalPgAgent
    return AgentCls(model_kwargs=config["model"], **config.get("agent", {}))


def main(argv=None):
    args = parse_args(__doc__, env="rlframe/CartPolePOMDP-v1", steps=DISCRETE_STEPS, argv=argv,
                      add_arguments=add_target_flag)
    if args.resume is None and args.steps is None and action_kind(args.env or args.default_env) == "box":
        args.steps = BOX_STEPS
    config = resolve_config(args, build_config)

    sampler = make_sampler(config, env_kwargs=dict(id=config["env"]))  # --sampler serial|cpu
    agent = make_agent(config)
    algo = PPO(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"])
    with logger_context(args.log_dir, name="pomdp_ppo_lstm", params=config, resume=args.resume) as logger:
        result = runner.train()
    target, source = solved_target(args, config["env"])
    return report(result, logger, target=target, target_source=source)


if __name__ == "__main__":
    sys.exit(run_main(main))
