import gymnasium as gym
import numpy as np
import torch

from rlframe.agents.random_agent import RandomAgent
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.base import EnvSpaces


def _agent(action_space, obs_space=gym.spaces.Box(-1, 1, (3,))):
    agent = RandomAgent()
    agent.initialize(EnvSpaces(obs_space, action_space))
    return agent


def test_actions_fill_the_space_for_every_kind():
    torch.manual_seed(0)
    obs = torch.zeros(64, 3)
    a = _agent(gym.spaces.Discrete(3, start=2)).step(obs, None, None).action
    assert a.shape == (64,) and set(a.tolist()) == {2, 3, 4}
    a = _agent(gym.spaces.Box(-2.0, 0.5, (2,))).step(obs, None, None).action
    assert a.shape == (64, 2) and a.min() >= -1 and a.max() <= 0.5  # infinite/wide bounds clipped to [-1, 1]
    a = _agent(gym.spaces.MultiDiscrete([2, 5])).step(obs, None, None).action
    assert a.shape == (64, 2) and (a[:, 1] < 5).all() and (a >= 0).all()
    a = _agent(gym.spaces.MultiBinary(4)).step(obs, None, None).action
    assert a.shape == (64, 4) and set(np.unique(a.numpy()).tolist()) <= {0, 1}


def test_structured_observations_give_the_batch_size():
    Obs = namedarraytuple("RandomAgentObs", ["image", "mask"])
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 1, (2, 2)), "mask": gym.spaces.MultiBinary(4)})
    agent = _agent(gym.spaces.Discrete(4), space)
    assert agent.step(Obs(None, torch.zeros(7, 4)), None, None).action.shape == (7,)
