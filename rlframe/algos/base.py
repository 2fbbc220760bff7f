"""The algorithm contract: turn a batch of samples into gradient steps on the agent.

Besides the contract, :class:`RlAlgorithm` holds what every algorithm family (policy gradient in
``algos/pg``, replay-based in ``algos/replay_base.py``) needs: building an optimizer (optionally from a
saved state), a linear learning-rate schedule, one clipped optimizer step that returns the gradient norm,
and the optimizer state for checkpoints.
"""
from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type

import torch

from rlframe.algos.optim import FlatGradients, clip_grad_norm
from rlframe.core.distributed import reduce_gradients


class RlAlgorithm:
    """Base of every algorithm.

    Runners call :meth:`initialize` once, then ``optimize_agent(itr, samples)`` each iteration;
    the returned ``OptInfo`` is a namedtuple of lists (one entry per gradient step) whose fields are
    logged as ``train/<field>``.

    What runners and samplers read from an algorithm is declared here (no probing):
    ``bootstrap_value`` / ``final_observation`` (what the sampler must allocate), ``discount`` (for the
    discounted return in TrajInfos; None: not discounted), ``mid_batch_reset`` (set by ``initialize``),
    ``update_counter`` (gradient updates so far; runners count them from it and restore it on resume),
    ``optimizer`` (None for an algorithm without one), :meth:`optim_state_dict` and
    :meth:`state_dict` / :meth:`load_state_dict` (what a resume needs beyond the agent and optimizers).
    """

    opt_info_fields: Tuple[str, ...] = ()
    bootstrap_value = False  # PG algorithms ask samplers for the value of the last observation
    final_observation = False  # Q-learning asks samplers for samples.env.final_observation (true s' at ends)
    discount: Optional[float] = None
    mid_batch_reset = True
    update_counter = 0
    optimizer: Optional[torch.optim.Optimizer] = None
    n_itr = 1  # iterations of the run (set by initialize); the learning-rate schedule spans them
    learning_rate: float = 0.0
    linear_lr_schedule = False
    replay: Optional[Any] = None  # replay-based algorithms (algos/replay_base.py) keep their replay here

    def log_values(self) -> Dict[str, float]:
        """Scalars beyond ``train/*`` that runners log at each interval (e.g. ``replay/size``); none here."""
        return {}

    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = False,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        raise NotImplementedError

    def optimize_agent(self, itr: int, samples) -> Any:
        raise NotImplementedError

    # --- checkpoint state ------------------------------------------------------------------------------
    def optim_state_dict(self) -> Optional[Dict[str, Any]]:
        """Optimizer state for checkpoints (None without an optimizer); algorithms with several optimizers
        override this and :meth:`load_optim_state_dict`."""
        return None if self.optimizer is None else self.optimizer.state_dict()

    def load_optim_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def state_dict(self) -> Dict[str, Any]:
        """What a resume needs beyond the agent's and the optimizers' state (target networks, temperatures,
        counters); nothing here."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; nothing to restore here."""

    def optimizers(self) -> List[torch.optim.Optimizer]:
        """Every optimizer the algorithm steps (SyncRl makes each data-parallel): by default the
        ``torch.optim.Optimizer`` attributes (``optimizer``, ``q_optimizer``, ``pi_optimizer`` ...)."""
        found: Dict[int, torch.optim.Optimizer] = {}
        for value in vars(self).values():
            if isinstance(value, torch.optim.Optimizer):
                found.setdefault(id(value), value)
        return list(found.values())

    # --- family-neutral optimisation plumbing -----------------------------------------------------------
    @staticmethod
    def make_optimizer(params: Iterable[torch.nn.Parameter], OptimCls: Type[torch.optim.Optimizer], lr: float,
                       optim_kwargs: Optional[Dict[str, Any]] = None,
                       initial_state_dict: Optional[Dict[str, Any]] = None) -> torch.optim.Optimizer:
        """``OptimCls(params, lr=lr, **optim_kwargs)``, loaded from ``initial_state_dict`` when given."""
        optimizer = OptimCls(list(params), lr=lr, **(optim_kwargs or {}))
        if initial_state_dict is not None:
            optimizer.load_state_dict(initial_state_dict)
        return optimizer

    def frac_remaining(self, itr: int) -> float:
        """``(n_itr - itr) / n_itr`` (at least ``1 / n_itr``): the factor of linear schedules at ``itr``."""
        return max(self.n_itr - int(itr), 1) / self.n_itr

    def set_learning_rate(self, itr: int, optimizers: Optional[Iterable[torch.optim.Optimizer]] = None) -> float:
        """Set the learning rate of iteration ``itr`` (``learning_rate``, decayed linearly to 0 over ``n_itr``
        when ``linear_lr_schedule``: rlpyt's and SB3's ``lin_<lr>``) on ``optimizers`` (default: ``optimizer``);
        returns it."""
        lr = self.learning_rate * (self.frac_remaining(itr) if self.linear_lr_schedule else 1.0)
        for opt in (optimizers if optimizers is not None else [self.optimizer]):
            for g in opt.param_groups:
                g["lr"] = lr
        return lr

    @staticmethod
    def zero_grad(params: Iterable[torch.Tensor]) -> None:
        """``optimizer.zero_grad(set_to_none=True)`` for ``params``, without the optimizer's hook overhead."""
        for p in params:
            p.grad = None

    @staticmethod
    def optimizer_step(optimizer: torch.optim.Optimizer, params: List[torch.Tensor],
                       max_grad_norm: Optional[float],
                       on_grad_norm: Optional[Callable[[torch.Tensor], None]] = None,
                       flat_grads: Optional[FlatGradients] = None) -> torch.Tensor:
        """Clip the global gradient norm of ``params`` to ``max_grad_norm`` (None: no clipping), step
        ``optimizer``; returns the norm before clipping (a 0-d tensor, to be logged). ``on_grad_norm(norm)``
        runs before the step (e.g. ``algos.finite.check_finite``: a non-finite norm stops before the update).
        ``flat_grads``: the :class:`~rlframe.algos.optim.FlatGradients` holding ``params``' gradients, if any
        (the clipping then scales that buffer in one operation)."""
        reduce_gradients(optimizer, params)  # SyncRl (runners/sync_rl.py): average over the ranks before clipping
        grad_norm = clip_grad_norm(params, max_grad_norm, flat_grads)
        if on_grad_norm is not None:
            on_grad_norm(grad_norm)
        optimizer.step()
        return grad_norm

    @classmethod
    def make_opt_info(cls):
        """An empty OptInfo (lists per field)."""
        OptInfo = _opt_info_class(tuple(cls.opt_info_fields))
        return OptInfo(*([] for _ in cls.opt_info_fields))


@functools.lru_cache(maxsize=None)
def _opt_info_class(fields: Tuple[str, ...]) -> type:
    """The OptInfo namedtuple class of ``fields``, made once (building a namedtuple class costs ~80 us, per call)."""
    return namedtuple("OptInfo", fields)
