"""Returns and advantages for policy gradients: GAE with separate termination and truncation.

Generalized Advantage Estimation (Schulman et al. 2016) over a ``[T, B]`` batch:

    next_v[t] = V(obs[t+1])                  (t < T-1, episode continues)
              = bootstrap_value[b]           (t = T-1, episode continues)
              = timeout_value[t, b]          (truncated at t: V of the true final observation)
              = 0                            (terminated at t)
    delta[t]  = r[t] + gamma * next_v[t] - V(obs[t])
    adv[t]    = delta[t] + gamma * lambda * (1 - done[t]) * adv[t+1]
    return[t] = adv[t] + V(obs[t])

Termination wins when an env reports both. The reset observation after a done is never used for
bootstrapping (the collector stores ``timeout_value`` for that; see ``samplers/base.py``).
Computed in numpy (a ``T``-step loop over ``[B]`` rows costs ~1 µs per step, far less than torch ops).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from rlframe.samplers.collectors import valid_from_done  # noqa: F401  (re-exported for algorithms)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        return x.numpy()
    return np.asarray(x)


def generalized_advantage_estimation(
    reward, value, bootstrap_value, terminated, truncated, timeout_value=None,
    discount: float = 0.99, gae_lambda: float = 0.95,
) -> Tuple[np.ndarray, np.ndarray]:
    """Return ``(advantage, return_)`` float32 arrays of shape ``[T, B]`` (see the module docstring).

    Args:
        reward, value: ``[T, B]``; ``value[t]`` is ``V(obs[t])`` from sampling time.
        bootstrap_value: ``[B]`` or ``[1, B]``: ``V(obs after the last step)``.
        terminated, truncated: ``[T, B]`` booleans (or 0/1); ``done`` is their union (wait-reset blanks,
            with ``done`` set and neither flag, count as ends without a bootstrap: they are invalid anyway).
        timeout_value: ``[T, B]``: ``V(true final observation)`` where truncated (ignored elsewhere);
            None treats truncation like termination (no bootstrap).
    """
    r = _np(reward).astype(np.float32, copy=False)
    v = _np(value).astype(np.float32, copy=False)
    T, B = r.shape[:2]
    term = _np(terminated).astype(bool, copy=False)
    trunc = _np(truncated).astype(bool, copy=False)
    done = term | trunc
    next_v = np.empty_like(v)
    next_v[:-1] = v[1:]
    next_v[-1] = _np(bootstrap_value).astype(np.float32, copy=False).reshape(B)
    if timeout_value is not None:
        tv = _np(timeout_value).astype(np.float32, copy=False)
        next_v = np.where(done, np.where(trunc & ~term, tv, 0.0), next_v).astype(np.float32, copy=False)
    else:
        next_v[done] = 0.0
    delta = r + discount * next_v - v
    carry = (discount * gae_lambda) * (~done).astype(np.float32)
    adv = np.empty_like(delta)
    last = np.zeros(B, dtype=np.float32)
    for t in range(T - 1, -1, -1):
        last = delta[t] + carry[t] * last
        adv[t] = last
    return adv, adv + v


def discounted_returns(reward, bootstrap_value, terminated, truncated, timeout_value=None,
                       discount: float = 0.99) -> np.ndarray:
    """n-step discounted returns (GAE with lambda = 1 and no baseline), ``[T, B]``."""
    zeros = np.zeros(_np(reward).shape, dtype=np.float32)
    adv, _ = generalized_advantage_estimation(reward, zeros, bootstrap_value, terminated, truncated,
                                              timeout_value, discount, 1.0)
    return adv


def explained_variance(y_pred: np.ndarray, y_true: np.ndarray, valid: Optional[np.ndarray] = None) -> float:
    """``1 - Var(y_true - y_pred) / Var(y_true)`` (nan when ``y_true`` is constant)."""
    if valid is not None:
        m = valid.astype(bool)
        y_pred, y_true = y_pred[m], y_true[m]
    var = float(np.var(y_true))
    return float("nan") if var == 0 else 1.0 - float(np.var(y_true - y_pred)) / var
