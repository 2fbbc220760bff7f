"""Partially observed control tasks: classic envs with part of the observation hidden.

Hiding the velocities of CartPole (observation ``[x, theta]`` instead of ``[x, x_dot, theta,
theta_dot]``) makes the task a POMDP: no function of the current observation balances the pole, an
agent must estimate the velocities from the history (the "CartPoleNoVel" task of the recurrent-PPO
literature; Hausknecht & Stone 2015 introduced the flickering/masked variants of this idea).
The recurrent agents (``rlframe.agents.pg.recurrent``, ``rlframe.agents.dqn.r2d1``) solve it, a
feed-forward agent cannot (docs/algorithms.md has the figures).

``import rlframe`` registers (``rlframe/__init__.py``, lazily: nothing here is imported until ``gymnasium.make``):

==========================  ===============  ===================================  ============
id                          wraps            observation kept                      actions
==========================  ===============  ===================================  ============
``rlframe/CartPolePOMDP-v1``  ``CartPole-v1``  ``[x, theta]``                        Discrete(2)
``rlframe/AcrobotPOMDP-v1``   ``Acrobot-v1``   ``[cos t1, sin t1, cos t2, sin t2]``  Discrete(3)
``rlframe/PendulumPOMDP-v1``  ``Pendulum-v1``  ``[cos theta, sin theta]``            Box(1)
==========================  ===============  ===================================  ============

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
