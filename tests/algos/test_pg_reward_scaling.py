"""RewardScaler (rlframe/algos/pg/reward_scaling.py): rewards divided by the running std of the per-env discounted
return, reset at episode ends; PPO(normalize_reward=True) computes returns from the scaled rewards and keeps the
scaler's state in its state_dict."""
import numpy as np
import pytest

from rlframe.algos.pg import PPO
from rlframe.algos.pg.reward_scaling import RewardScaler


def test_scaled_discounted_returns_have_unit_std_whatever_the_reward_units():
    for units in (0.01, 1.0, 300.0):
        rng = np.random.default_rng(0)
        scaler, running, all_returns = RewardScaler(discount=0.9), np.zeros(4), []
        for _ in range(200):
            reward = units * rng.normal(-1.0, 0.5, size=(32, 4))
            done = rng.random((32, 4)) < 0.02
            scaled = scaler(reward, done)
            for t in range(32):  # the discounted returns, computed here independently
                running = 0.9 * running + reward[t]
                all_returns.append(running.copy())
                running[done[t]] = 0.0
        std = np.std(all_returns)
        assert np.sqrt(scaler.var) == pytest.approx(std, rel=1e-3)
        np.testing.assert_allclose(scaled, np.clip(reward / std, -10, 10), rtol=2e-3)
        assert np.std(np.asarray(all_returns) / np.sqrt(scaler.var)) == pytest.approx(1.0, rel=1e-3)


def test_returns_reset_at_done_and_carry_across_batches():
    scaler = RewardScaler(discount=0.5)
    reward = np.ones((3, 2))
    done = np.array([[False, True], [False, False], [False, False]])
    scaler(reward, done)
    # env 0 ran 3 steps without an end: 1, 1.5, 1.75; env 1 ended after step 0: 1, then 1, 1.5
    np.testing.assert_allclose(scaler.running_return, [1.75, 1.5])
    scaler(np.ones((1, 2)), np.zeros((1, 2), bool))
    np.testing.assert_allclose(scaler.running_return, [1.875, 1.75])


def test_wait_reset_blanks_are_left_out_of_the_moments():
    scaler = RewardScaler(0.9)
    reward = np.array([[1.0, 1.0], [1.0, 1000.0]])  # env 1's second slot is a blank
    scaler(reward, np.zeros((2, 2), bool), valid=np.array([[1, 1], [1, 0]], np.float32))
    valid_returns = [1.0, 1.9, 1.0]  # env 0: 1, 1.9; env 1: 1
    assert scaler.count == pytest.approx(3 + 1e-4)
    assert scaler.mean == pytest.approx(np.mean(valid_returns), rel=1e-4)


def test_state_dict_round_trip():
    scaler = RewardScaler(0.99)
    scaler(np.random.default_rng(1).normal(size=(8, 3)), np.zeros((8, 3), bool))
    other = RewardScaler(0.99)
    other.load_state_dict(scaler.state_dict())
    r = np.ones((2, 3))
    np.testing.assert_array_equal(other(r, np.zeros((2, 3), bool)), scaler(r, np.zeros((2, 3), bool)))


def test_ppo_declares_the_scaler_only_when_asked_and_saves_it():
    assert PPO().reward_scaler is None and PPO().state_dict() == {}
    algo = PPO(discount=0.9, normalize_reward=True)
    assert isinstance(algo.reward_scaler, RewardScaler) and algo.reward_scaler.discount == 0.9
    algo.reward_scaler(np.ones((4, 2)), np.zeros((4, 2), bool))
    restored = PPO(discount=0.9, normalize_reward=True)
    restored.load_state_dict(algo.state_dict())
    assert restored.reward_scaler.state_dict() == algo.reward_scaler.state_dict()
