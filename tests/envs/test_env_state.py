"""Env state for exact resume: ``Env.get_state`` / ``set_state`` (rlframe.envs.base) and GymEnv's."""
import numpy as np
import pytest

import rlframe.envs.pomdp  # noqa: F401 - registers rlframe/CartPolePOMDP-v1
from rlframe.envs import GymEnv
from rlframe.envs.base import Env, EnvSpaces, EnvStep
from rlframe.errors import EnvStateError


def _roll(env, actions):
    out = []
    for a in actions:
        o, r, te, tr, _ = env.step(a)
        out.append((np.asarray(o).copy(), r, te, tr))
        if te or tr:
            out.append(("reset", np.asarray(env.reset()).copy()))
    return out


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "rlframe/CartPolePOMDP-v1"])
def test_gym_env_continues_exactly_from_its_state(env_id):
    env = GymEnv(env_id, max_episode_steps=15)
    env.seed(3)
    env.reset()
    actions = [env.spaces.action.sample() for _ in range(40)]
    _roll(env, actions[:7])
    state = env.get_state()
    assert isinstance(state, bytes)
    expected = _roll(env, actions[7:])  # crosses episode ends: the reset draws from the env's np_random
    sample_after = env.spaces.action.sample()
    other = GymEnv(env_id, max_episode_steps=15)
    other.seed(99)
    other.reset()
    other.set_state(state)
    got = _roll(other, actions[7:])
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        for x, y in zip(e, g):
            np.testing.assert_array_equal(x, y)
    assert np.array_equal(other.spaces.action.sample(), sample_after)  # the action space's generator too
    env.close()
    other.close()


def test_gym_env_set_state_closes_the_replaced_env():
    env = GymEnv("CartPole-v1")
    env.reset()
    old = env.env
    closed = []
    old.close = lambda: closed.append(True)
    env.set_state(GymEnv("CartPole-v1").get_state())
    assert closed == [True] and env.env is not old


class PlainEnv(Env):
    """State in plain attributes: the default get_state / set_state pickle them."""

    id = "Plain-v0"

    def __init__(self):
        import gymnasium as gym

        self.spaces = EnvSpaces(gym.spaces.Box(-1, 1, (1,), np.float32), gym.spaces.Discrete(2))
        self.rng = np.random.default_rng(0)
        self.t = 0

    def reset(self):
        self.t = 0
        return np.zeros(1, np.float32)

    def step(self, action):
        self.t += 1
        return EnvStep(np.full(1, self.rng.random(), np.float32), 1.0, False, self.t >= 5, ())


def test_default_env_state_pickles_the_attributes():
    env = PlainEnv()
    env.step(0)
    state = env.get_state()
    expected = [env.step(0).observation for _ in range(3)]
    other = PlainEnv()
    other.set_state(state)
    assert [other.step(0).observation for _ in range(3)] == expected
    assert other.t == 4


def test_unpicklable_env_says_which_and_why():
    env = PlainEnv()
    env.handle = lambda: None  # e.g. a native simulator handle
    with pytest.raises(EnvStateError) as e:
        env.get_state()
    assert "Plain-v0" in str(e.value) and "pickle" in str(e.value)
