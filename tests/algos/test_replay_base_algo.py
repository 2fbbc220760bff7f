"""ReplayAlgorithm: replay built from examples, min_steps_learn, replay ratio, target cadence, priorities."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.algos.replay_base import ReplayAlgorithm, replay_class
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.replays import FrameReplayBuffer, PrioritizedReplayBuffer, UniformReplayBuffer
from rlframe.samplers.base import BatchSpec
from tests.algos.toy_q import ToyQ, ToyQAgent
from tests.replays.replay_streams import OBS_DIM, examples, make_stream


def setup(T=2, B=2, n_itr=50, seed=0, **kw):
    torch.manual_seed(seed)
    np.random.seed(seed)
    agent = ToyQAgent()
    agent.initialize(EnvSpaces(gym.spaces.Box(-1, 1, (OBS_DIM,), np.float32), gym.spaces.Discrete(4)), global_B=B)
    kw = {"replay_size": 200, "batch_size": 8, "min_steps_learn": 12, "learning_rate": 1e-4, **kw}
    algo = ToyQ(**kw)
    algo.initialize(agent, n_itr=n_itr, batch_spec=BatchSpec(T, B), examples=examples())
    stream = make_stream(T * n_itr + 10, B, seed=seed)
    stream.obs /= 1000.0  # keep the linear model's inputs small
    stream.final /= 1000.0
    return algo, stream


def run(algo, stream, n_itr):
    T = algo.batch_spec.T
    infos = []
    for itr in range(n_itr):
        infos.append(algo.optimize_agent(itr, stream.batch(itr * T, T)))
    return infos


def test_min_steps_learn_and_fractional_replay_ratio():
    algo, stream = setup(replay_ratio=0.3)
    infos = run(algo, stream, 20)
    counts = [len(i.loss) for i in infos]
    assert counts[:2] == [0, 0]  # 4 and 8 env steps < min_steps_learn = 12
    assert sum(counts) == int(0.3 * 4 * 18)  # 18 iterations of 4 env steps at 0.3 updates per step
    assert algo.update_counter == sum(counts) and algo.env_steps == 80
    assert set(counts[2:]) == {1, 2}  # 1.2 updates owed per iteration, the fraction carried over
    assert all(np.isfinite(i.loss).all() for i in infos)
    assert algo.log_values() == {"replay/size": 80.0}


def test_hard_target_updates_every_interval_env_steps():
    algo, stream = setup(T=3, B=2, replay_ratio=1.0, target_update_interval=10)
    run(algo, stream, 20)  # 120 env steps, learning from 12
    assert algo.target_calls[0] == 1.0  # initialize copies the online net
    # at env steps 10, 20, ..., 120 (the iteration where learning starts covers steps 7..12)
    assert algo.target_calls[1:] == [1.0] * 12
    for t, p in zip(algo.target.parameters(), algo.agent.model.parameters()):
        assert torch.equal(t, p)  # the last hard update came after the last gradient step


def test_soft_target_updates_once_per_env_step_whatever_the_batch():
    algo, stream = setup(T=2, B=2, replay_ratio=1.0, target_update_interval=1, target_update_tau=0.1)
    run(algo, stream, 10)
    calls = algo.target_calls[1:]
    assert calls == pytest.approx([0.1] * 32)  # env steps 9..40 (learning starts in the iteration of steps 9..12)
    algo, stream = setup(T=2, B=2, replay_ratio=0.25, target_update_interval=1, target_update_tau=0.1)
    run(algo, stream, 10)
    # one gradient update per 4-step iteration: each target update catches up 4 env steps at once
    assert algo.target_calls[1:] == pytest.approx([1 - 0.9 ** 4] * 8)


def test_prioritized_replay_plumbing_and_beta_annealing():
    algo, stream = setup(prioritized_replay=True, pri_alpha=1.0, pri_beta_init=0.4, pri_beta_final=1.0,
                         pri_beta_steps=40)
    assert isinstance(algo.replay, PrioritizedReplayBuffer)
    run(algo, stream, 5)
    beta_early = algo.replay.beta
    last = algo.batches[-1]
    np.testing.assert_allclose(algo.replay.tree.leaves[last.idxs.numpy()] > 0, True)
    pri = algo.replay.tree.leaves[last.idxs.numpy()]
    assert not np.allclose(pri, algo.replay.max_priority)  # priorities came from the TD errors
    run(algo, stream, 30)
    assert beta_early == pytest.approx(0.4 + 0.6 * (20 - 12) / 40)
    assert algo.replay.beta == 1.0 and algo.log_values()["replay/beta"] == 1.0
    assert (algo.batches[-1].is_weights <= 1).all() and algo.batches[-1].is_weights.min() < 1


def test_replay_class_choice_and_checks():
    assert replay_class(False, False) is UniformReplayBuffer and replay_class(False, True) is FrameReplayBuffer
    algo, _ = setup()
    assert type(algo.replay) is UniformReplayBuffer and algo.replay.B == 2 and algo.replay.size == 200
    with pytest.raises(ConfigError, match="replay_ratio"):
        ToyQ(replay_ratio=0)
    with pytest.raises(ConfigError, match="target_update_tau"):
        ToyQ(target_update_tau=0)
    with pytest.raises(ConfigError, match="examples"):
        ToyQ().initialize(None, 1, BatchSpec(1, 1))
    with pytest.raises(ConfigError, match="smaller than two sampler batches"):
        setup(T=64, B=2, replay_size=200)


def test_samples_that_do_not_fit_the_replay_fail_at_the_first_batch():
    algo, _ = setup()
    bad = make_stream(10, 2)
    bad.obs = np.zeros((10, 2, OBS_DIM + 1), np.float32)
    with pytest.raises(ShapeMismatchError, match="observation"):
        algo.optimize_agent(0, bad.batch(0, 2))


def test_undeclared_train_step_key_is_a_config_error():
    class Bad(ToyQ):
        def train_step(self, batch):
            info, td = super().train_step(batch)
            return dict(info, surprise=1.0), td

    torch.manual_seed(0)
    algo, stream = setup()
    algo.__class__ = Bad
    with pytest.raises(ConfigError, match="surprise"):
        run(algo, stream, 5)


def test_state_dict_round_trip_keeps_counters_and_targets():
    algo, stream = setup(replay_ratio=0.3)
    run(algo, stream, 7)
    other, _ = setup(replay_ratio=0.3, seed=1)
    other.load_state_dict(algo.state_dict())
    assert other.env_steps == algo.env_steps and other._update_credit == algo._update_credit
    for a, b in zip(other.target.parameters(), algo.target.parameters()):
        assert torch.equal(a, b)
    assert other.replay.rng.random() == algo.replay.rng.random()
