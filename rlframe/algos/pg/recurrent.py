"""Training recurrent PG agents (``rlframe.agents.pg.recurrent``) with A2C and PPO on whole env columns.

A feed-forward agent can be trained on any subset of the ``T * B`` samples of a batch; a recurrent one
needs each env's steps in order. So:

- the batch's inputs stay ``[T, B]`` sequences, one per env column;
- each sequence starts from the LSTM state the agent acted from at ``t = 0``, stored in
  ``agent_info.prev_rnn_state[0]`` (``rlframe.agents.recurrent``);
- where an episode ended inside the batch (``done[t-1]``) the state is zeroed before step ``t``, as it was
  during sampling (reset collector); wait-reset blanks are masked out of the losses as usual;
- PPO's minibatches are sets of whole env columns (``B / minibatches`` envs each), shuffled every epoch.

The gradient runs through the whole ``T``-step sequence (back-propagation through time). A2C and PPO call
:func:`sequence_inputs` and, for PPO, :func:`optimize_ppo_recurrent` when ``agent.recurrent`` is set.
"""
from __future__ import annotations

from typing import Any, Tuple

import torch

from rlframe.agents.base import AgentInputs
from rlframe.agents.recurrent import sequence_reset
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import map_leaves
from rlframe.errors import ConfigError

SequenceInputs = Tuple[Any, Any, Any, Any, torch.Tensor]  # observation, prev_action, prev_reward [T, B]; state [B]; reset [T, B]


def _t(x: Any) -> Any:
    return map_leaves(lambda a: a if isinstance(a, torch.Tensor) else torch.as_tensor(a), x)


def sequence_inputs(samples: Any) -> SequenceInputs:
    """``(observation, prev_action, prev_reward, init_rnn_state, reset)`` of a ``[T, B]`` batch, torch: what a
    recurrent agent's ``__call__`` takes (see the module docstring)."""
    info = samples.agent.agent_info
    if "prev_rnn_state" not in info._fields:
        raise ConfigError(
            "recurrent training needs agent_info.prev_rnn_state in the samples: the agent declares recurrent=True "
            f"but its agent_info has fields {info._fields}; derive recurrent agents from "
            "rlframe.agents.recurrent.RecurrentStateMixin."
        )
    obs, prev_action, prev_reward = _t(AgentInputs(samples.env.observation, samples.agent.prev_action,
                                                   samples.env.prev_reward))
    init_state = _t(info.prev_rnn_state[0])
    return obs, prev_action, prev_reward, init_state, sequence_reset(_t(samples.env.done))


def select_envs(inputs: SequenceInputs, idx: torch.Tensor) -> SequenceInputs:
    """The sequences of env columns ``idx``."""
    obs, prev_action, prev_reward, state, reset = inputs
    return obs[:, idx], prev_action[:, idx], prev_reward[:, idx], state[idx], reset[:, idx]


def check_minibatches(algo_name: str, minibatches: int, batch_B: int) -> None:
    """Recurrent minibatches are sets of env columns: at most ``batch_B`` of them."""
    if minibatches > batch_B:
        raise ConfigError(
            f"{algo_name}: minibatches={minibatches} exceeds batch_B={batch_B}; a recurrent agent trains on "
            "whole env columns, so use at most batch_B minibatches (or more envs)."
        )


def optimize_ppo_recurrent(algo: Any, itr: int, samples: Any) -> Any:
    """PPO's ``epochs`` x ``minibatches`` gradient steps on whole env columns, through ``algo.loss`` (the
    autograd PPO loss, which calls ``agent(observation, prev_action, prev_reward, init_rnn_state, reset)``)."""
    agent, dist = algo.agent, algo.agent.distribution
    T, B = samples.env.reward.shape[:2]
    return_, advantage, valid = algo.process_returns(samples)
    lr = algo.set_learning_rate(itr)
    clip = algo.ratio_clip * (algo.frac_remaining(itr) if algo.linear_clip_schedule else 1.0)
    inputs = sequence_inputs(samples)
    action = _t(samples.agent.action)
    old_value = _t(samples.agent.agent_info.value)
    with torch.no_grad():
        old_logp = dist.log_likelihood(action, _t(samples.agent.agent_info.dist_info))
    ret, adv = torch.from_numpy(return_), torch.from_numpy(advantage)
    valid_t = None if valid is None else torch.from_numpy(valid)
    if agent.device.type != "cpu":  # the whole batch moves once
        inputs, action, old_value, old_logp, ret, adv, valid_t = buffer_to(
            (inputs, action, old_value, old_logp, ret, adv, valid_t), agent.device)

    mb_B = B // algo.minibatches
    stats = []
    for _ in range(algo.epochs):
        perm = torch.randperm(B)
        for m in range(algo.minibatches):
            idx = perm[m * mb_B:(m + 1) * mb_B].to(adv.device)
            mb_valid = None if valid_t is None else valid_t[:, idx]
            loss, step_stats = algo.loss(select_envs(inputs, idx), action[:, idx], old_logp[:, idx],
                                         old_value[:, idx], ret[:, idx], adv[:, idx], mb_valid, clip)
            if algo.target_kl is not None and step_stats[3].item() > 1.5 * algo.target_kl:
                break  # as SB3: this minibatch's policy is already too far, no step on it
            algo._zero_grad()
            loss.backward()
            stats.append(torch.stack(step_stats + (algo._clip_and_step(),)))
        else:
            continue
        break  # target_kl reached

    opt_info = algo.make_opt_info()
    if stats:
        for name, col in zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"),
                             torch.stack(stats, dim=1).tolist()):
            getattr(opt_info, name).extend(col)
    opt_info.explained_variance.append(algo._explained_variance(samples.agent.agent_info.value, return_, valid))
    opt_info.learning_rate.append(lr)
    opt_info.ratio_clip.append(clip)
    return opt_info
