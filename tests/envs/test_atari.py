"""Atari preprocessing: the pure parts always; the ALE env itself when the 'atari' extra (ale-py) is installed."""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.envs.atari import MaxAndSkip, area_matrix


def test_area_matrix_is_inter_area():
    w = area_matrix(6, 3)  # integer factor: plain 2-pixel means
    assert np.allclose(w, np.kron(np.eye(3), [0.5, 0.5]))
    w = area_matrix(5, 2)  # factor 2.5: pixel 2 split half/half
    assert np.allclose(w, np.array([[1, 1, 0.5, 0, 0], [0, 0, 0.5, 1, 1]]) / 2.5)
    assert np.allclose(area_matrix(210, 84).sum(1), 1.0)


class _CountingEnv(gym.Env):
    """Observation = [t, t] after t steps; reward 1 per step; terminates after ``n`` steps."""

    def __init__(self, n=6):
        self.observation_space = gym.spaces.Box(0, 255, (2,), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.n = n

    def reset(self, seed=None, options=None):
        self.t = 0
        return np.zeros(2, np.uint8), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, 10 - self.t], np.uint8)  # max over two frames differs per component
        return obs, 1.0, self.t >= self.n, False, {}


def test_max_and_skip_sums_rewards_and_maxes_last_two_frames():
    env = MaxAndSkip(_CountingEnv(n=6), skip=4)
    env.reset()
    obs, r, term, trunc, _ = env.step(0)
    assert r == 4.0 and not term and obs.tolist() == [4, 7]  # frames 3 and 4: max(3,4), max(7,6)
    obs, r, term, _, _ = env.step(0)  # terminates after 2 more frames
    assert r == 2.0 and term and obs.tolist() == [6, 5]


def test_atari_env_preprocessing():
    pytest.importorskip("ale_py")
    from rlframe.envs.atari import AtariEnv

    env = AtariEnv("ALE/Pong-v5", seed=0, max_episode_steps=50)
    assert env.spaces.observation.shape == (4, 84, 84) and env.spaces.observation.dtype == np.uint8
    obs = env.reset()
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    rewards, steps = set(), 0
    while True:
        step = env.step(env.spaces.action.sample())
        steps += 1
        rewards.add(step.reward)
        if step.terminated or step.truncated:
            break
    assert step.truncated and steps == 50
    assert rewards <= {-1.0, 0.0, 1.0}
    # the newest frame enters last; the older ones shift down
    nxt = env.step(0).observation
    assert np.array_equal(nxt[:3], step.observation[1:])
    env.close()
