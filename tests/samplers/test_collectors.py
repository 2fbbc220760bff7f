"""Collectors: mid-batch reset, wait-reset (valid mask), truncation values, decorrelation, evaluation."""
import numpy as np
import pytest
import torch

from rlframe.samplers.base import BatchSpec, TrajInfo
from rlframe.samplers.buffer import build_samples_buffer
from rlframe.samplers.collectors import (
    EvalCollector, ResetCollector, WaitResetCollector, valid_from_done,
)
from tests.helpers import CounterEnv, RandomAgent


def setup(CollectorCls, T=7, B=2, bootstrap=True, agent=None, **env_kwargs):
    envs = [CounterEnv(**env_kwargs) for _ in range(B)]
    agent = agent or RandomAgent()
    agent.initialize(envs[0].spaces, global_B=B)
    _, samples_np, examples = build_samples_buffer(agent, envs[0], BatchSpec(T, B), bootstrap_value=bootstrap)
    collector = CollectorCls(rank=0, envs=envs, samples_np=samples_np, batch_T=T, TrajInfoCls=TrajInfo, agent=agent,
                             global_B=B)
    collector.start_envs(0)
    collector.start_agent()
    return collector, samples_np, envs, agent


def test_reset_collector_truncation_and_resets():
    col, s, envs, agent = setup(ResetCollector, truncate_at=5)
    done = col.collect_batch(0)
    counter = s.env.observation[:, 0, 0].tolist()
    assert counter == [0, 1, 2, 3, 4, 0, 1]  # reset right after the end at t=4
    assert s.env.done[:, 0].tolist() == [False] * 4 + [True, False, False]
    assert s.env.truncated[4].all() and not s.env.terminated.any()
    # V(true final observation [5, 1, 1]) = 7, never the reset observation's value
    assert s.env.timeout_value[4].tolist() == [7.0, 7.0]
    assert s.env.timeout_value.sum() == 14.0
    # prev_action / prev_reward restart at zero after the reset
    assert s.env.prev_reward[:, 0].tolist() == [0, 1, 1, 1, 1, 0, 1]
    assert s.agent.prev_action[5].tolist() == [0, 0]
    assert np.array_equal(s.agent.prev_action[1:5], s.agent.action[0:4])
    assert s.env.env_info.t[:, 1].tolist() == [1, 2, 3, 4, 5, 1, 2]
    # bootstrap value: V(observation after the last step) = sum([2, 1, 1])
    assert s.agent.bootstrap_value.tolist() == [[4.0, 4.0]]
    assert s.agent.agent_info.value[:, 0].tolist() == [2, 3, 4, 5, 6, 2, 3]
    assert [(ti.Length, ti.Return, ti.Truncated, ti.Terminated, ti.t) for ti in done] == [(5, 5.0, True, False, 5.0)] * 2
    assert sorted(agent.reset_one_calls) == [0, 1]
    assert [e.n_steps_total for e in envs] == [8, 7]  # env 0 also made the probe step
    # the next batch continues the episodes
    col.collect_batch(1)
    assert s.env.observation[:, 0, 0].tolist() == [2, 3, 4, 0, 1, 2, 3]
    assert s.env.timeout_value[0].tolist() == [0, 0] and s.env.timeout_value[2].tolist() == [7, 7]


def test_wait_reset_collector_blanks_and_valid_mask():
    col, s, envs, _ = setup(WaitResetCollector, truncate_at=5)
    done = col.collect_batch(0)
    assert len(done) == 2
    assert s.env.done[:, 0].tolist() == [False] * 4 + [True] * 3  # done stays true while waiting
    assert s.env.truncated[:, 0].tolist() == [False] * 4 + [True, False, False]
    assert s.env.reward[:, 0].tolist() == [1] * 5 + [0, 0]
    assert s.agent.action[5:].tolist() == [[0, 0], [0, 0]] and s.agent.agent_info.value[5:].sum() == 0
    assert s.env.env_info.t[5:].sum() == 0
    assert s.env.timeout_value[4].tolist() == [7, 7]
    valid = valid_from_done(s.env.done)
    assert valid[:, 0].tolist() == [1] * 5 + [0, 0]
    assert torch.equal(valid_from_done(torch.from_numpy(s.env.done)), torch.from_numpy(valid))
    assert [e.n_steps_total for e in envs] == [6, 5]  # not stepped while waiting (env 0: +1 probe step)
    col.collect_batch(1)  # the wait ends: reset at the start of the next batch
    assert s.env.observation[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5, 5]  # waiting rows: the final obs
    assert s.env.prev_reward[0].tolist() == [0, 0] and s.agent.prev_action[0].tolist() == [0, 0]
    assert valid_from_done(s.env.done)[:, 1].tolist() == [1] * 5 + [0, 0]


def test_termination_has_no_timeout_value():
    col, s, _, _ = setup(ResetCollector, truncate_at=None, terminate_at=3)
    done = col.collect_batch(0)
    assert s.env.terminated[2].all() and s.env.done[5].all() and not s.env.truncated.any()
    assert s.env.timeout_value.sum() == 0
    assert all(ti.Terminated and not ti.Truncated and ti.Length == 3 for ti in done) and len(done) == 4


def test_agent_without_value():
    col, s, _, _ = setup(ResetCollector, agent=RandomAgent(with_value=False), truncate_at=5)
    col.collect_batch(0)
    assert s.env.truncated[4].all() and s.env.timeout_value.sum() == 0 and s.agent.bootstrap_value.sum() == 0


def test_no_bootstrap_field_when_not_asked():
    col, s, _, _ = setup(ResetCollector, bootstrap=False)
    col.collect_batch(0)
    assert not hasattr(s.agent, "bootstrap_value")


def test_decorrelation_steps_random_lengths():
    col, s, envs, _ = setup(ResetCollector, B=8, truncate_at=50)
    infos = col.start_envs(40, rng=np.random.default_rng(0))
    starts = [e.t for e in envs]
    assert len(set(starts)) > 3 and max(starts) <= 40
    assert [ti.Length for ti in infos] == starts  # ongoing episodes keep their statistics
    col.collect_batch(0)
    assert s.env.observation[0, :, 0].tolist() == starts


def test_collector_rejects_mismatched_slice():
    col, s, envs, agent = setup(ResetCollector, B=2)
    with pytest.raises(ValueError, match="leading dims"):
        ResetCollector(0, envs[:1], s, 7, TrajInfo, agent)
    sub = ResetCollector(0, envs[1:], s[:, 1:], 7, TrajInfo, agent)  # a B-slice, as workers use
    sub.start_envs(0)
    s.env.reward[:] = -1
    sub.collect_batch(0)
    assert (s.env.reward[:, 0] == -1).all() and (s.env.reward[:, 1] == 1).all()


def test_eval_collector_bounds():
    envs = [CounterEnv(truncate_at=3) for _ in range(2)]
    agent = RandomAgent()
    agent.initialize(envs[0].spaces)
    obs_ex = np.zeros(3, np.float32)
    col = EvalCollector(0, envs, TrajInfo, agent, max_T=100, max_trajectories=3, obs_example=obs_ex,
                        action_example=np.int64(0))
    done = col.collect_evaluation(0)
    assert len(done) == 3 and all(ti.Length == 3 for ti in done)
    assert agent.n_resets == 1 and len(agent.reset_one_calls) == 4
    col = EvalCollector(0, envs, TrajInfo, agent, max_T=7, obs_example=obs_ex, action_example=np.int64(0))
    assert len(col.collect_evaluation(1)) == 4  # 2 complete episodes per env in 7 steps; partial ones dropped


@pytest.mark.parametrize("CollectorCls", [ResetCollector, WaitResetCollector])
def test_flags_of_a_previous_batch_are_cleared(CollectorCls):
    """terminated / truncated / done are zeroed per batch and written at episode ends only: nothing of the
    previous batch's ends may survive in the next one."""
    col, s, _, _ = setup(CollectorCls, truncate_at=5)
    col.collect_batch(0)
    assert s.env.done[4].all() and s.env.truncated[4].all()
    col.collect_batch(1)
    if CollectorCls is ResetCollector:  # the episodes continue: counters 2, 3, 4 -> end at t=2
        expected = [False, False, True, False, False, False, False]
        assert s.env.done[:, 0].tolist() == expected and s.env.truncated[:, 1].tolist() == expected
    else:  # reset at the batch start, then 5 steps to the end at t=4, then waiting (done kept true)
        assert s.env.done[:, 0].tolist() == [False] * 4 + [True] * 3
        assert s.env.truncated[:, 1].tolist() == [False] * 4 + [True, False, False]
    assert not s.env.terminated.any()
