"""The sampler's state for exact resume (BaseSampler.state_dict / load_state_dict, SerialSampler's)."""
import warnings

import numpy as np
import pytest
import torch

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.envs import GymEnv
from rlframe.errors import ConfigError, ResumeWarning
from rlframe.samplers.base import BaseSampler
from rlframe.samplers.parallel import CpuSampler, GpuSampler
from rlframe.samplers.serial import SerialSampler
from tests.helpers import CounterEnv, RandomAgent


def _cartpole_sampler(B=3, env_id="CartPole-v1"):
    sampler = SerialSampler(GymEnv, dict(id=env_id), batch_T=12, batch_B=B, max_decorrelation_steps=15,
                            eval_n_envs=1, eval_max_steps=50)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[8]))
    return sampler, agent


def _batch(sampler, agent, itr, seed):
    torch.manual_seed(seed)  # actions come from torch's global generator (restored by the runner on resume)
    agent.sample_mode(itr)
    samples, trajs = sampler.obtain_samples(itr)
    return [np.copy(x) for x in (samples.env.observation, samples.env.reward, samples.env.done,
                                 samples.agent.action, samples.agent.prev_action)], [t.to_dict() for t in trajs]


def test_serial_sampler_continues_exactly_from_its_state():
    sampler, agent = _cartpole_sampler()
    sampler.initialize(agent, seed=1, bootstrap_value=True)
    for itr in range(3):
        _batch(sampler, agent, itr, seed=itr)
    state = sampler.state_dict()
    weights = agent.state_dict()
    expected = [_batch(sampler, agent, itr, seed=itr) for itr in range(3, 8)]
    sampler.shutdown()

    other, other_agent = _cartpole_sampler()
    other.initialize(other_agent, seed=12345)  # other seeds: everything comes from the state
    other_agent.load_state_dict(weights)
    assert other.load_state_dict(state) is True
    got = [_batch(other, other_agent, itr, seed=itr) for itr in range(3, 8)]
    other.shutdown()
    assert sum(len(trajs) for _, trajs in expected) > 0  # episodes in progress at the save ended later
    for (e_fields, e_trajs), (g_fields, g_trajs) in zip(expected, got):
        for e, g in zip(e_fields, g_fields):
            np.testing.assert_array_equal(e, g)
        assert e_trajs == g_trajs


def test_env_without_state_api_is_named_and_reset_on_resume():
    sampler = SerialSampler(CounterEnv, dict(truncate_at=50), batch_T=4, batch_B=2, max_decorrelation_steps=0)
    agent = RandomAgent()
    sampler.initialize(agent, seed=0)
    sampler.obtain_samples(0)
    with pytest.warns(ResumeWarning) as record:
        state = sampler.state_dict()
    messages = [str(w.message) for w in record]
    assert len(messages) == 2  # one per train env, naming it
    assert all("'Counter-v0'" in m and "rlframe.envs.base.Env" in m and "new episode" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        sampler.state_dict()  # warned once per env, not at every checkpoint
    other = SerialSampler(CounterEnv, dict(truncate_at=50), batch_T=4, batch_B=2, max_decorrelation_steps=0)
    other.initialize(RandomAgent(), seed=0)
    resets = [e.n_resets for e in other._state_envs[0]]
    with pytest.warns(ResumeWarning, match="holds no state of train env 1 'Counter-v0'"):
        assert other.load_state_dict(state) is False
    assert [e.n_resets for e in other._state_envs[0]] == [r + 1 for r in resets]  # reset instead
    assert other.collector.step_np.observation[:, 0].tolist() == [0.0, 0.0]  # a new episode's first observation
    assert all(t.Length == 0 for t in other.collector.traj_infos)
    sampler.shutdown()
    other.shutdown()


def test_state_of_another_env_or_env_count_is_refused():
    sampler, agent = _cartpole_sampler(B=3)
    sampler.initialize(agent, seed=1)
    state = sampler.state_dict()
    sampler.shutdown()
    fewer, agent2 = _cartpole_sampler(B=2)
    fewer.initialize(agent2, seed=1)
    with pytest.raises(ConfigError, match="batch_B"):
        fewer.load_state_dict(state)
    fewer.shutdown()
    other_env, agent3 = _cartpole_sampler(B=3, env_id="Acrobot-v1")
    other_env.initialize(agent3, seed=1)
    with pytest.raises(ConfigError, match="'CartPole-v1'.*'Acrobot-v1'"):
        other_env.load_state_dict(state)
    other_env.shutdown()


def test_samplers_declare_whether_they_resume_exactly():
    assert SerialSampler.exact_resume is True
    assert CpuSampler.exact_resume is True  # its workers send their state (samplers/parallel/base.py)
    for cls in (BaseSampler, GpuSampler):  # these save no env state (docs/scaling.md)
        assert cls.exact_resume is False
    assert BaseSampler(GymEnv).state_dict() == {}


def test_batched_backend_without_state_resets_as_a_whole_on_resume():
    from rlframe.envs.vector import GymVectorEnv

    def make():
        sampler = SerialSampler(GymVectorEnv, dict(id="CartPole-v1"), batch_T=8, batch_B=3, max_decorrelation_steps=5)
        agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[8]))
        sampler.initialize(agent, seed=2)
        return sampler, agent

    sampler, agent = make()
    _batch(sampler, agent, 0, seed=0)
    with pytest.warns(ResumeWarning, match="GymVectorEnv does not derive from rlframe.envs.base.Env"):
        state = sampler.state_dict()
    sampler.shutdown()
    other, other_agent = make()
    with pytest.warns(ResumeWarning, match="holds no state of train env 0 'CartPole-v1'"):
        assert other.load_state_dict(state) is False
    assert all(t.Length == 0 for t in other.collector.traj_infos)  # every row starts a new episode
    assert not other.collector.step_np.prev_action.any()
    _batch(other, other_agent, 1, seed=1)  # and sampling goes on
    other.shutdown()


def test_cpu_sampler_state_of_another_worker_count_is_not_restored():
    def make(n_workers):
        sampler = CpuSampler(GymEnv, dict(id="CartPole-v1"), batch_T=4, batch_B=4, n_workers=n_workers,
                             max_decorrelation_steps=0)
        sampler.initialize(CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[8])), seed=0)
        return sampler

    two = make(2)
    try:
        state = two.state_dict()
        assert len(state["workers"]) == 2 and all(len(w["envs"]) == 2 for w in state["workers"])
        assert two.load_state_dict(state) is True
    finally:
        two.shutdown()
    one = make(1)
    try:
        with pytest.warns(ResumeWarning, match="--workers"):
            assert one.load_state_dict(state) is False
    finally:
        one.shutdown()
