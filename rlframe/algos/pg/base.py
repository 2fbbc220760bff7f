"""Common machinery of on-policy policy-gradient algorithms (A2C, PPO).

rlpyt's semantics (Stooke & Abbeel 2019): the algorithm receives a ``[T, B]`` samples batch with
``samples.agent.bootstrap_value`` and computes GAE returns itself; with a wait-reset collector the
blank slots after an env's first ``done`` (``done`` set, neither ``terminated`` nor ``truncated``) are
masked out of the losses. SB3's details: the
truncation bootstrap (from ``samples.env.timeout_value``), advantage normalisation per minibatch,
Adam ``eps=1e-5``, gradient-norm clipping, linear learning-rate schedules.
"""
from __future__ import annotations

import math

from typing import Any, Dict, Optional, Type

import numpy as np
import torch

from rlframe.algos.base import RlAlgorithm
from rlframe.algos.finite import check_finite
from rlframe.algos.optim import FlatGradients
from rlframe.algos.pg.returns import explained_variance, generalized_advantage_estimation
from rlframe.algos.pg.reward_scaling import RewardScaler
from rlframe.core.namedarraytuple import map_leaves
from rlframe.errors import ConfigError
from rlframe.samplers.base import valid_mask


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def normalize_advantage(advantage: torch.Tensor, valid: Optional[torch.Tensor] = None,
                        dim: Optional[int] = None) -> torch.Tensor:
    """Standardise ``advantage`` (mean 0, std 1 over the ``valid`` entries; unchanged if it has one entry);
    ``dim``: standardise each slice along this dim on its own (e.g. one row per minibatch) instead of the whole."""
    if (advantage.numel() if dim is None else advantage.shape[dim]) <= 1:
        return advantage
    over = {} if dim is None else dict(dim=dim, keepdim=True)
    if valid is None:
        return (advantage - advantage.mean(**over)) / (advantage.std(**over) + 1e-8)
    valid = valid.to(advantage.dtype)  # valid_mean's rule (rlframe/distributions/base.py), per slice
    count = valid.sum(**over).clamp_min(1.0)
    mean = (advantage * valid).sum(**over) / count
    std = (((advantage - mean) ** 2 * valid).sum(**over) / count).sqrt()
    return (advantage - mean) / (std + 1e-8)


class PolicyGradientAlgo(RlAlgorithm):
    """Base of A2C and PPO: optimiser set-up, schedules, returns/advantages, batch flattening.

    Args:
        discount: gamma.
        gae_lambda: GAE's lambda (1: Monte-Carlo returns with a bootstrap).
        learning_rate: initial learning rate.
        linear_lr_schedule: decay the learning rate linearly to 0 over ``n_itr`` iterations (as
            rlpyt and SB3's ``lin_<lr>``: iteration ``i`` uses ``lr * (n_itr - i) / n_itr``).
        value_loss_coeff, entropy_loss_coeff: loss weights.
        max_grad_norm: clip the global gradient norm (None: no clipping; the norm is still logged).
        normalize_advantage: standardise advantages (per minibatch, as SB3).
        OptimCls, optim_kwargs: optimiser (``optim_kwargs`` defaults chosen by the subclass).
    """

    bootstrap_value = True
    reward_scaler: Optional[RewardScaler] = None  # set by subclasses that scale rewards (PPO(normalize_reward=True))

    def __init__(self, discount: float, gae_lambda: float, learning_rate: float, linear_lr_schedule: bool,
                 value_loss_coeff: float, entropy_loss_coeff: float, max_grad_norm: Optional[float],
                 normalize_advantage: bool, OptimCls: Type[torch.optim.Optimizer], optim_kwargs: Dict[str, Any],
                 initial_optim_state_dict: Optional[Dict[str, Any]] = None):
        if not 0.0 <= discount <= 1.0 or not 0.0 <= gae_lambda <= 1.0:
            raise ConfigError(f"discount and gae_lambda must lie in [0, 1], got {discount} and {gae_lambda}.")
        self.discount = float(discount)
        self.gae_lambda = float(gae_lambda)
        self.learning_rate = float(learning_rate)
        self.linear_lr_schedule = bool(linear_lr_schedule)
        self.value_loss_coeff = float(value_loss_coeff)
        self.entropy_loss_coeff = float(entropy_loss_coeff)
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.normalize_advantage = bool(normalize_advantage)
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs)
        self.initial_optim_state_dict = initial_optim_state_dict
        self.optimizer = None

    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = True,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        """Build the optimiser over ``agent.parameters()``; ``n_itr`` sets the schedules' length."""
        self.agent = agent
        self.n_itr = max(int(n_itr), 1)
        self.batch_spec = batch_spec
        self.mid_batch_reset = bool(mid_batch_reset)
        self.world_size, self.rank = int(world_size), int(rank)
        self._params = [p for p in agent.parameters() if p.requires_grad]
        # The gradients in one buffer, scaled in one operation by clipping (algos/optim.py FlatGradients).
        self._flat_grads = FlatGradients.maybe(self._params)
        self.optimizer = self.make_optimizer(self._params, self.OptimCls, self.learning_rate, self.optim_kwargs,
                                             self.initial_optim_state_dict)
        self.update_counter = 0

    # --- schedules (RlAlgorithm's; the short names are kept for algos/pg/recurrent.py) -----------------
    _frac_remaining = RlAlgorithm.frac_remaining
    _set_learning_rate = RlAlgorithm.set_learning_rate

    # --- returns -------------------------------------------------------------------------------------
    def process_returns(self, samples, itr: Optional[int] = None):
        """``(return_, advantage, valid)``: ``[T, B]`` float32 numpy arrays, ``valid`` None when every
        slot is valid (reset collectors). Non-finite rewards, values, advantages or returns raise
        :class:`~rlframe.errors.NonFiniteError` naming iteration ``itr`` (``algos.finite``)."""
        if itr is not None:
            self._itr = int(itr)
        env = samples.env
        bootstrap = getattr(samples.agent, "bootstrap_value", None)
        if bootstrap is None:
            raise ConfigError(
                f"{type(self).__name__} needs samples.agent.bootstrap_value: initialise the sampler with "
                "bootstrap_value=algo.bootstrap_value (runners do this)."
            )
        value = samples.agent.agent_info.value
        timeout_value = getattr(env, "timeout_value", None)
        valid = self._valid(samples)
        reward = env.reward
        if self.reward_scaler is not None:  # values and advantages in the scaled units (algos/pg/reward_scaling.py)
            check_finite("reward", reward, getattr(self, "_itr", 0), self._batch_size(), type(self).__name__,
                         "The env returned it.")
            reward = self.reward_scaler(_numpy(reward), _numpy(env.done), valid)
        advantage, return_ = generalized_advantage_estimation(
            reward, value, bootstrap, env.terminated, env.truncated, timeout_value,
            self.discount, self.gae_lambda)
        self._check_batch_finite(env.reward, value, bootstrap, timeout_value, advantage, return_)
        return return_, advantage, valid

    def state_dict(self) -> Dict[str, Any]:
        """The reward scaler's running moments when rewards are scaled (a resume continues with them)."""
        return {} if self.reward_scaler is None else {"reward_scaler": self.reward_scaler.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if self.reward_scaler is not None and "reward_scaler" in state:
            self.reward_scaler.load_state_dict(state["reward_scaler"])

    def _check_batch_finite(self, reward, value, bootstrap, timeout_value, advantage, return_) -> None:
        """Stop on the first non-finite batch statistic (``algos.finite``), naming what it depends on."""
        who, itr, size = type(self).__name__, getattr(self, "_itr", 0), self._batch_size()
        check_finite("reward", reward, itr, size, who, "The env returned it.")
        for name, x in (("value estimate (agent_info.value)", value), ("bootstrap value", bootstrap),
                        ("value of a truncated episode's final observation (timeout_value)", timeout_value)):
            check_finite(name, x, itr, size, who, "The model's output: a non-finite observation or weight causes it.")
        check_finite("advantage", advantage, itr, size, who)
        check_finite("return", return_, itr, size, who)

    def _batch_size(self) -> Optional[int]:
        spec = getattr(self, "batch_spec", None)
        return None if spec is None else int(spec.size) * getattr(self, "world_size", 1)

    def _valid(self, samples) -> Optional[np.ndarray]:
        valid = getattr(samples.env, "valid", None)
        if valid is None:
            valid = getattr(samples, "valid", None)
        if valid is not None:
            return np.asarray(valid.numpy() if isinstance(valid, torch.Tensor) else valid, dtype=np.float32)
        # Wait-reset blank slots (samplers.base.valid_mask), detected from the samples themselves, so
        # this works whatever mid_batch_reset the algorithm was initialised with.
        mask = valid_mask(samples)
        if isinstance(mask, torch.Tensor):
            mask = mask.cpu().numpy()
        return None if mask.all() else mask

    # --- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def _flat(x, n: int):
        """``[T, B, ...]`` → ``[T*B, ...]`` torch views, for every leaf of a structure."""
        return map_leaves(lambda a: _as_tensor(a).reshape((n,) + tuple(a.shape[2:])), x)

    def _zero_grad(self) -> None:
        self.zero_grad(self._params)

    def _clip_and_step(self) -> torch.Tensor:
        """Clip the global gradient norm (when ``max_grad_norm``), step the optimiser, count the update;
        returns the norm."""
        grad_norm = self.optimizer_step(self.optimizer, self._params, self.max_grad_norm,
                                        on_grad_norm=self._check_grad_norm, flat_grads=self._flat_grads)
        self.update_counter += 1
        return grad_norm

    def _check_grad_norm(self, grad_norm: torch.Tensor) -> None:
        if math.isfinite(grad_norm.item()):  # one scalar read per step; check_finite names what is wrong
            return
        check_finite("gradient norm", grad_norm, getattr(self, "_itr", 0), self._batch_size(), type(self).__name__,
                     "The loss or its gradients are non-finite.")

    @staticmethod
    def _explained_variance(value, return_, valid) -> float:
        v = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        return explained_variance(v, return_, valid)
