"""Always-on NaN/inf checks of what an algorithm computes anyway (losses, gradient norms, batch statistics).

Validating every env step (the samplers' ``debug=True``) costs time on every step, so it stays a switch;
these checks cost a few microseconds per iteration, so every algorithm runs them: the first non-finite
value stops training with :class:`~rlframe.errors.NonFiniteError` naming the quantity, the iteration and
the env steps, and pointing at ``--debug`` to find the env step that produced it. They run before the
optimiser step, so the weights (and the checkpoints, see ``logging.checkpoint``) stay finite.

Policy-gradient algorithms call :func:`check_finite` on rewards, value estimates, advantages and returns
(``algos.pg.base.PolicyGradientAlgo.process_returns``) and on the gradient norm before each step
(``_clip_and_step``); other algorithms call it on their own losses and targets.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from rlframe.errors import NonFiniteError

DEBUG_HINT = ("To find the env step that produced it, rerun with --debug (the scripts) or debug=True (any sampler): "
              "every observation, reward and action is then validated and the first non-finite one is named with "
              "its env and step. If the env's values are finite, lower the learning rate or scale the rewards.")


def _first_bad(value: Any) -> Optional[float]:
    """The first non-finite entry of ``value`` (number, numpy array or tensor), None when all are finite."""
    if isinstance(value, torch.Tensor):
        if value.dtype.is_floating_point and not bool(torch.isfinite(value).all()):
            return float(value.detach().reshape(-1)[~torch.isfinite(value.detach().reshape(-1))][0])
        return None
    if isinstance(value, (float, int)):
        return None if math.isfinite(value) else float(value)
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return float(arr.reshape(-1)[~np.isfinite(arr.reshape(-1))][0])
    return None


def env_step_range(itr: int, batch_size: Optional[int]) -> str:
    if not batch_size:
        return ""
    return f" (env steps {itr * batch_size:,d} to {(itr + 1) * batch_size:,d})"


def check_finite(quantity: str, value: Any, itr: int, batch_size: Optional[int] = None, who: str = "",
                 detail: str = "") -> None:
    """Raise :class:`NonFiniteError` if ``value`` holds NaN or inf.

    Args:
        quantity: what ``value`` is, as the user should read it ("gradient norm", "advantages").
        itr: the training iteration; ``batch_size``: env steps per iteration (to name the env steps).
        who: the algorithm's name; ``detail``: a sentence on what this quantity depends on.
    """
    bad = _first_bad(value)
    if bad is None:
        return
    kind = "NaN" if math.isnan(bad) else ("+inf" if bad > 0 else "-inf")
    prefix = f"{who}: " if who else ""
    steps = env_step_range(itr, batch_size)
    raise NonFiniteError(
        f"{prefix}{quantity} is {kind} in iteration {itr}{steps}; training stopped before this update was "
        f"applied, so the weights and the last checkpoint stay finite.{' ' + detail if detail else ''} {DEBUG_HINT}",
        quantity=quantity, itr=itr, env_steps=None if not batch_size else (itr + 1) * batch_size,
    )
