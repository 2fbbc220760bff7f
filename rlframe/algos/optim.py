"""Lean optimiser pieces for small networks, where Python overhead, not arithmetic, bounds a step.

- :class:`FastAdam`: ``torch.optim.Adam(fused=True)`` (same maths, same ``state_dict``) whose
  ``step`` goes straight to torch's fused Adam kernel after the first call, skipping the optimiser
  wrapper's hooks, profiler records and per-step grouping (about a third of a CartPole PPO step's
  optimiser time). Any unusual situation (missing gradients, ``amsgrad``, a closure, mixed devices or
  dtypes) falls back to ``torch.optim.Adam.step``.
- :func:`clip_grad_norm`: ``torch.nn.utils.clip_grad_norm_`` (global L2 norm, ``foreach``) without its
  decorator overhead; returns the norm before clipping.
"""
from __future__ import annotations

from typing import Iterable, List, Optional

import torch


def clip_grad_norm(params: List[torch.Tensor], max_norm: Optional[float]) -> torch.Tensor:
    """Global L2 norm of the gradients of ``params`` (those that have one); when ``max_norm`` is set,
    scale them in place so that the norm is at most ``max_norm`` (``torch.nn.utils.clip_grad_norm_``'s
    rule: coefficient ``max_norm / (norm + 1e-6)`` clamped to 1)."""
    with torch.no_grad():
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if max_norm is not None:
            coef = (total + 1e-6).reciprocal_().mul_(max_norm).clamp_(max=1.0)
            torch._foreach_mul_(grads, coef)
    return total


class FastAdam(torch.optim.Adam):
    """Adam with a low-overhead ``step`` (see the module docstring); construct it like ``torch.optim.Adam``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, **kwargs):
        kwargs.setdefault("fused", _fused_supported())
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, **kwargs)
        self._cache = None

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._cache = None

    def _build_cache(self):
        cache = []
        for group in self.param_groups:
            if group.get("amsgrad") or not group.get("fused") or group.get("maximize") \
                    or group.get("differentiable") or group.get("decoupled_weight_decay", False):
                return None
            params = [p for p in group["params"]]
            states = [self.state.get(p) for p in params]
            if any(not s or "exp_avg" not in s for s in states):
                return None
            if len({(p.device, p.dtype) for p in params}) > 1:
                return None
            # One step counter for the group, each parameter's state["step"] a 0-d view of it: one add_ per
            # step instead of a (CPU: per-tensor) foreach add (the counts are equal: same group, same steps).
            if len({float(s["step"]) for s in states}) > 1:
                return None
            counter = torch.full((len(params),), float(states[0]["step"]), dtype=states[0]["step"].dtype,
                                 device=states[0]["step"].device)
            for i, s in enumerate(states):
                s["step"] = counter[i]
            cache.append((group, params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                          [s["step"] for s in states], counter))
        return cache

    def step(self, closure=None):
        if closure is not None or self._cache is None:
            loss = super().step(closure)
            self._cache = self._build_cache()
            return loss
        with torch.no_grad():
            for group, params, exp_avgs, exp_avg_sqs, steps, counter in self._cache:
                grads = [p.grad for p in params]
                if any(g is None for g in grads):
                    self._cache = None
                    return super().step()
                beta1, beta2 = group["betas"]
                counter.add_(1)
                torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                                   beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                                   maximize=False, grad_scale=None, found_inf=None)
        return None


def _fused_supported() -> bool:
    return hasattr(torch, "_fused_adam_")
