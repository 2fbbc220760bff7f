"""Lean optimiser pieces for small networks, where Python overhead, not arithmetic, bounds a step.

- :class:`FastAdam`: ``torch.optim.Adam(fused=True)`` (same maths, same ``state_dict``) whose
  ``step`` goes straight to torch's fused Adam kernel after the first call, skipping the optimiser
  wrapper's hooks, profiler records and per-step grouping (about a third of a CartPole PPO step's
  optimiser time). Any unusual situation (missing gradients, ``amsgrad``, a closure, mixed devices or
  dtypes) falls back to ``torch.optim.Adam.step``.
  Its ``step`` is also not wrapped in torch's per-call profiling/hook wrapper (about half of the remaining
  cost of a small network's step): the wrapper runs only when it has something to do (step hooks
  registered, globally or on this optimiser, or the torch profiler on).
- :func:`clip_grad_norm`: ``torch.nn.utils.clip_grad_norm_`` (global L2 norm, ``foreach``) without its
  decorator overhead; returns the norm before clipping. Given a :class:`FlatGradients` whose views are still
  the parameters' gradients, the scaling is one in-place multiplication of a single buffer.
- :class:`FlatGradients`: one contiguous buffer for the gradients of a parameter list, each ``.grad`` a view
  of it (code that writes gradients in place, like ``rlframe/models/mlp.py``'s ``backward_into``, keeps them
  there).
"""
from __future__ import annotations

import struct
from typing import Iterable, List, Optional

import torch
import torch.optim.optimizer as _optimizer_module

from rlframe.core.grad_mode import no_grad


class FlatGradients:
    """One contiguous buffer for the gradients of ``params`` (same device and dtype): each parameter's
    ``.grad`` is set to its view of :attr:`flat`, in the parameters' order. Whatever writes gradients in place
    (``out=``, ``copy_``, autograd accumulating into an existing ``.grad``) keeps them in the buffer, and
    :func:`clip_grad_norm` then scales them in one operation; :meth:`intact` says whether every
    ``.grad`` is still its view (code that replaces a ``.grad`` simply makes clipping take the per-tensor path)."""

    def __init__(self, params: List[torch.Tensor]):
        self.params = list(params)
        if len({(p.device, p.dtype) for p in self.params}) != 1:
            raise ValueError("FlatGradients needs parameters on one device with one dtype; got "
                             f"{sorted({(str(p.device), str(p.dtype)) for p in self.params})}.")
        p0 = self.params[0]
        self.flat = torch.zeros(sum(p.numel() for p in self.params), device=p0.device, dtype=p0.dtype)
        self.views: List[torch.Tensor] = []
        offset = 0
        for p in self.params:
            self.views.append(self.flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        self.attach()

    @classmethod
    def maybe(cls, params: List[torch.Tensor]) -> Optional["FlatGradients"]:
        """``FlatGradients(params)``, or None when they are not all on one device with one dtype (or none)."""
        params = list(params)
        if not params or len({(p.device, p.dtype) for p in params}) != 1:
            return None
        return cls(params)

    def attach(self) -> None:
        """Make every parameter's ``.grad`` its view of the buffer again (the values are kept)."""
        for p, v in zip(self.params, self.views):
            p.grad = v

    def intact(self) -> bool:
        """True when every parameter's ``.grad`` is still its view of :attr:`flat`."""
        for p, v in zip(self.params, self.views):
            if p.grad is not v:
                return False
        return True


def clip_grad_norm(params: List[torch.Tensor], max_norm: Optional[float],
                   flat: Optional[FlatGradients] = None) -> torch.Tensor:
    """Global L2 norm of the gradients of ``params`` (those that have one); when ``max_norm`` is set,
    scale them in place so that the norm is at most ``max_norm`` (``torch.nn.utils.clip_grad_norm_``'s
    rule: coefficient ``max_norm / (norm + 1e-6)`` clamped to 1). ``flat``: the :class:`FlatGradients` of
    ``params``; while :meth:`FlatGradients.intact`, the scaling is one operation on its buffer and, on CPU, the
    coefficient is computed in Python with float32 arithmetic: bit for bit the same result, fewer operations."""
    if flat is not None and flat.intact():
        # Gradients hold no graph: no need for no_grad. The norm of the per-tensor norms, as below (the same bits).
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(flat.views)))
        if max_norm is not None:
            buf = flat.flat
            if buf.device.type == "cpu":  # the coefficient without 4 tensor ops (and no device sync on CPU)
                coef = _clip_coefficient(total.item(), max_norm)
                if coef < 1.0:  # 1: no scaling
                    buf.mul_(coef)
            else:
                buf.mul_((total + 1e-6).reciprocal_().mul_(max_norm).clamp_(max=1.0))
        return total
    with torch.no_grad():
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if max_norm is not None:
            coef = (total + 1e-6).reciprocal_().mul_(max_norm).clamp_(max=1.0)
            torch._foreach_mul_(grads, coef)
    return total


_F32 = struct.Struct("f")


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (as a Python float)."""
    return _F32.unpack(_F32.pack(x))[0]


def _clip_coefficient(norm: float, max_norm: float) -> float:
    """``min(max_norm / (norm + 1e-6), 1)`` in float32 arithmetic, operation by operation as the tensor expression
    ``(norm + 1e-6).reciprocal_().mul_(max_norm).clamp_(max=1.0)`` on a float32 ``norm`` computes it (the same
    value): each operation in double precision, then rounded to float32, which is exact for one +, / or * of
    float32 operands (double's 53 bits >= 2 x 24 + 2)."""
    x = _f32(norm + _f32(1e-6))
    return min(_f32(_f32(1.0 / x) * _f32(max_norm)), 1.0)


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
        if _step_hooks_active(self):
            return self._hooked_step(closure)
        return self._step(closure)

    # torch.optim.Optimizer wraps ``step`` of every optimiser class in a profiling and step-hook wrapper unless it is
    # marked as already wrapped; ``step`` above runs that wrapper itself, only when it has something to do.
    step.hooked = True  # type: ignore[attr-defined]

    def _step(self, closure=None):
        if closure is not None or self._cache is None:
            if torch.is_inference_mode_enabled():  # the state made here outlives the call: normal tensors
                with torch.inference_mode(False):
                    return self._step(closure)
            loss = super().step(closure)
            self._cache = self._build_cache()
            return loss
        return self._fused_steps()

    @no_grad
    def _fused_steps(self):
        """One fused Adam step per parameter group (the cache is built: see :meth:`_build_cache`)."""
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


FastAdam._hooked_step = torch.optim.Optimizer.profile_hook_step(FastAdam._step)  # type: ignore[attr-defined]


def _step_hooks_active(optimizer: torch.optim.Optimizer) -> bool:
    """True when torch's step wrapper has work: step hooks (the optimiser's own or global ones) or the profiler."""
    return bool(optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
                or _optimizer_module._global_optimizer_pre_hooks or _optimizer_module._global_optimizer_post_hooks
                or torch.autograd._profiler_enabled())


def _fused_supported() -> bool:
    return hasattr(torch, "_fused_adam_")
