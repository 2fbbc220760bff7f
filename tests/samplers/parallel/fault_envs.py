"""Envs for the parallel-sampler tests: deterministic given their seed, with faults keyed to one seed.

Importable as ``tests.samplers.parallel.fault_envs`` so workers started with ``spawn``/``forkserver`` can
unpickle them. ``fault`` happens in the env whose seed is ``fault_seed`` once it has made ``fault_step``
steps: ``"raise"`` (ValueError), ``"hang"`` (sleeps an hour), ``"exit"`` (``os._exit(3)``), ``"shape"``
(an observation of the wrong size), ``"nan"`` (a NaN in the observation).
"""
from __future__ import annotations

import os
import time
from typing import Optional

import gymnasium as gym
import numpy as np

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.base import EnvSpaces, EnvStep

SeedInfo = namedarraytuple("SeedInfo", ["seed", "t"])


class SeedEnv:
    """Observation ``[t, noise, 1]`` (float32); ``noise`` comes from the env's seeded generator.

    Episodes are truncated after ``episode`` steps; the env info carries the env's seed (int64) and ``t``.
    ``sleep`` seconds are spent in every step (a slow env).
    """

    def __init__(self, episode: int = 7, fault: Optional[str] = None, fault_seed: Optional[int] = None,
                 fault_step: int = 3, sleep: float = 0.0, declared_size: int = 3):
        self.id = "SeedEnv-v0"
        self.spaces = EnvSpaces(
            observation=gym.spaces.Box(-np.inf, np.inf, (declared_size,), np.float32),
            action=gym.spaces.Discrete(2),
        )
        self.episode, self.fault, self.fault_seed, self.fault_step = episode, fault, fault_seed, fault_step
        self.sleep = sleep
        self._seed = -1
        self.rng = np.random.default_rng(0)
        self.t = 0
        self.total = 0

    def seed(self, seed: int) -> None:
        self._seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.spaces.action.seed(int(seed))

    def _obs(self) -> np.ndarray:
        size = 3
        if self.fault == "shape" and self._faulty():
            size = 5
        o = np.array([self.t, self.rng.normal(), 1.0] + [0.0] * (size - 3), dtype=np.float32)
        if self.fault == "nan" and self._faulty():
            o[1] = np.nan
        return o

    def _faulty(self) -> bool:
        return self._seed == self.fault_seed and self.total >= self.fault_step

    def reset(self) -> np.ndarray:
        self.t = 0
        return self._obs()

    def step(self, action) -> EnvStep:
        self.t += 1
        self.total += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self._faulty():
            if self.fault == "raise":
                raise ValueError(f"boom in env with seed {self._seed} at step {self.total}")
            if self.fault == "hang":
                time.sleep(3600)
            if self.fault == "exit":
                os._exit(3)
        truncated = self.t >= self.episode
        return EnvStep(self._obs(), 1.0 + int(action), False, truncated, SeedInfo(np.int64(self._seed), self.t))

    def close(self) -> None:
        pass
