"""The partially observed control tasks of rlframe.envs.pomdp, registered on ``import rlframe``."""
import gymnasium as gym
import numpy as np
import pytest

import rlframe  # noqa: F401  (registers the ids)
from rlframe.envs import GymEnv
from rlframe.envs.pomdp import MaskObservation, make_masked
from rlframe.errors import ConfigError


def test_cartpole_pomdp_observes_position_and_angle_only():
    env = gym.make("rlframe/CartPolePOMDP-v1")
    assert env.observation_space.shape == (2,) and env.action_space == gym.spaces.Discrete(2)
    obs, _ = env.reset(seed=3)
    for _ in range(5):
        state = np.asarray(env.unwrapped.state, dtype=np.float32)
        np.testing.assert_allclose(obs, state[[0, 2]])  # x and theta; x_dot and theta_dot hidden
        obs, *_ = env.step(env.action_space.sample())


def test_cartpole_pomdp_keeps_the_500_step_limit():
    env = gym.make("rlframe/CartPolePOMDP-v1")
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        env.unwrapped.state = np.zeros(4)  # upright and still: only the time limit ends the episode
        _, _, terminated, truncated, _ = env.step(0)
        steps += 1
        assert not terminated
    assert steps == 500


@pytest.mark.parametrize("env_id, shape, space", [("rlframe/AcrobotPOMDP-v1", (4,), gym.spaces.Discrete),
                                                  ("rlframe/PendulumPOMDP-v1", (2,), gym.spaces.Box)])
def test_other_pomdp_tasks(env_id, shape, space):
    env = GymEnv(env_id)
    assert env.spaces.observation.shape == shape and isinstance(env.spaces.action, space)
    assert env.reset().shape == shape


def test_masked_observation_of_any_box_env():
    env = gym.make("rlframe/MaskedObservation-v0", env_id="CartPole-v1", keep=[2])
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1,) and obs[0] == np.float32(env.unwrapped.state[2])
    assert make_masked("Pendulum-v1", [0, 1]).observation_space.shape == (2,)


def test_masking_errors_say_what_to_change():
    with pytest.raises(ConfigError, match="keep"):
        MaskObservation(gym.make("CartPole-v1"), [4])
    with pytest.raises(ConfigError, match="1-D Box"):
        MaskObservation(gym.make("FrozenLake-v1"), [0])
