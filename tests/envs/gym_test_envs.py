"""Small gymnasium envs for tests, registered on import (so ``"tests.envs.gym_test_envs:<id>"`` works)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np


class DictObsEnv(gym.Env):
    """Dict observation (``pos`` Box(2), ``mask`` MultiBinary(3)), Discrete(3) actions, rich infos.

    Info keys: ``cost`` (float, missing on odd steps), ``count`` (int), ``vec`` (array(2)),
    ``name`` (a string: dropped), ``late`` (first appears at step 2: dropped), ``episode`` (a dict: dropped).
    Has ``action_masks()``. Records the Python type of every action it receives.
    """

    def __init__(self, size: int = 2):
        self.observation_space = gym.spaces.Dict(
            {"pos": gym.spaces.Box(-10, 10, (size,), np.float32), "mask": gym.spaces.MultiBinary(3)}
        )
        self.action_space = gym.spaces.Discrete(3)
        self.t = 0
        self.action_types = []

    def _obs(self):
        return {"pos": np.full(self.observation_space["pos"].shape, self.t, np.float32),
                "mask": np.array([1, 0, 1], np.int8)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {"reset_only": 1}

    def step(self, action):
        self.action_types.append(type(action))
        self.t += 1
        info = {"count": self.t, "vec": np.array([self.t, -self.t], np.float32), "name": "x",
                "episode": {"r": 1.0}}
        if self.t % 2 == 1:
            info["cost"] = 0.5 * self.t
        if self.t >= 2:
            info["late"] = 1.0
        return self._obs(), float(self.t), self.t >= 6, False, info

    def action_masks(self):
        return np.array([True, False, True])


class NoisyEnv(gym.Env):
    """Box(3) observation drawn from the env's own RNG (to test seeding)."""

    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        assert isinstance(action, np.ndarray) and action.dtype == np.float32
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), 0.0, False, False, {}


class CountEnv(gym.Env):
    """Observation ``[t]`` (steps since reset); never terminates (a TimeLimit truncates it)."""

    observation_space = gym.spaces.Box(0, np.inf, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, False, False, {"t": self.t}


for _id, _entry, _steps in (("RlframeTest/DictObs-v0", DictObsEnv, 4), ("RlframeTest/Noisy-v0", NoisyEnv, 3),
                            ("RlframeTest/Count-v0", CountEnv, 4)):
    if _id not in gym.registry:
        gym.register(_id, entry_point=_entry, max_episode_steps=_steps)
