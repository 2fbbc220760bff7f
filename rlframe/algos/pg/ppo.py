"""Proximal Policy Optimization (Schulman et al. 2017), clipped surrogate objective.

rlpyt's structure, SB3's loss details: ratio ``exp(log p_new - log p_old)`` (old log-probs from the
``dist_info`` stored at sampling time), ``-min(r A, clip(r, 1-eps, 1+eps) A)``, optional value
clipping around the sampling-time values (SB3's ``clip_range_vf``), value loss = MSE to the GAE
returns, entropy bonus, global gradient-norm clipping, ``epochs`` passes of ``minibatches``
shuffled minibatches, linear decay of the learning rate and of the clip range over ``n_itr``.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Optional, Tuple, Type

import torch

from rlframe.agents.base import AgentInputs
from rlframe.algos.pg.base import PolicyGradientAlgo, _as_tensor, normalize_advantage
from rlframe.algos.pg.closed_form import ClosedFormPolicy, closed_form_policy
from rlframe.algos.optim import FastAdam
from rlframe.algos.pg.recurrent import check_minibatches, optimize_ppo_recurrent
from rlframe.algos.pg.reward_scaling import RewardScaler
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.distributions.base import valid_mean
from rlframe.errors import ConfigError

PpoBatch = namedarraytuple("PpoBatch", ["agent_inputs", "action", "old_logp", "old_value", "return_", "advantage",
                                        "valid", "closed_form_inputs"])
PpoBatch.__doc__ = ("A flattened PPO batch (leading dim T*B); indexing selects a minibatch of every field. "
                    "``closed_form_inputs``: the closed-form path's per-batch inputs (algos/pg/closed_form.py), "
                    "or None.")


class PPO(PolicyGradientAlgo):
    """PPO-clip. Defaults are SB3's (``PPO``), except the batch layout, which comes from the sampler.

    Args:
        epochs: passes over each batch.
        minibatches: minibatches per pass (batch size = T*B / minibatches; RL-zoo's CartPole
            ``batch_size=256`` with 8 envs x 32 steps is ``minibatches=1``).
        ratio_clip: initial clip range epsilon.
        linear_clip_schedule: decay the clip range linearly like the learning rate (RL-zoo ``lin_0.2``).
        value_clip: clip the value prediction to ``old_value +- value_clip`` (None: no clipping).
        target_kl: stop the epochs of an iteration early once the approximate KL exceeds 1.5x this, checked
            before each gradient step on that step's minibatch, which is then not taken (as SB3).
        normalize_reward: divide rewards by the running std of the discounted return before computing returns
            and advantages (SB3's ``VecNormalize(norm_reward=True)``; ``algos/pg/reward_scaling.py``), so the
            value loss keeps the same scale whatever the env's reward units. Logged returns stay unscaled.
        fast_gradients: compute the loss's gradients with respect to ``log p(a)`` and ``V`` in closed form
            (:meth:`_fast_gradient_step`) instead of by autograd through :meth:`loss`, and for the usual
            twin-MLP actor-critics the network's backward pass too (``algos/pg/closed_form.py``): same
            gradients and statistics, less per-step overhead (docs/algorithms.md gives the measured difference).
        other arguments: see :class:`~rlframe.algos.pg.base.PolicyGradientAlgo`.
    """

    opt_info_fields = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                       "explained_variance", "learning_rate", "grad_norm", "ratio_clip")

    def __init__(
        self,
        discount: float = 0.99,
        gae_lambda: float = 0.95,
        learning_rate: float = 3e-4,
        linear_lr_schedule: bool = True,
        value_loss_coeff: float = 0.5,
        entropy_loss_coeff: float = 0.0,
        max_grad_norm: Optional[float] = 0.5,
        normalize_advantage: bool = True,
        epochs: int = 10,
        minibatches: int = 4,
        ratio_clip: float = 0.2,
        linear_clip_schedule: bool = False,
        value_clip: Optional[float] = None,
        target_kl: Optional[float] = None,
        OptimCls: Type[torch.optim.Optimizer] = FastAdam,
        optim_kwargs: Optional[Dict[str, Any]] = None,
        initial_optim_state_dict: Optional[Dict[str, Any]] = None,
        fast_gradients: bool = True,
        normalize_reward: bool = False,
    ):
        if optim_kwargs is None:
            optim_kwargs = dict(eps=1e-5)
        super().__init__(discount, gae_lambda, learning_rate, linear_lr_schedule, value_loss_coeff,
                         entropy_loss_coeff, max_grad_norm, normalize_advantage, OptimCls, optim_kwargs,
                         initial_optim_state_dict)
        if int(epochs) < 1 or int(minibatches) < 1:
            raise ConfigError(f"PPO needs epochs >= 1 and minibatches >= 1, got {epochs} and {minibatches}.")
        self.epochs = int(epochs)
        self.minibatches = int(minibatches)
        self.reward_scaler = RewardScaler(self.discount) if normalize_reward else None
        self.ratio_clip = float(ratio_clip)
        self.linear_clip_schedule = bool(linear_clip_schedule)
        self.value_clip = None if value_clip is None else float(value_clip)
        self.target_kl = None if target_kl is None else float(target_kl)
        self.fast_gradients = bool(fast_gradients)

    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = True,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        super().initialize(agent, n_itr, batch_spec, mid_batch_reset, examples, world_size, rank)
        size = batch_spec.size
        if agent.recurrent:
            check_minibatches("PPO", self.minibatches, batch_spec.B)
        if self.minibatches > size:
            raise ConfigError(
                f"PPO: minibatches={self.minibatches} exceeds the batch size T*B={size}; use fewer minibatches."
            )

    def optimize_agent(self, itr: int, samples):
        """``epochs`` x ``minibatches`` gradient steps on one ``[T, B]`` batch; returns OptInfo lists.

        The steps of SB3's ``PPO.train`` (and CleanRL's ``ppo.py``), one comment per step below. The loss
        and its gradients come from :meth:`loss` and autograd, or, with ``fast_gradients``, from the
        closed form of :meth:`_fast_gradient_step` (same gradients; the tests compare the two).
        """
        if self.agent.recurrent:  # whole env columns from the stored LSTM state: algos/pg/recurrent.py
            return optimize_ppo_recurrent(self, itr, samples)
        # 1. Returns and advantages (GAE, truncation bootstrap) and the mask of real steps (None: all real).
        return_, advantage, valid = self.process_returns(samples, itr)
        # 2. This iteration's learning rate and clip range (linear schedules over the run).
        lr = self.set_learning_rate(itr)
        clip = self.ratio_clip * (self.frac_remaining(itr) if self.linear_clip_schedule else 1.0)
        # 3. The batch flattened to T*B samples, with log p(a) under the sampling-time policy, on the agent's device.
        #    Fast path: the policy's backward pass written out when the model allows it (algos/pg/closed_form.py).
        closed_form = closed_form_policy(self.agent, samples.env.observation) if self.fast_gradients else None
        # The closed-form path records no graph at all: inference mode (autograd off, and no autograd dispatch or
        # version counting per op) once for the iteration's tensor work. What outlives it is read only (the
        # statistics) or made outside inference mode (gradient buffers, the optimiser's state: algos/optim.py).
        with torch.inference_mode() if closed_form is not None else contextlib.nullcontext():
            stats = self._batch_steps(samples, return_, advantage, valid, clip, closed_form)

        opt_info = self.make_opt_info()
        if stats is not None:  # target_kl may stop an iteration before its first step
            for name, col in zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                                  "grad_norm"), stats.tolist()):
                getattr(opt_info, name).extend(col)
        opt_info.explained_variance.append(self._explained_variance(samples.agent.agent_info.value, return_, valid))
        opt_info.learning_rate.append(lr)
        opt_info.ratio_clip.append(clip)
        return opt_info

    def _batch_steps(self, samples, return_, advantage, valid, clip: float,
                     closed_form: Optional[ClosedFormPolicy]) -> Optional[torch.Tensor]:
        """Steps 3 to 7 of :meth:`optimize_agent` on one batch; returns the ``[6, n_steps]`` statistics of its
        gradient steps (:meth:`_step_stats`), or None when target_kl stopped it before the first."""
        batch = self._flat_batch(samples, return_, advantage, valid, closed_form)
        whole = None if self.minibatches > 1 else tuple(t[0] for t in self._minibatch_terms(
            batch.advantage.unsqueeze(0), None if batch.valid is None else batch.valid.unsqueeze(0), clip))
        records = self._epochs(batch, clip, whole, closed_form)
        if not records:
            return None
        # 7. Statistics of every step (at the parameters before it); explained variance and schedules in the caller.
        return self._step_stats(records, clip, closed_form) if self.fast_gradients else torch.stack(records, dim=1)

    def _epochs(self, batch: "PpoBatch", clip: float, whole: Optional[Tuple[torch.Tensor, ...]],
                closed_form: Optional[ClosedFormPolicy]) -> list:
        """The iteration's gradient steps; returns each step's record (what :meth:`_step_stats` needs, or the
        autograd path's statistics)."""
        records = []
        for _ in range(self.epochs):
            # 4. Each epoch: shuffled minibatches (the whole batch, unshuffled, when minibatches == 1), with
            # 5. advantages standardised per minibatch (over its real steps), as SB3 - for all minibatches at once.
            for mb, terms in self._epoch_minibatches(batch, clip, whole):
                # 6. Loss, early stop on the approximate KL, backward pass, clipped optimizer step.
                if self.fast_gradients:
                    record = self._fast_gradient_step(mb, terms, clip, closed_form)
                else:
                    record = self._autograd_step(mb, terms[0], clip)
                if record is None:
                    return records  # target_kl reached: no more steps this iteration
                records.append(record)
        return records

    def _flat_batch(self, samples, return_, advantage, valid, closed_form=None) -> "PpoBatch":
        """The ``[T, B]`` batch as ``T*B`` samples (views, no copies on CPU), moved to the agent's device once."""
        n = return_.size
        agent_inputs = self._flat(AgentInputs(samples.env.observation, samples.agent.prev_action,
                                              samples.env.prev_reward), n)
        action = self._flat(samples.agent.action, n)
        with torch.no_grad():
            old_logp = self.agent.distribution.log_likelihood(action, self._flat(samples.agent.agent_info.dist_info, n))
        batch = PpoBatch(agent_inputs, action, old_logp, _as_tensor(samples.agent.agent_info.value).reshape(n),
                         torch.from_numpy(return_.reshape(n)), torch.from_numpy(advantage.reshape(n)),
                         None if valid is None else torch.from_numpy(valid.reshape(n)), None)
        batch = batch if self.agent.device.type == "cpu" else buffer_to(batch, self.agent.device)
        if closed_form is not None:
            batch = batch._replace(closed_form_inputs=closed_form.batch_inputs(batch.agent_inputs.observation,
                                                                               batch.action))
        return batch

    def _epoch_minibatches(self, batch: "PpoBatch", clip: float, whole: Optional[Tuple[torch.Tensor, ...]] = None):
        """One epoch's ``(minibatch, terms)`` (``terms``: :meth:`_minibatch_terms`): ``minibatches``
        random disjoint minibatches of ``T*B // minibatches`` samples (the remaining ``T*B % minibatches``,
        random ones, sit out the epoch), advantages standardised per minibatch; the batch itself with
        ``whole`` (:meth:`_minibatch_terms` of the whole batch, computed once) when ``minibatches == 1``.
        The shuffle is one gather per field and the per-minibatch terms one set of row-wise reductions
        per epoch; minibatches are views of them."""
        if self.minibatches == 1:
            yield batch, whole
            return
        n = batch.return_.shape[0]
        size = n // self.minibatches
        perm = torch.randperm(n, device=batch.return_.device)
        epoch = batch[perm[:self.minibatches * size]]
        terms = self._minibatch_terms(epoch.advantage.view(self.minibatches, size),
                                      None if epoch.valid is None else epoch.valid.view(self.minibatches, size), clip)
        for m in range(self.minibatches):
            yield epoch[m * size:(m + 1) * size], tuple(t[m] for t in terms)

    def _minibatch_terms(self, adv: torch.Tensor, valid: Optional[torch.Tensor], clip: float
                         ) -> Tuple[torch.Tensor, ...]:
        """For each row (minibatch) of ``adv [M, size]``: the standardised advantages, the per-sample weight
        ``w`` of a mean over the minibatch (``1/size``, or valid-normalised), and what the closed-form
        gradients (:meth:`_surrogate_grads`) need at clip range ``clip``: ``-adv * w``, the sign ``s`` of
        ``adv > 0`` (+1 / -1) and the bound ``b`` (``1 + clip`` / ``-(1 - clip)``) such that the unclipped
        term is the minimum exactly where ``s * ratio <= b``, and ``2 c_v w``."""
        if self.normalize_advantage:
            adv = normalize_advantage(adv, valid, dim=1)
        if valid is None:
            w = torch.full_like(adv, 1.0 / adv.shape[1])
        else:
            w = valid.to(adv.dtype) / valid.sum(1, keepdim=True).clamp_min(1.0)
        pos = adv > 0
        sign = torch.where(pos, 1.0, -1.0).to(adv.dtype)
        bound = torch.where(pos, 1.0 + clip, -(1.0 - clip)).to(adv.dtype)
        return adv, w, -adv * w, sign, bound, w * (2.0 * self.value_loss_coeff)

    def _kl_too_far(self, approx_kl: torch.Tensor) -> bool:
        """SB3's early stop: this minibatch's policy is already more than 1.5 * target_kl from the sampling one."""
        return self.target_kl is not None and approx_kl.item() > 1.5 * self.target_kl

    def _autograd_step(self, mb: "PpoBatch", adv: torch.Tensor, clip: float) -> Optional[torch.Tensor]:
        """One step through :meth:`loss` and autograd; ``[6]`` statistics, or None when target_kl stops it."""
        loss, stats = self.loss(mb.agent_inputs, mb.action, mb.old_logp, mb.old_value, mb.return_, adv, mb.valid,
                                clip, advantage_normalized=True)
        if self._kl_too_far(stats[3]):
            return None
        self._zero_grad()
        loss.backward()
        return torch.stack(stats + (self._clip_and_step(),))

    def _fast_gradient_step(self, mb: "PpoBatch", terms: Tuple[torch.Tensor, ...], clip: float,
                            closed_form: Optional[ClosedFormPolicy] = None) -> Optional[Dict[str, Any]]:
        """One step whose loss gradients with respect to ``log p(a)``, ``V`` (and the entropy, when its
        coefficient is not 0) are computed in closed form (:meth:`_surrogate_grads`) and backpropagated from
        there - by ``closed_form`` (the model's backward pass written out, algos/pg/closed_form.py) when given,
        else by autograd - instead of recording the loss's dozen elementwise ops in the autograd graph.
        ``terms``: the minibatch's :meth:`_minibatch_terms`. Returns what :meth:`_step_stats` needs, or None
        when target_kl stops it."""
        adv, w, neg_aw, sign, bound, value_w = terms
        entropy_grad = self.entropy_loss_coeff != 0.0
        if closed_form is not None:  # no graph (autograd is off): nothing to detach
            logp, entropy, value, ctx = closed_form.forward(mb.closed_form_inputs, mb.action, entropy=entropy_grad)
            logp_d, value_d = logp, value
            # Without an entropy term the entropy is only a statistic: computed for all steps at once in _step_stats.
            entropy_record = ({"entropy": entropy} if entropy is not None
                              else {"entropy_source": closed_form.entropy_source(ctx)})
        else:
            dist_info, value = self.agent(*mb.agent_inputs)
            logp, entropy = self.agent.distribution.log_likelihood_and_entropy(mb.action, dist_info,
                                                                                entropy_grad=entropy_grad)
            logp_d, value_d, entropy_record = logp.detach(), value.detach(), {"entropy": entropy.detach()}
        log_ratio = logp_d - mb.old_logp
        if self.target_kl is not None and self._kl_too_far(self._mean(torch.expm1(log_ratio) - log_ratio, w)):
            return None
        g_logp, g_value = self._surrogate_grads(log_ratio, value_d, mb.old_value, mb.return_, neg_aw, sign, bound,
                                                value_w)
        g_entropy = w * -self.entropy_loss_coeff if entropy_grad else None
        if closed_form is not None:
            closed_form.backward(ctx, g_logp, g_value, g_entropy)
        else:
            self._zero_grad()
            if entropy_grad:
                torch.autograd.backward((logp, value, entropy), (g_logp, g_value, g_entropy))
            else:
                torch.autograd.backward((logp, value), (g_logp, g_value))
        return dict(log_ratio=log_ratio, value=value_d, adv=adv, ret=mb.return_, old_value=mb.old_value, w=w,
                    grad_norm=self._clip_and_step(), **entropy_record)

    @staticmethod
    def _mean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (x * w).sum(-1)

    def _surrogate_grads(self, log_ratio, value, old_value, return_, neg_aw, sign, bound, value_w):
        """Gradients of the PPO loss with respect to ``log p(a)`` and ``V`` (per sample).

        ``-mean(min(r A, clip(r) A))``: the unclipped term is the minimum (and carries the gradient
        ``-A r w``) exactly when ``r <= 1 + clip`` for ``A > 0`` or ``r >= 1 - clip`` for ``A <= 0``, i.e. when
        ``sign * r <= bound`` (:meth:`_minibatch_terms`; ties between the two terms have equal gradients;
        ``A = 0`` has none). Value: ``2 c_v (V' - R) w`` (``value_w = 2 c_v w``), zero where value clipping is active.
        """
        ratio = torch.exp(log_ratio)
        g_logp = ratio * neg_aw * (ratio * sign <= bound)
        if self.value_clip is None:
            g_value = (value - return_) * value_w
        else:
            dv = value - old_value
            v_err = old_value + torch.clamp(dv, -self.value_clip, self.value_clip) - return_
            g_value = v_err * value_w * (dv.abs() <= self.value_clip)
        return g_logp, g_value

    def _step_stats(self, records, clip, closed_form: Optional[ClosedFormPolicy] = None) -> torch.Tensor:
        """``[6, n_steps]``: policy_loss, value_loss, entropy, approx_kl, clip_fraction, grad_norm of every
        fast gradient step (each evaluated at the parameters before that step), computed for all steps at once
        (the entropies too, from ``closed_form``'s entropy sources, when the steps did not need them)."""
        rec = {k: [r[k] for r in records] for k in records[0]}
        lr_, val, adv, ret, w = (_stack(rec[k]) for k in ("log_ratio", "value", "adv", "ret", "w"))
        ent = (_stack(rec["entropy"]) if "entropy" in rec
               else closed_form.entropy_from_source(_stack(rec["entropy_source"])))
        ratio = torch.exp(lr_)
        policy_loss = -self._mean(torch.min(ratio * adv, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * adv), w)
        if self.value_clip is not None:
            old_v = _stack(rec["old_value"])
            val = old_v + torch.clamp(val - old_v, -self.value_clip, self.value_clip)
        value_loss = self._mean((val - ret) ** 2, w)
        approx_kl = self._mean((ratio - 1.0) - lr_, w)
        clip_fraction = self._mean(((ratio - 1.0).abs() > clip).to(ratio.dtype), w)
        return torch.stack((policy_loss, value_loss, self._mean(ent, w), approx_kl, clip_fraction,
                            torch.stack(rec["grad_norm"])))

    def loss(self, agent_inputs, action, old_logp, old_value, return_, advantage, valid, clip,
             advantage_normalized: bool = False):
        """The PPO loss on one minibatch as an autograd expression (the reference the fast path in
        :meth:`optimize_agent` reproduces); returns ``(loss, (policy_loss, value_loss, entropy, approx_kl,
        clip_fraction))`` with the statistics detached. ``advantage_normalized``: the caller already
        standardised ``advantage``."""
        dist_info, value = self.agent(*agent_inputs)
        dist = self.agent.distribution
        if self.normalize_advantage and not advantage_normalized:
            advantage = normalize_advantage(advantage, valid)
        logp, entropy = dist.log_likelihood_and_entropy(action, dist_info)
        log_ratio = logp - old_logp
        ratio = torch.exp(log_ratio)
        surr1 = ratio * advantage
        surr2 = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantage
        policy_loss = -valid_mean(torch.min(surr1, surr2), valid)
        if self.value_clip is not None:
            value = old_value + torch.clamp(value - old_value, -self.value_clip, self.value_clip)
        value_loss = valid_mean((return_ - value) ** 2, valid)
        entropy = valid_mean(entropy, valid)
        loss = policy_loss + self.value_loss_coeff * value_loss - self.entropy_loss_coeff * entropy
        with torch.no_grad():
            approx_kl = valid_mean((ratio - 1.0) - log_ratio, valid)
            clip_fraction = valid_mean(((ratio - 1.0).abs() > clip).float(), valid)
        return loss, (policy_loss.detach(), value_loss.detach(), entropy.detach(), approx_kl, clip_fraction)


def _stack(xs: list) -> torch.Tensor:
    """``torch.stack(xs)``, or ``xs[0]`` as one row when every entry is that same tensor (e.g. the advantages of
    every step when each epoch is one minibatch): it broadcasts against the stacked per-step values to the same
    results."""
    first = xs[0]
    return first.unsqueeze(0) if all(x is first for x in xs) else torch.stack(xs)
