"""Recurrent PG agents: the LSTM state lives in agent_info, resets at episode ends, survives samplers and
checkpoints, and unsupported samplers say which one to use."""
import copy

import numpy as np
import pytest
import torch

import rlframe  # noqa: F401  (registers rlframe/CartPolePOMDP-v1)
from rlframe.agents.pg.recurrent import RecurrentCategoricalPgAgent, RecurrentGaussianPgAgent
from rlframe.algos.pg.recurrent import sequence_inputs
from rlframe.envs import GymEnv
from rlframe.errors import ConfigError
from rlframe.samplers.collectors import WaitResetCollector
from rlframe.samplers.serial import SerialSampler

T, B = 40, 3


def _sampler(env_id="rlframe/CartPolePOMDP-v1", **kw):
    return SerialSampler(GymEnv, dict(id=env_id), batch_T=T, batch_B=B, max_decorrelation_steps=0, **kw)


def _recompute(agent, samples):
    """Training forward over the batch from the stored state at t=0, with resets where done."""
    with torch.no_grad():
        return agent(*sequence_inputs(samples))


@pytest.mark.parametrize("env_id, Agent", [("rlframe/CartPolePOMDP-v1", RecurrentCategoricalPgAgent),
                                           ("rlframe/PendulumPOMDP-v1", RecurrentGaussianPgAgent)])
def test_stored_state_reproduces_sampling_across_episode_ends(env_id, Agent):
    sampler = _sampler(env_id)
    agent = Agent(model_kwargs=dict(lstm_size=16, fc_sizes=[16], head_sizes=[16]))
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    try:
        for itr in range(2):  # the second batch starts from the state the first one ended with
            agent.sample_mode(itr)
            samples, _ = sampler.obtain_samples(itr)
            info = samples.agent.agent_info
            done = samples.env.done
            if env_id.startswith("rlframe/CartPole"):
                assert done[:-1].any(), "the test needs an episode end inside the batch"
            # the state the agent acted from is zero right after every reset, non-zero otherwise
            for t, b in zip(*np.nonzero(done[:-1])):
                assert np.all(info.prev_rnn_state.h[t + 1, b] == 0) and np.all(info.prev_rnn_state.c[t + 1, b] == 0)
            assert np.abs(info.prev_rnn_state.h[1:]).sum() > 0
            dist_info, value = _recompute(agent, samples)
            np.testing.assert_allclose(value.numpy(), info.value, rtol=1e-5, atol=1e-5)
            for new, old in zip(dist_info, info.dist_info):
                np.testing.assert_allclose(new.detach().numpy(), old, rtol=1e-5, atol=1e-5)
    finally:
        sampler.shutdown()


def test_reset_one_zeroes_only_that_env():
    agent = RecurrentCategoricalPgAgent()
    sampler = _sampler()
    sampler.initialize(agent, seed=0)
    sampler.shutdown()
    agent.sample_mode(0)
    obs, pa, pr = torch.randn(B, 2), torch.zeros(B, dtype=torch.long), torch.zeros(B)
    agent.step(obs, pa, pr)
    agent.reset_one(1)
    state = agent.current_rnn_state(B)
    assert torch.all(state.h[1] == 0) and torch.all(state.c[1] == 0)
    assert state.h[0].abs().sum() > 0 and state.h[2].abs().sum() > 0
    with pytest.raises(ConfigError, match="all of its envs"):
        agent.value(obs[:1], pa[:1], pr[:1])


def test_evaluation_keeps_its_own_state():
    sampler = _sampler(eval_n_envs=2, eval_max_steps=60)
    agent = RecurrentCategoricalPgAgent()
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    try:
        agent.sample_mode(0)
        sampler.obtain_samples(0)
        before = copy.deepcopy(agent.current_rnn_state(B))
        sampler.evaluate_agent(0)  # two envs, its own slot
        agent.sample_mode(1)
        after = agent.current_rnn_state(B)
        torch.testing.assert_close(after.h, before.h)
        samples, _ = sampler.obtain_samples(1)
        torch.testing.assert_close(torch.as_tensor(samples.agent.agent_info.prev_rnn_state.h[0]), before.h)
    finally:
        sampler.shutdown()


def test_wait_reset_collector_blanks_and_restarts_from_zero():
    sampler = _sampler(CollectorCls=WaitResetCollector)
    agent = RecurrentCategoricalPgAgent()
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    try:
        agent.sample_mode(0)
        samples, _ = sampler.obtain_samples(0)
        ended = np.nonzero(samples.env.done[:-1].any(0))[0]
        assert ended.size
        agent.sample_mode(1)
        samples, _ = sampler.obtain_samples(1)
        assert np.all(samples.agent.agent_info.prev_rnn_state.h[0, ended] == 0)  # reset before the new batch
    finally:
        sampler.shutdown()


def test_checkpoint_round_trip_gives_the_same_steps(tmp_path):
    from rlframe.logging import checkpoint as ckpt  # noqa: F401  (checkpoints hold agent.state_dict())

    sampler = _sampler()
    agent = RecurrentCategoricalPgAgent()
    sampler.initialize(agent, seed=0)
    sampler.shutdown()
    path = tmp_path / "agent.pt"
    torch.save(agent.state_dict(), path)
    other = RecurrentCategoricalPgAgent()
    other.initialize(agent.env_spaces)
    other.load_state_dict(torch.load(path))
    obs = torch.randn(5, B, 2)
    pa, pr = torch.zeros(5, B, dtype=torch.long), torch.zeros(5, B)
    state = agent.model.zero_state(B)
    for a in (agent, other):
        a.eval_mode(0)
    torch.testing.assert_close(agent(obs, pa, pr, state)[0].logits, other(obs, pa, pr, state)[0].logits)
    for t in range(5):  # the same recurrent state evolves in both
        s1, s2 = agent.step(obs[t], pa[t], pr[t]), other.step(obs[t], pa[t], pr[t])
        torch.testing.assert_close(s1.agent_info.prev_rnn_state.h, s2.agent_info.prev_rnn_state.h)


def test_cpu_sampler_stores_the_same_kind_of_state():
    from rlframe.samplers.parallel import CpuSampler

    sampler = CpuSampler(GymEnv, dict(id="rlframe/CartPolePOMDP-v1"), batch_T=T, batch_B=4, n_workers=2,
                         max_decorrelation_steps=0, start_method="fork")
    agent = RecurrentCategoricalPgAgent(model_kwargs=dict(lstm_size=16))
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    try:
        for itr in range(2):
            agent.sample_mode(itr)
            samples, _ = sampler.obtain_samples(itr)
            dist_info, value = _recompute(agent, samples)
            np.testing.assert_allclose(value.numpy(), samples.agent.agent_info.value, rtol=1e-5, atol=1e-5)
            for t, b in zip(*np.nonzero(samples.env.done[:-1])):
                assert np.all(samples.agent.agent_info.prev_rnn_state.h[t + 1, b] == 0)
    finally:
        sampler.shutdown()


@pytest.mark.parametrize("kind", ["gpu", "alternating"])
def test_gpu_samplers_refuse_recurrent_agents_naming_the_sampler_to_use(kind):
    from rlframe.samplers.parallel import AlternatingSampler, GpuSampler

    Sampler = {"gpu": GpuSampler, "alternating": AlternatingSampler}[kind]
    sampler = Sampler(GymEnv, dict(id="rlframe/CartPolePOMDP-v1"), batch_T=4, batch_B=2, n_workers=2,
                      max_decorrelation_steps=0, start_method="fork")
    try:
        with pytest.raises(ConfigError, match="CpuSampler or SerialSampler"):
            sampler.initialize(RecurrentCategoricalPgAgent(), seed=0)
    finally:
        sampler.shutdown()
