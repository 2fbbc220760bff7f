"""One torch thread (as the runners use for small networks) and a tiny continuous-control env for the QPG tests:
``RlframeTest/Reach-v0`` shows a point ``x`` in [-1, 1]; the reward is ``-(a - x)^2`` for an action ``a`` in
[-2, 2]; episodes are truncated after 4 steps (so targets bootstrap through truncation). The best policy is
``a = x`` (return 0); uniformly random actions average about -6.7 per episode."""
import gymnasium as gym
import numpy as np
import pytest


class ReachEnv(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.action_space = gym.spaces.Box(-2, 2, (1,), np.float32)

    def _new_point(self):
        self.x = self.np_random.uniform(-1, 1, size=(1,)).astype(np.float32)
        return self.x.copy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._new_point(), {}

    def step(self, action):
        reward = -float((np.asarray(action, np.float32)[0] - self.x[0]) ** 2)
        return self._new_point(), reward, False, False, {}


if "RlframeTest/Reach-v0" not in gym.registry:
    gym.register("RlframeTest/Reach-v0", entry_point=ReachEnv, max_episode_steps=4)


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):  # tests/conftest.py
    yield
