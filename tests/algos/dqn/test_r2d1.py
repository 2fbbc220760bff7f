"""R2D1: value rescaling and its inverse, burn-in, bootstrap values (incl. truncation), a training step."""
import numpy as np
import pytest
import torch

import rlframe  # noqa: F401
from rlframe.agents.dqn.r2d1 import R2d1Agent
from rlframe.agents.recurrent import sequence_reset
from rlframe.algos.dqn.r2d1 import R2D1, inverse_value_rescale, value_rescale
from rlframe.envs import GymEnv
from rlframe.errors import ConfigError
from rlframe.samplers.serial import SerialSampler


@pytest.mark.parametrize("eps", [1e-3, 1e-2, 0.0])
def test_value_rescaling_inverse(eps):
    x = torch.cat([torch.linspace(-1000, 1000, 2001), torch.tensor([0.0, 1e-4, -1e-4, 123.456])]).double()
    torch.testing.assert_close(inverse_value_rescale(value_rescale(x, eps), eps), x, rtol=1e-9, atol=1e-7)
    torch.testing.assert_close(value_rescale(inverse_value_rescale(x / 100, eps), eps), x / 100, rtol=1e-9, atol=1e-9)
    # h squashes: h(99) = sqrt(100) - 1 + eps * 99
    assert value_rescale(torch.tensor(99.0), eps).item() == pytest.approx(9.0 + eps * 99)


def _setup(T=16, B=4, **algo_kw):
    sampler = SerialSampler(GymEnv, dict(id="rlframe/CartPolePOMDP-v1"), batch_T=T, batch_B=B,
                            max_decorrelation_steps=0)
    agent = R2d1Agent(model_kwargs=dict(fc_sizes=[16], lstm_size=16, head_sizes=[16]))
    examples = sampler.initialize(agent, seed=0, final_observation=True)
    kw = dict(sequence_length=6, burn_in=3, stride=3, n_step_return=2, batch_size=8, replay_size=2000,
              min_steps_learn=0, replay_ratio=1 / 16)
    kw.update(algo_kw)
    algo = R2D1(**kw)
    algo.initialize(agent, n_itr=100, batch_spec=sampler.batch_spec, examples=examples)
    return sampler, agent, algo


def test_burn_in_runs_without_a_graph_and_matches_the_full_sequence():
    sampler, agent, algo = _setup()
    try:
        for itr in range(4):
            agent.sample_mode(itr)
            algo.replay.append_samples(sampler.obtain_samples(itr)[0])
        batch = algo.replay.sample_batch(8)
        reset = sequence_reset(batch.done)
        full = agent(*batch.agent_inputs, batch.init_rnn_state, reset)
        burned = agent(*batch.agent_inputs, batch.init_rnn_state, reset, burn_in=3)
        assert burned.shape[0] == full.shape[0] - 3
        torch.testing.assert_close(burned, full[3:])
        burned.sum().backward()
        # the gradient reaches the LSTM through the trained steps; the burn-in steps carry none
        obs = batch.agent_inputs.observation.clone().requires_grad_(True)
        agent(obs, batch.agent_inputs.prev_action, batch.agent_inputs.prev_reward, batch.init_rnn_state, reset,
              burn_in=3).sum().backward()
        assert obs.grad[:3].abs().sum() == 0 and obs.grad[3:].abs().sum() > 0
    finally:
        sampler.shutdown()


def test_truncation_bootstraps_from_the_final_observation_value():
    sampler, agent, algo = _setup()
    try:
        for itr in range(4):
            agent.sample_mode(itr)
            algo.replay.append_samples(sampler.obtain_samples(itr)[0])
        batch = algo.replay.sample_batch(8)
        # pretend sequence 0 was truncated at window index 4 (its final observation: something new)
        batch.truncated[4, 0] = batch.done[4, 0] = True
        batch.terminated[4, 0] = False
        batch.done[:4, 0] = batch.done[5:, 0] = False
        batch.final_observation[4, 0] = torch.tensor([0.3, -0.1])
        ret, disc, pos, final = algo.replay.n_step_targets_of(batch)
        assert final[:, 0].tolist() == [True, True, False, False, False, False]  # trained steps t = 3, 4
        reset = sequence_reset(batch.done)
        q_online = agent(*batch.agent_inputs, batch.init_rnn_state, reset, burn_in=3).detach()
        values = algo.bootstrap_values(batch, reset, q_online, *(torch.as_tensor(x) for x in (pos, final)))
        # reference: the target network over steps 0..4 then the final observation, with no reset
        obs, pa, pr = (x[:6, :1].clone() for x in batch.agent_inputs)
        obs[5, 0], pa[5, 0], pr[5, 0] = batch.final_observation[4, 0], batch.action[4, 0], batch.reward[4, 0]
        state = type(batch.init_rnn_state)(*(s[:1] for s in batch.init_rnn_state))
        q_t = agent.target(obs, pa, pr, state)
        q_o = agent(obs, pa, pr, state).detach()
        expected = q_t[5, 0, q_o[5, 0].argmax()]
        torch.testing.assert_close(values[0, 0], expected)
        torch.testing.assert_close(values[1, 0], expected)
    finally:
        sampler.shutdown()


def test_training_steps_update_priorities_and_log():
    sampler, agent, algo = _setup()
    try:
        for itr in range(6):
            agent.sample_mode(itr)
            info = algo.optimize_agent(itr, sampler.obtain_samples(itr)[0])
        assert algo.update_counter == 6 * 64 // 16
        assert info.loss and all(np.isfinite(info.loss)) and info.q_mean and info.grad_norm
        pri = algo.replay.priorities()
        assert (pri > 0).any() and len(np.unique(pri[pri > 0])) > 2  # updated from the TD errors
        state = algo.state_dict()
        assert "target_model" in state
    finally:
        sampler.shutdown()


def test_r2d1_needs_a_recurrent_agent():
    from rlframe.agents.dqn import DqnAgent

    sampler = SerialSampler(GymEnv, dict(id="rlframe/CartPolePOMDP-v1"), batch_T=8, batch_B=2,
                            max_decorrelation_steps=0)
    agent = DqnAgent()
    examples = sampler.initialize(agent, seed=0, final_observation=True)
    sampler.shutdown()
    with pytest.raises(ConfigError, match="recurrent"):
        R2D1(replay_size=2000).initialize(agent, n_itr=10, batch_spec=sampler.batch_spec, examples=examples)
