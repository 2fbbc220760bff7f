"""PPO's loss gradients without autograd: policy forward, log-likelihood and backpropagation written out.

PPO's fast path (:meth:`rlframe.algos.pg.ppo.PPO._fast_gradient_step`) already has the loss gradients with
respect to each sample's ``log p(a)``, ``V`` and entropy in closed form. For the usual PPO networks (separate
actor and critic MLPs evaluated together by :class:`~rlframe.models.mlp.TwinMlpModel`, see
``rlframe/models/pg.py``) and the two usual distributions, the remaining chain - distribution parameters, then
the MLP layers - is short enough to write out too: a :class:`ClosedFormPolicy` evaluates the model without
recording a graph (``forward_saving``), computes ``log p(a)`` and the entropy itself, and turns the three
per-sample gradients into parameter gradients (``backward_from``). Same function, same gradients as autograd
(up to float rounding; tests/algos/test_pg_algos.py compares them), at a fraction of the per-step overhead that
bounds small networks. :func:`closed_form_policy` returns None for any other agent (recurrent, shared trunk,
conv encoder, masked or clamped distributions, data-parallel wrappers), and PPO then backpropagates with autograd.

Derivatives used (``l = log_softmax(z)``, ``p = exp(l)``, ``H = -sum p l``; Gaussian ``u = (a - mu) / sigma``):
``d l_a / d z = onehot(a) - p``, ``d H / d z = -p (l + H)``; ``d log p / d mu = u / sigma``,
``d log p / d log sigma = u^2 - 1``, ``d H / d log sigma = 1``.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F

from rlframe.core.namedarraytuple import is_namedtuple, namedarraytuple
from rlframe.distributions.categorical import Categorical
from rlframe.distributions.gaussian import Gaussian
from rlframe.models.pg import ActorCriticModel

_LOG_2PI = math.log(2 * math.pi)


ClosedFormInputs = namedarraytuple("ClosedFormInputs", ["features", "action_aux"])
ClosedFormInputs.__doc__ = ("A batch's per-sample inputs of :meth:`ClosedFormPolicy.forward`, computed once per batch "
                            "(:meth:`ClosedFormPolicy.batch_inputs`); indexing selects a minibatch.")


class ClosedFormPolicy:
    """Forward and backward of an agent's model + distribution for PPO's loss, without autograd.

    ``batch_inputs(observation, action)`` once per batch (the encoder's features - the encoder has no
    parameters here, so they do not change between steps - and what the per-step work can reuse from the
    actions, e.g. one-hot actions); ``forward(inputs, action) -> (logp, entropy, value, ctx)`` (``[N]`` each,
    no graph) on a minibatch of them; ``backward(ctx, g_logp, g_value, g_entropy)`` sets every model
    parameter's ``.grad`` (overwriting) to ``sum_i g_logp_i d logp_i + g_value_i d V_i + g_entropy_i d H_i``
    (``g_entropy`` None: no entropy term). A ``ctx`` is valid until the next :meth:`forward` (the model's
    activations live in buffers it reuses: ``TwinMlpModel.forward_saving(reuse=True)``); the other outputs are
    new tensors.
    """

    def __init__(self, model: ActorCriticModel):
        self.model = model

    def batch_inputs(self, observation: Any, action: torch.Tensor) -> ClosedFormInputs:
        return ClosedFormInputs(self.model.encode(observation), self.action_aux(action))

    def action_aux(self, action: torch.Tensor) -> Any:
        return None

    def forward(self, inputs: ClosedFormInputs, action: torch.Tensor, entropy: bool = True):
        """``(logp, entropy, value, ctx)`` on a minibatch. ``entropy=False`` (no entropy term in the loss): the
        entropy may be None, and :meth:`entropy_source` of ``ctx`` then gives what computes it later."""
        raise NotImplementedError

    def entropy_source(self, ctx: Tuple[Any, ...]) -> torch.Tensor:
        """What :meth:`entropy_from_source` turns into the per-sample entropies of a :meth:`forward`."""
        raise NotImplementedError

    def entropy_from_source(self, source: torch.Tensor) -> torch.Tensor:
        """Per-sample entropies from (stacked) :meth:`entropy_source` tensors (leading dims kept)."""
        raise NotImplementedError

    def backward(self, ctx: Tuple[Any, ...], g_logp: torch.Tensor, g_value: torch.Tensor,
                 g_entropy: Optional[torch.Tensor]) -> None:
        raise NotImplementedError


CategoricalAux = namedarraytuple("CategoricalAux", ["onehot", "index"])


class CategoricalClosedForm(ClosedFormPolicy):
    """Softmax policy over the model's logits (no action mask)."""

    def __init__(self, model: ActorCriticModel, dim: int):
        super().__init__(model)
        self.dim = int(dim)

    def action_aux(self, action: torch.Tensor) -> CategoricalAux:
        index = action.long()
        return CategoricalAux(F.one_hot(index, self.dim).to(torch.float32), index.unsqueeze(-1))

    def forward(self, inputs, action, entropy=True):
        (logits,), value, saved = self.model.forward_saving_features(inputs.features, reuse=True)
        log_p = torch.log_softmax(logits, dim=-1)
        p = torch.exp(log_p)
        h = self.entropy_from_source(log_p, p) if entropy else None
        logp = log_p.gather(-1, inputs.action_aux.index).squeeze(-1)
        return logp, h, value, (saved, inputs.action_aux.onehot, p, log_p, h)

    def entropy_source(self, ctx):
        return ctx[3]  # log-probabilities

    def entropy_from_source(self, log_p, p=None):
        return -((torch.exp(log_p) if p is None else p) * log_p).sum(-1)

    def backward(self, ctx, g_logp, g_value, g_entropy):
        saved, onehot, p, log_p, entropy = ctx
        g_logits = (onehot - p) * g_logp.unsqueeze(-1)
        if g_entropy is not None:
            g_logits = g_logits - p * (log_p + entropy.unsqueeze(-1)) * g_entropy.unsqueeze(-1)
        self.model.backward_from(saved, (g_logits,), g_value)


class GaussianClosedForm(ClosedFormPolicy):
    """Diagonal Gaussian over the model's ``(mean, log_std)`` (no std clamps)."""

    def forward(self, inputs, action, entropy=True):
        (mean, log_std), value, saved = self.model.forward_saving_features(inputs.features, reuse=True)
        inv_std = torch.exp(-log_std)
        u = (action - mean) * inv_std
        logp = -(0.5 * u * u + log_std).sum(-1) - 0.5 * mean.shape[-1] * _LOG_2PI
        entropy = (log_std + 0.5 * (_LOG_2PI + 1.0)).sum(-1)  # always (cheap; log_std may be a parameter's view)
        return logp, entropy, value, (saved, u, inv_std)

    def backward(self, ctx, g_logp, g_value, g_entropy):
        saved, u, inv_std = ctx
        g = g_logp.unsqueeze(-1)
        g_log_std = (u * u - 1.0) * g
        if g_entropy is not None:
            g_log_std = g_log_std + g_entropy.unsqueeze(-1)
        self.model.backward_from(saved, (u * inv_std * g, g_log_std), g_value)


def closed_form_policy(agent: Any, observation: Any) -> Optional[ClosedFormPolicy]:
    """The :class:`ClosedFormPolicy` for ``agent`` on batches of ``observation``, or None when its model or
    distribution is not one whose gradients are written out here (autograd then does the backward pass)."""
    model, dist = agent.model, getattr(agent, "distribution", None)
    if agent.recurrent or not isinstance(model, ActorCriticModel) or not model.supports_manual_gradients:
        return None
    masked = is_namedtuple(observation) and getattr(agent, "mask_field", None) in observation._fields
    if type(dist) is Categorical and model.pi_size == dist.dim and not masked:
        return CategoricalClosedForm(model, dist.dim)
    if type(dist) is Gaussian and dist.min_log_std is None and dist.max_log_std is None:
        return GaussianClosedForm(model)
    return None
