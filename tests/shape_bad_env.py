"""A gymnasium env that declares observation shape (461,) but emits (365,): rlpyt's classic
``size mismatch, m1: [1 x 365], m2: [461 x 32]`` scenario. Importing this module registers
``shape_bad_env:Bad-v0`` (and ``Good461-v0`` / ``Good365-v0``, consistent envs of both sizes, for checkpoint tests)."""
import gymnasium as gym
import numpy as np


class ShapeEnv(gym.Env):
    def __init__(self, declared=461, emitted=365):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (declared,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.emitted = emitted
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(self.emitted, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(self.emitted, np.float32), 1.0, self.t >= 10, False, {}


gym.register("Bad-v0", entry_point=ShapeEnv, kwargs=dict(declared=461, emitted=365), max_episode_steps=50)
gym.register("Good461-v0", entry_point=ShapeEnv, kwargs=dict(declared=461, emitted=461), max_episode_steps=50)
gym.register("Good365-v0", entry_point=ShapeEnv, kwargs=dict(declared=365, emitted=365), max_episode_steps=50)
