"""Memory tasks that rlframe does not ship: the "outside" tasks the POMDP launch scripts are checked on
(``--env tests.envs.outside_memory_tasks:Outside/NoisyTMaze-v0``; registered on import, like
``tests/envs/gym_test_envs.py``). Neither script's settings were chosen on them.

- ``Outside/NoisyTMaze-v0`` (``Discrete(2)``): a T-maze whose corridor length is drawn per episode (5 to 15
  cells) and whose corridor shows a uniform distractor in the cue's channel at every step, so neither a step count
  nor "the last strong signal" finds the cue: only the first observation of the episode holds it.
- ``Outside/CueRecall-v0`` (``Box(1)`` actions): a value shown at the first step must be reproduced as the action
  at each of the next 10 steps, among distractors drawn from the same distribution.

No function of the current observation does better than chance on either (expected return 0 and -0.5; see the
classes); ``tests/test_pomdp_experiments.py`` checks it and runs the scripts on them.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


class NoisyTMazeEnv(gym.Env):
    """T-maze with a distractor-filled corridor of random length.

    - observation ``[signal, at_junction]`` (float32): at the first step ``signal`` is the cue, -1 or +1; in the
      corridor it is uniform noise in [-1, 1]; at the junction it is 0 and ``at_junction`` is 1;
    - actions ``Discrete(2)``: ignored in the corridor (reward 0); at the junction 1 turns right, 0 left: +1 when
      the turn matches the cue (+1: right), -1 otherwise, and the episode terminates.
    - the corridor has ``min_length`` to ``max_length`` cells (uniform per episode).

    The junction looks the same whatever the cue, so every feed-forward policy scores 0 in expectation;
    ``reward_threshold`` 0.9.
    """

    metadata: dict = {"render_modes": []}

    def __init__(self, min_length: int = 5, max_length: int = 15):
        self.min_length, self.max_length = int(min_length), int(max_length)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._cue, self._pos, self._length = 1, 0, self.min_length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._cue = 1 if self.np_random.integers(2) else -1
        self._length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        self._pos = 0
        return np.array([self._cue, 0.0], dtype=np.float32), {}

    def step(self, action):
        if self._pos < self._length:
            self._pos += 1
            if self._pos == self._length:
                return np.array([0.0, 1.0], dtype=np.float32), 0.0, False, False, {}
            return np.array([self.np_random.uniform(-1, 1), 0.0], dtype=np.float32), 0.0, False, False, {}
        turn = 1 if int(action) == 1 else -1
        return np.array([0.0, 1.0], dtype=np.float32), (1.0 if turn == self._cue else -1.0), True, False, {}


class CueRecallEnv(gym.Env):
    """Reproduce a value seen once, with continuous actions.

    - observation ``[value, is_first]`` (float32): at the first step ``value`` is the cue ``c ~ U[-1, 1]`` and
      ``is_first`` 1; afterwards ``value`` is a fresh distractor from the same distribution and ``is_first`` 0;
    - actions ``Box(-1, 1, (1,))``: the first step is not scored; each of the ``length`` following steps gives
      ``-|a - c| / length``; the episode terminates after ``length + 1`` steps (returns in [-2, 0]).

    After the first step the observation says nothing about ``c``, so the best feed-forward policy answers 0
    and expects ``-E|c| = -0.5``; a policy that keeps ``c`` gets 0. ``reward_threshold`` -0.2 (an answer within
    0.2 of the cue on average).
    """

    metadata: dict = {"render_modes": []}

    def __init__(self, length: int = 10):
        self.length = int(length)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._cue, self._t = 0.0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._cue, self._t = float(self.np_random.uniform(-1, 1)), 0
        return np.array([self._cue, 1.0], dtype=np.float32), {}

    def step(self, action):
        a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        reward = -abs(a - self._cue) / self.length if self._t > 0 else 0.0
        self._t += 1
        obs = np.array([self.np_random.uniform(-1, 1), 0.0], dtype=np.float32)
        return obs, reward, self._t > self.length, False, {}


for _id, _entry, _threshold in (("Outside/NoisyTMaze-v0", NoisyTMazeEnv, 0.9),
                                ("Outside/CueRecall-v0", CueRecallEnv, -0.2)):
    if _id not in gym.registry:
        gym.register(_id, entry_point=_entry, reward_threshold=_threshold)
