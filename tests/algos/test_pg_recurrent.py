"""A2C and PPO with recurrent agents: whole env columns, the stored state at t=0, resets where done."""
import numpy as np
import pytest
import torch

import rlframe  # noqa: F401
from rlframe.agents.pg.recurrent import RecurrentCategoricalPgAgent
from rlframe.algos.pg import A2C, PPO
from rlframe.algos.pg.recurrent import select_envs, sequence_inputs
from rlframe.envs import GymEnv
from rlframe.errors import ConfigError
from rlframe.samplers.serial import SerialSampler

T, B = 32, 4


def _run(algo, itrs=2):
    sampler = SerialSampler(GymEnv, dict(id="rlframe/CartPolePOMDP-v1"), batch_T=T, batch_B=B,
                            max_decorrelation_steps=0)
    agent = RecurrentCategoricalPgAgent(model_kwargs=dict(lstm_size=16, head_sizes=[16]))
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    algo.initialize(agent, n_itr=10, batch_spec=sampler.batch_spec)
    infos = []
    try:
        for itr in range(itrs):
            agent.sample_mode(itr)
            samples, _ = sampler.obtain_samples(itr)
            agent.train_mode(itr)
            before = [p.detach().clone() for p in agent.model.body.lstm.parameters()]
            infos.append(algo.optimize_agent(itr, samples))
            after = list(agent.model.body.lstm.parameters())
            assert any(not torch.equal(a, b) for a, b in zip(after, before)), "the LSTM must be trained"
    finally:
        sampler.shutdown()
    return agent, samples, infos


def test_ppo_steps_on_env_columns():
    agent, samples, infos = _run(PPO(epochs=3, minibatches=2, learning_rate=1e-3))
    info = infos[-1]
    assert len(info.policy_loss) == 3 * 2 and all(np.isfinite(info.policy_loss))
    assert all(0 <= c <= 1 for c in info.clip_fraction)


def test_a2c_on_sequences():
    _, _, infos = _run(A2C())
    assert len(infos[-1].policy_loss) == 1 and np.isfinite(infos[-1].value_loss[0])


def test_column_minibatches_see_the_columns_own_state_and_resets():
    agent, samples, _ = _run(PPO(epochs=1, minibatches=1), itrs=1)
    inputs = sequence_inputs(samples)
    idx = torch.tensor([2, 0])
    sub = select_envs(inputs, idx)
    with torch.no_grad():
        whole = agent(*inputs)[1]
        part = agent(*sub)[1]
    torch.testing.assert_close(part, whole[:, idx])  # each column's sequence depends on that column only
    reset = inputs[4]
    np.testing.assert_array_equal(reset[1:].numpy(), np.asarray(samples.env.done[:-1]))
    assert not reset[0].any()


def test_more_minibatches_than_env_columns_is_refused():
    with pytest.raises(ConfigError, match="batch_B"):
        _run(PPO(minibatches=B + 1), itrs=0)
