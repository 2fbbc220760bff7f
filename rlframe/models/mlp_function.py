"""A whole MLP as ONE autograd node, with its backward pass written out: the models' mixed-precision path.

:func:`mlp_forward` evaluates ``h <- act(h W_i + b_i)`` (no nonlinearity after the last layer) and registers
one node whose backward is the textbook recursion (``dW = h_in^T g``, ``db = sum g``,
``g_in = (g W^T) * act'(h_in)``), computing only the gradients that are needed: weights passed detached (the
critic in an actor loss, ``rlframe/models/qpg.py``) get none, and the input gets one only when it requires it.
Same function and same gradients as the layer-by-layer autograd graph, up to float rounding
(tests/models/test_mlp_function.py compares them). Writing the backward out is what lets the bf16 path below
keep its casts to the few places that need them. In fp32 it measured no faster than autograd on SAC's, TD3's
and DQN's networks (docs/algorithms.md, "Mixed precision"), so the models use it only with ``compute_dtype``.

Two weight layouts, as the models store them:

- stacked ``W [k, in, out]``, ``b [k, 1, out]``, input ``[k, N, in]`` (:class:`~rlframe.models.mlp.TwinMlpModel`:
  ``k`` MLPs in one batched matmul per layer);
- ``nn.Linear``'s ``W [out, in]``, ``b [out]``, input ``[N, in]`` (:class:`~rlframe.models.mlp.MlpModel`).

``compute_dtype=torch.bfloat16`` (mixed precision, opt-in): the hidden layers multiply in bf16 (weights cast
from their fp32 masters at each call; on CPUs with AMX/AVX512-bf16 about three times faster than fp32), the
last layer runs in fp32 on an fp32 copy of its input, so outputs (Q-values, action means) keep fp32
resolution; the backward pass runs in bf16 (fp32 accumulation inside the matmuls) and the gradients are
handed back in fp32 to the fp32 weights, so the optimiser and the weights stay fp32.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

ACTIVATIONS = ("relu", "tanh")


def _linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(b, h, w) if w.dim() == 3 else torch.addmm(b, h, w.t())


def _grad_weight(h_in: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.bmm(h_in.transpose(1, 2), g) if w.dim() == 3 else torch.mm(g.t(), h_in)


def _grad_bias(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return g.sum(-2, keepdim=True) if w.dim() == 3 else g.sum(0)


def _grad_input(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.bmm(g, w.transpose(1, 2)) if w.dim() == 3 else torch.mm(g, w)


def _run(x: torch.Tensor, activation: str, compute_dtype: Optional[torch.dtype],
         params: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
    """The forward pass: ``(output, each layer's input, the weights for the backward pass)``, all in the
    compute dtype but the output (the last layer multiplies an fp32 copy of its input by the fp32 weights)."""
    n = len(params) // 2
    ws, bs = params[0::2], params[1::2]
    if compute_dtype is None or compute_dtype == ws[-1].dtype:
        compute_dtype = None
        ws_low, bs_low = list(ws), list(bs)
    else:
        ws_low, bs_low = [w.to(compute_dtype) for w in ws], [b.to(compute_dtype) for b in bs[:-1]]
    act_ = torch.relu_ if activation == "relu" else torch.tanh_
    h = x if compute_dtype is None else x.to(compute_dtype)
    inputs = []
    for i in range(n - 1):
        inputs.append(h)
        h = act_(_linear(h, ws_low[i], bs_low[i]))  # a fresh tensor: in place is safe
    inputs.append(h)
    out = _linear(h if compute_dtype is None else h.to(ws[-1].dtype), ws[-1], bs[-1])
    return out, inputs, ws_low


class _MlpFunction(torch.autograd.Function):
    """``apply(x, activation, compute_dtype, *params)`` with ``params = (W_0, b_0, W_1, b_1, ...)``."""

    @staticmethod
    def forward(ctx, x, activation, compute_dtype, *params):
        out, inputs, ws_run = _run(x, activation, compute_dtype, params)
        ctx.activation, ctx.n = activation, len(params) // 2
        ctx.x_dtype, ctx.param_dtype = x.dtype, params[0].dtype
        ctx.save_for_backward(*inputs, *ws_run)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        n, saved, need = ctx.n, ctx.saved_tensors, ctx.needs_input_grad
        inputs, ws_run = saved[:n], saved[n:]
        need_w = [need[3 + 2 * i] for i in range(n)]
        need_b = [need[4 + 2 * i] for i in range(n)]
        grads: List[Optional[torch.Tensor]] = [None] * (2 * n)
        grad_x = None
        # the lowest layer that needs the gradient at its output: x's, or the first layer with trained parameters
        lowest = 0 if need[0] else next((i for i in range(n) if need_w[i] or need_b[i]), n)
        g = grad_out.to(ws_run[-1].dtype)
        for i in range(n - 1, lowest - 1, -1):
            w = ws_run[i]
            if need_w[i]:
                grads[2 * i] = _grad_weight(inputs[i], g, w).to(ctx.param_dtype)
            if need_b[i]:
                grads[2 * i + 1] = _grad_bias(g, w).to(ctx.param_dtype)
            if i == 0:
                if need[0]:
                    grad_x = _grad_input(g, w).to(ctx.x_dtype)
            elif i > lowest:
                y = inputs[i]  # the previous layer's output, after its nonlinearity
                g = _grad_input(g, w)
                g = (torch.ops.aten.threshold_backward(g, y, 0) if ctx.activation == "relu"
                     else torch.ops.aten.tanh_backward(g, y))
        return (grad_x, None, None, *grads)


def mlp_forward(x: torch.Tensor, params: Sequence[torch.Tensor], activation: str = "relu",
                compute_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """``W_n(act(... act(W_1 x + b_1) ...)) + b_n`` for ``params = (W_1, b_1, ..., W_n, b_n)`` in one of the two
    layouts of the module docstring, as one autograd node (no node at all when no gradient is recorded).

    Args:
        x: ``[k, N, in]`` (stacked weights; an ``expand``-ed view is fine) or ``[N, in]`` (``nn.Linear``'s).
        params: weights and biases, layer by layer (detached ones get no gradient).
        activation: ``"relu"`` or ``"tanh"``, after every layer but the last.
        compute_dtype: dtype of the hidden layers' matmuls (None: the weights'); e.g. ``torch.bfloat16``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp_forward: activation must be one of {ACTIVATIONS}, got {activation!r}.")
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return _MlpFunction.apply(x, activation, compute_dtype, *params)
    with torch.no_grad():
        return _run(x, activation, compute_dtype, params)[0]


__all__ = ["ACTIVATIONS", "mlp_forward"]
