"""A cheaper ``torch.no_grad`` decorator for functions called many times per batch (agents' per-step calls, the
closed-form PPO step's model passes and optimiser step)."""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch


def no_grad(fn: Callable) -> Callable:
    """``torch.no_grad()`` as a decorator: the same result, but when autograd is already off (collectors turn it
    off once per batch, PPO's closed-form path once per iteration) the call goes straight through instead of
    entering a new context (~1.5-4 µs per call with torch's)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            return fn(*args, **kwargs)
        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper
