"""Atari 2600 games (the Arcade Learning Environment, Bellemare et al. 2013, through ``ale-py``) with the
usual DQN preprocessing (Mnih et al. 2015; Machado et al. 2018 for the evaluation protocol).

Install the optional extra: ``pip install -e .[atari]`` (``ale-py`` ships the ROMs).

:class:`AtariEnv` is a :class:`~rlframe.envs.gym.GymEnv` over an ALE id (``"ALE/Pong-v5"``, ``"ALE/Breakout-v5"``,
...) made with ``frameskip=1`` and grey frames, wrapped in this order:

1. :class:`NoopReset`: up to ``noop_max`` random no-ops after each reset (varied starts).
2. :class:`MaxAndSkip`: each action repeated ``frame_skip`` times, rewards summed, the observation the
   pixel-wise max of the last two frames (flicker).
3. :class:`FireReset`: press FIRE after a reset in games that need it (when FIRE is an action).
4. :class:`EpisodicLife` (optional, ``episodic_life``): a lost life ends the episode for learning
   (``terminated``) while the game goes on; a real reset happens only at game over.
5. :class:`ResizeFrame`: the 210x160 grey frame area-averaged (OpenCV's INTER_AREA) to ``screen_size`` x ``screen_size``.
6. :class:`ClipReward` (``clip_reward``): rewards replaced by their sign.
7. ``gymnasium.wrappers.FrameStackObservation``: the last ``frame_stack`` frames, ``uint8 [4, 84, 84]``.

The frames of consecutive observations overlap; a frame replay (``rlframe.replays``) stores each frame once.
"""
from __future__ import annotations

import functools
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch

from rlframe.envs.gym import GymEnv
from rlframe.errors import ConfigError


def register_ale() -> None:
    """Register the ``ALE/...`` ids with gymnasium; a clear error when ``ale-py`` is missing."""
    try:
        import ale_py
    except ImportError:
        raise ConfigError("Atari envs need the optional extra 'atari' (the ale-py package): "
                          "pip install -e '.[atari]'  (or: pip install ale-py).") from None
    gym.register_envs(ale_py)


class NoopReset(gym.Wrapper):
    """After ``reset``, a uniform number in ``[1, noop_max]`` of NOOP actions (action 0)."""

    def __init__(self, env: gym.Env, noop_max: int = 30):
        super().__init__(env)
        self.noop_max = int(noop_max)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        n = int(self.unwrapped.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(n):
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class FireReset(gym.Wrapper):
    """Press FIRE (action 1) after a reset, for games that wait for it (Breakout, ...)."""

    def reset(self, **kwargs):
        self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self.env.step(1)
        if terminated or truncated:
            obs, info = self.env.reset(**kwargs)
        return obs, info


class MaxAndSkip(gym.Wrapper):
    """Repeat each action ``skip`` times; reward summed; observation = max of the last two frames."""

    def __init__(self, env: gym.Env, skip: int = 4):
        super().__init__(env)
        self.skip = int(skip)

    def step(self, action):
        total = 0.0
        prev = obs = None
        for _ in range(self.skip):
            prev = obs
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return (obs if prev is None else np.maximum(prev, obs)), total, terminated, truncated, info


class EpisodicLife(gym.Wrapper):
    """A lost life is ``terminated`` for the learner; ``reset`` then continues the same game (one NOOP)
    unless the game is over. ``info["game_over"]`` tells the two apart."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = bool(terminated or truncated)
        lives = self.unwrapped.ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        info = dict(info, game_over=self.game_over)
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs):
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = self.unwrapped.ale.lives()
        return obs, info


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights averaging, for each output pixel, the input interval it covers (fractional
    overlaps weighted): ``W @ x`` resizes a 1-d signal like OpenCV's INTER_AREA."""
    scale = n_in / n_out
    w = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
            w[i, j] = min(hi, j + 1) - max(lo, j)
    return w / w.sum(axis=1, keepdims=True)


class ResizeFrame(gym.ObservationWrapper):
    """Grey ``[H, W]`` uint8 frames area-averaged to ``[size, size]`` (two small matmuls: ``Wh @ frame @ Ww^T``).

    The matmuls run in torch, whose thread count rlframe sets per process (samplers' affinity), rather than in
    numpy's BLAS, whose own threads slow a loaded machine down by 10x or more.
    """

    def __init__(self, env: gym.Env, size: int = 84):
        super().__init__(env)
        self.size = int(size)
        h, w = env.observation_space.shape
        self._wh = torch.from_numpy(area_matrix(h, self.size))
        self._ww_t = torch.from_numpy(area_matrix(w, self.size).T.copy())
        self.observation_space = gym.spaces.Box(0, 255, (self.size, self.size), np.uint8)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        y = self._wh @ torch.from_numpy(np.ascontiguousarray(frame)).float() @ self._ww_t
        return y.round_().to(torch.uint8).numpy()


class ClipReward(gym.RewardWrapper):
    """Rewards replaced by their sign (-1, 0, 1), as in DQN's training."""

    def reward(self, reward: float) -> float:
        return float(np.sign(reward))


def wrap_atari(env: gym.Env, noop_max: int = 30, frame_skip: int = 4, episodic_life: bool = False,
               fire_reset: bool = True, screen_size: int = 84, clip_reward: bool = True,
               frame_stack: int = 4) -> gym.Env:
    """The wrappers of the module docstring around an ALE env made with ``frameskip=1, obs_type="grayscale"``."""
    if len(env.observation_space.shape) != 2:
        raise ConfigError(f"wrap_atari needs grey frames [H, W] (make the ALE env with obs_type='grayscale'), "
                          f"got observation space {env.observation_space}.")
    if noop_max > 0:
        env = NoopReset(env, noop_max)
    if frame_skip > 1:
        env = MaxAndSkip(env, frame_skip)
    if episodic_life:
        env = EpisodicLife(env)
    if fire_reset and "FIRE" in env.unwrapped.get_action_meanings():
        env = FireReset(env)
    env = ResizeFrame(env, screen_size)
    if clip_reward:
        env = ClipReward(env)
    if frame_stack > 1:
        env = gym.wrappers.FrameStackObservation(env, frame_stack)
    return env


class AtariEnv(GymEnv):
    """An ALE game with DQN's preprocessing (see the module docstring), following rlframe's env contract.

    Args:
        id: an ALE id, e.g. ``"ALE/Pong-v5"`` (or ``"module:EnvId"`` for another ALE-based id).
        seed: optional seed of the first reset.
        repeat_action_probability: sticky actions (Machado et al. 2018 recommend 0.25; DQN used 0).
        max_episode_steps: agent steps (after frame skipping) before truncation; None: the game's limit.
        noop_max, frame_skip, episodic_life, fire_reset, screen_size, clip_reward, frame_stack: see :func:`wrap_atari`.
        **kwargs: passed to ``gymnasium.make`` for the ALE env.
    """

    def __init__(self, id: str = "ALE/Pong-v5", seed: Optional[int] = None, repeat_action_probability: float = 0.0,
                 max_episode_steps: Optional[int] = 27_000, noop_max: int = 30, frame_skip: int = 4,
                 episodic_life: bool = False, fire_reset: bool = True, screen_size: int = 84,
                 clip_reward: bool = True, frame_stack: int = 4, **kwargs: Any):
        register_ale()
        wrap = functools.partial(wrap_atari, noop_max=noop_max, frame_skip=frame_skip, episodic_life=episodic_life,
                                 fire_reset=fire_reset, screen_size=screen_size, clip_reward=clip_reward,
                                 frame_stack=frame_stack)
        make_kwargs = dict(frameskip=1, obs_type="grayscale", repeat_action_probability=repeat_action_probability,
                           **kwargs)
        wrappers = [wrap]
        if max_episode_steps is not None:
            wrappers.append(functools.partial(gym.wrappers.TimeLimit, max_episode_steps=int(max_episode_steps)))
        super().__init__(id, seed, wrappers=wrappers, **make_kwargs)
