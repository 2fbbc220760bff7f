"""Reward scaling for policy gradients: rewards divided by the running standard deviation of the discounted return.

The value head and the advantages of PPO/A2C live in the units of the rewards. Envs whose returns run into the
hundreds (Pendulum: about -16 per step; Acrobot: -1 per step for up to 500 steps) give value losses and gradient
norms hundreds of times those of the policy, so the global gradient-norm clip shrinks the policy's step with
them. Scaling each reward by ``1 / std(R)``, where ``R_t = gamma R_{t-1} + r_t`` is the discounted return so far
of the reward's env (reset at episode ends) and ``std`` its running standard deviation over all the returns seen,
keeps value targets of order one whatever the env's reward units. This is SB3's ``VecNormalize(norm_reward=True)``
(no mean subtraction; clipped to ``+-clip``), the "reward scaling" of Engstrom et al. 2020 ("Implementation
Matters in Deep Policy Gradients", ICLR), done inside the algorithm so that every sampler and the logged
(unscaled) returns stay as they are. ``PPO(normalize_reward=True)`` turns it on (``rlframe/algos/pg/base.py``).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np


class RewardScaler:
    """Running ``std`` of per-env discounted returns and the rewards divided by it (module docstring).

    Args:
        discount: gamma of the discounted return (the algorithm's).
        clip: scaled rewards are clipped to ``[-clip, clip]`` (SB3's ``clip_reward``).
        epsilon: added to the variance before the square root.
    """

    def __init__(self, discount: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.discount, self.clip, self.epsilon = float(discount), float(clip), float(epsilon)
        self.running_return = None  # [B] discounted return so far of each env, carried across batches
        self.count, self.mean, self.var = 1e-4, 0.0, 1.0  # running moments of the returns (Chan et al.'s update)

    def __call__(self, reward: np.ndarray, done: np.ndarray, valid: Any = None) -> np.ndarray:
        """``reward [T, B] / std`` (float32), after updating the moments with this batch's returns; ``done``
        ``[T, B]`` resets an env's return after its step; ``valid`` (``[T, B]`` or None) leaves out wait-reset
        blanks."""
        reward = np.asarray(reward, dtype=np.float64)
        done = np.asarray(done, dtype=bool)
        T, B = reward.shape[:2]
        if self.running_return is None or self.running_return.shape[0] != B:
            self.running_return = np.zeros(B)
        returns = np.empty((T, B))
        for t in range(T):
            self.running_return = self.running_return * self.discount + reward[t]
            returns[t] = self.running_return
            self.running_return[done[t]] = 0.0
        self._update(returns if valid is None else returns[np.asarray(valid, dtype=bool)])
        scaled = reward / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def _update(self, x: np.ndarray) -> None:
        x = x.reshape(-1)
        if x.size == 0:
            return
        batch_mean, batch_var, n = float(x.mean()), float(x.var()), x.size
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta ** 2 * self.count * n / total) / total
        self.count = total

    def state_dict(self) -> Dict[str, Any]:
        """The running moments and each env's return so far (what a resume needs)."""
        return dict(count=self.count, mean=self.mean, var=self.var,
                    running_return=None if self.running_return is None else self.running_return.tolist())

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.count, self.mean, self.var = float(state["count"]), float(state["mean"]), float(state["var"])
        r = state.get("running_return")
        self.running_return = None if r is None else np.asarray(r, dtype=np.float64)
