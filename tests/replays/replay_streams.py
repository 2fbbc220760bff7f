"""Hand-built sampler batches for replay tests: every observation encodes (env, absolute time), so a
sampled transition can be checked against a reference computed from the whole stream."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from rlframe.samplers.base import AgentSamples, EnvSamples, Samples

OBS_DIM = 2
BLANK = -7.0


def obs_code(b: int, tau: int) -> float:
    return 1000.0 * b + tau


def examples(obs_shape=(OBS_DIM,), obs_dtype=np.float32) -> dict:
    return dict(observation=np.zeros(obs_shape, dtype=obs_dtype), action=np.int64(0), prev_action=np.int64(0),
                reward=np.float32(0), agent_info=None)


@dataclass
class Stream:
    """The whole time line of B envs: reset-collector semantics (the step after a done starts a new
    episode), final observations ``-code`` where an episode ended."""

    obs: np.ndarray  # [N, B, OBS_DIM]
    final: np.ndarray  # [N, B, OBS_DIM]
    action: np.ndarray
    prev_action: np.ndarray
    reward: np.ndarray
    prev_reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    blank: np.ndarray  # wait-reset blank slots

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated | self.blank

    def batch(self, t0: int, T: int, with_final: bool = True):
        s = slice(t0, t0 + T)
        agent = AgentSamples(action=self.action[s], prev_action=self.prev_action[s], agent_info=None)
        env = EnvSamples(observation=self.obs[s], reward=self.reward[s], prev_reward=self.prev_reward[s],
                          terminated=self.terminated[s], truncated=self.truncated[s], done=self.done[s],
                          timeout_value=np.zeros(self.reward[s].shape, np.float32), env_info=None,
                          final_observation=self.final[s] if with_final else None)
        return Samples(agent, env)

    def reference(self, tau: int, b: int, n: int, gamma: float):
        """(return, bootstrap_discount, target obs code) of the transition at (tau, b)."""
        G = 0.0
        for k in range(n):
            G += gamma ** k * self.reward[tau + k, b]
            if self.terminated[tau + k, b]:
                return G, 0.0, None
            if self.truncated[tau + k, b]:
                return G, gamma ** (k + 1), self.final[tau + k, b, 0]
        return G, gamma ** n, self.obs[tau + n, b, 0]


def make_stream(N: int, B: int, seed: int = 0, p_term: float = 0.08, p_trunc: float = 0.08,
                wait_reset_T: Optional[int] = None) -> Stream:
    """``N`` steps of ``B`` envs. With ``wait_reset_T``, an env whose episode ends mid-batch (batches of
    that many steps) idles in blank slots until the batch ends (wait-reset collector)."""
    rng = np.random.default_rng(seed)
    shape = (N, B)
    obs = np.zeros(shape + (OBS_DIM,), np.float32)
    final = np.zeros_like(obs)
    action = rng.integers(0, 4, size=shape).astype(np.int64)
    reward = rng.normal(size=shape).astype(np.float32)
    u = rng.random(shape)
    terminated = u < p_term
    truncated = (u >= p_term) & (u < p_term + p_trunc)
    blank = np.zeros(shape, bool)
    if wait_reset_T:
        for b in range(B):
            for t0 in range(0, N, wait_reset_T):
                ends = np.nonzero(terminated[t0:t0 + wait_reset_T, b] | truncated[t0:t0 + wait_reset_T, b])[0]
                if ends.size:
                    first = t0 + ends[0]
                    rest = slice(first + 1, t0 + wait_reset_T)
                    blank[rest, b] = True
                    terminated[rest, b] = truncated[rest, b] = False
    for b in range(B):
        for tau in range(N):
            obs[tau, b] = BLANK if blank[tau, b] else obs_code(b, tau)
            final[tau, b] = -obs_code(b, tau) if (terminated[tau, b] or truncated[tau, b]) else 0.0
    reward[blank] = 0.0
    done = terminated | truncated | blank
    prev_action = np.zeros_like(action)
    prev_reward = np.zeros_like(reward)
    prev_action[1:] = np.where(done[:-1], 0, action[:-1])
    prev_reward[1:] = np.where(done[:-1], 0.0, reward[:-1])
    return Stream(obs, final, action, prev_action, reward, prev_reward, terminated, truncated, blank)


def decode(observation: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute times of sampled observations."""
    return (np.asarray(observation)[:, 0] - 1000.0 * np.asarray(b)).astype(np.int64)


def fill(replay, stream: Stream, T: int, n_batches: int, t0: int = 0) -> List[int]:
    for i in range(n_batches):
        replay.append_samples(stream.batch(t0 + i * T, T))
    return [t0 + n_batches * T]
