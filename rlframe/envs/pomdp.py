"""Partially observed tasks: classic control envs with part of the observation hidden, and memory tasks.

Hiding the velocities of CartPole (observation ``[x, theta]`` instead of ``[x, x_dot, theta,
theta_dot]``) makes the task a POMDP: no function of the current observation balances the pole, an
agent must estimate the velocities from the history (the "CartPoleNoVel" task of the recurrent-PPO
literature; Hausknecht & Stone 2015 introduced the flickering/masked variants of this idea).
The recurrent agents (``rlframe.agents.pg.recurrent``, ``rlframe.agents.dqn.r2d1``) solve it, a
feed-forward agent cannot (docs/algorithms.md has the figures).

``import rlframe`` registers (``rlframe/__init__.py``, lazily: nothing here is imported until ``gymnasium.make``),
each with a ``reward_threshold`` (the eval return the launch scripts ``experiments/pomdp_*.py`` call solved):

============================  =======================  ====================================  ===========  =========
id                            wraps                    observation                           actions      threshold
============================  =======================  ====================================  ===========  =========
``rlframe/CartPolePOMDP-v1``  ``CartPole-v1``          ``[x, theta]``                        Discrete(2)  475
``rlframe/AcrobotPOMDP-v1``   ``Acrobot-v1``           ``[cos t1, sin t1, cos t2, sin t2]``  Discrete(3)  -100
``rlframe/PendulumPOMDP-v1``  ``Pendulum-v1``          ``[cos theta, sin theta]``            Box(1)       -200 (*)
``rlframe/TMaze-v0``          :class:`TMazeEnv`        ``[cue, at_junction]``                Discrete(2)  0.9
``rlframe/RepeatFirst-v0``    :class:`RepeatFirstEnv`  ``[one-hot symbol (4), is_first]``    Discrete(4)  0.9
============================  =======================  ====================================  ===========  =========

(*) CartPole's and Acrobot's thresholds are gymnasium's; Pendulum-v1 has none, -200 is rlframe's choice (the
return of a policy that swings up and holds the pendulum). The last two are **memory tasks**: the information
needed to act is shown once and must be kept for 10 steps; no feed-forward policy does better than chance
(expected return 0 for the T-maze, 0.25 for repeat-first; ``tests/envs/test_pomdp_memory.py`` checks it).
Other lengths: ``gymnasium.make("rlframe/TMaze-v0", length=50)``, ``gymnasium.make("rlframe/RepeatFirst-v0",
n_symbols=8, length=20)``.

Any other env with a 1-D ``Box`` observation is masked the same way with
``gymnasium.make("rlframe/MaskedObservation-v0", env_id="LunarLander-v3", keep=[0, 1, 4, 6, 7])``, or
with :class:`MaskObservation` around an env you built yourself.
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from rlframe.errors import ConfigError

MASKED_ID = "rlframe/MaskedObservation-v0"


class MaskObservation(gym.ObservationWrapper):
    """Keep only the entries ``keep`` of a 1-D ``Box`` observation (the others are hidden from the agent).

    Args:
        env: the env to wrap (its observation space must be a 1-D Box).
        keep: indices of the observation entries the agent sees, in that order.
    """

    def __init__(self, env: gym.Env, keep: Sequence[int]):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ConfigError(f"MaskObservation needs a 1-D Box observation space, got {space}; flatten the "
                              "observation in a wrapper first.")
        keep = np.asarray(list(keep), dtype=np.int64)
        n = space.shape[0]
        if keep.size == 0 or keep.min() < -n or keep.max() >= n:
            raise ConfigError(f"MaskObservation: keep={keep.tolist()} must be a non-empty list of indices into the "
                              f"observation of size {n}.")
        self.keep = keep
        self.observation_space = gym.spaces.Box(space.low[keep], space.high[keep], dtype=space.dtype)

    def observation(self, observation: Any) -> np.ndarray:
        return np.asarray(observation)[self.keep]


def make_masked(env_id: str, keep: Sequence[int], **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)`` (time limit included) with only the entries ``keep`` observed."""
    return MaskObservation(gym.make(env_id, **kwargs), keep)


# --- memory tasks: no function of the current observation does better than chance ------------------------------

class TMazeEnv(gym.Env):
    """T-maze (Bakker 2002, "Reinforcement Learning with Long Short-Term Memory", NIPS): a cue at the start of a
    corridor says which arm of the T at its end holds the reward.

    - observation ``[cue, at_junction]`` (float32): ``cue`` is -1 or +1 at the first step only (0 afterwards),
      ``at_junction`` is 1 at the end of the corridor, 0 before;
    - actions ``Discrete(2)``: in the corridor either action moves one cell on (reward 0); at the junction
      action 1 turns right, 0 left: +1 when the turn matches the cue (+1: right, -1: left), -1 otherwise, and the
      episode terminates. Every episode is ``length + 1`` steps long.

    Memory: the junction's observation is the same whatever the cue was, so every feed-forward policy (even a
    stochastic one) turns the right way with probability 1/2 and its expected return is exactly 0; a policy
    that remembers the cue for ``length`` steps gets 1. ``reward_threshold`` 0.9 (registered as
    ``rlframe/TMaze-v0``, ``length`` 10).
    """

    metadata: dict = {"render_modes": []}

    def __init__(self, length: int = 10):
        if int(length) < 1:
            raise ConfigError(f"TMazeEnv: length={length} must be at least 1 corridor cell, e.g. length=10.")
        self.length = int(length)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._cue = 1
        self._pos = 0

    def _obs(self) -> np.ndarray:
        cue = float(self._cue) if self._pos == 0 else 0.0
        return np.array([cue, float(self._pos == self.length)], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._cue = 1 if self.np_random.integers(2) else -1
        self._pos = 0
        return self._obs(), {}

    def step(self, action):
        if self._pos < self.length:
            self._pos += 1
            return self._obs(), 0.0, False, False, {}
        turn = 1 if int(action) == 1 else -1
        return self._obs(), (1.0 if turn == self._cue else -1.0), True, False, {}


class RepeatFirstEnv(gym.Env):
    """Repeat the first observation (after POPGym's RepeatFirst, Morad et al. 2023, ICLR): every step shows a
    random symbol out of ``n_symbols``; the agent must answer, at every step after the first, with the symbol
    shown at the first step.

    - observation ``[one-hot of the symbol (n_symbols), is_first]`` (float32);
    - actions ``Discrete(n_symbols)``; step 0 is not scored (reward 0), each of the ``length`` following steps
      gives ``1 / length`` when the action is the first symbol, 0 otherwise, so returns lie in ``[0, 1]``;
      the episode terminates after ``length + 1`` steps.

    Memory: after the first step the observation is independent of the first symbol, so every feed-forward policy
    answers right with probability ``1 / n_symbols`` per step (expected return 0.25 for 4 symbols); remembering
    one symbol for ``length`` steps among distractors gets 1. ``reward_threshold`` 0.9 (registered as
    ``rlframe/RepeatFirst-v0``, 4 symbols, ``length`` 10).
    """

    metadata: dict = {"render_modes": []}

    def __init__(self, n_symbols: int = 4, length: int = 10):
        if int(n_symbols) < 2 or int(length) < 1:
            raise ConfigError(f"RepeatFirstEnv: n_symbols={n_symbols} must be >= 2 and length={length} >= 1, "
                              "e.g. n_symbols=4, length=10.")
        self.n_symbols, self.length = int(n_symbols), int(length)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(self.n_symbols + 1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.n_symbols)
        self._first = 0
        self._t = 0

    def _obs(self, symbol: int) -> np.ndarray:
        obs = np.zeros(self.n_symbols + 1, dtype=np.float32)
        obs[symbol] = 1.0
        obs[-1] = float(self._t == 0)
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._first = int(self.np_random.integers(self.n_symbols))
        return self._obs(self._first), {}

    def step(self, action):
        reward = (1.0 / self.length if int(action) == self._first else 0.0) if self._t > 0 else 0.0
        self._t += 1
        terminated = self._t > self.length
        return self._obs(int(self.np_random.integers(self.n_symbols))), reward, terminated, False, {}
