"""``ReplayAlgorithm``: the off-policy loop every replay-based algorithm (DQN, C51, R2D1, DDPG, TD3, SAC) shares.

rlpyt's off-policy algorithms (Stooke & Abbeel, 2019) each repeat the same loop; here it lives once:

1. ``initialize`` builds the replay from the sampler's ``examples`` (so its fields have the env's and
   agent's shapes; a later batch that does not fit is a ``ShapeMismatchError``), then the subclass's
   optimizers (:meth:`ReplayAlgorithm.build_optimizers`), and copies the online networks into the targets.
2. ``optimize_agent(itr, samples)`` appends the batch; once ``min_steps_learn`` env steps are stored it
   runs the gradient updates owed: ``replay_ratio`` updates per env step, the fractional part carried to
   the next iteration (``replay_ratio=0.25``: one update every 4 env steps, SB3's ``train_freq=4``).
   Each update samples ``batch_size`` transitions and calls the subclass's
   :meth:`ReplayAlgorithm.train_step`, whose ``td_abs`` becomes the new priorities under prioritized replay.
3. Target networks follow the online ones every ``target_update_interval`` env steps, with
   ``update_targets(target_update_tau)`` (1: hard copy, Mnih et al. 2015; < 1: Polyak averaging,
   Lillicrap et al. 2016). The updates of one iteration are spread over its env steps, so the cadence is
   the same whatever ``batch_T * batch_B`` is (``target_update_interval=1`` with ``tau=0.005``: one soft
   update per env step, as SAC and TD3 do with one gradient step per env step).
4. Prioritized replay's ``beta`` is annealed linearly from ``pri_beta_init`` to ``pri_beta_final`` over
   ``pri_beta_steps`` env steps (Schaul et al., 2016).

A subclass implements :meth:`build_optimizers`, :meth:`train_step`, :meth:`update_targets` and, for what
a resume needs beyond the counters and the target networks kept here (e.g. SAC's temperature), :meth:`state_dict`
/ :meth:`load_state_dict` calling ``super()``; its ``opt_info_fields`` name the keys ``train_step`` returns
(logged as ``train/<key>``, the mean over the interval's updates). A replay other than the four built in
(e.g. sequence replay) comes from overriding :meth:`build_replay` (with :meth:`replay_init_kwargs`).

Target networks belong to the agent (it evaluates them) and travel in this algorithm's ``state_dict`` under
``target_model`` (:meth:`ReplayAlgorithm.target_state_dict`, which asks the agent: DQN's and the QPG agents
provide ``target_state_dict()`` / ``load_target_state_dict(state)``), so an agent's own ``state_dict`` is what
acting needs and a checkpoint resumes with the targets.
"""
from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Dict, Mapping, Optional, Tuple, Type

import numpy as np
import torch

from rlframe.algos.base import RlAlgorithm
from rlframe.errors import ConfigError
from rlframe.replays import (FrameReplayBuffer, PrioritizedFrameReplayBuffer, PrioritizedReplayBuffer,
                             UniformReplayBuffer)


_OPT_INFO_TYPES: Dict[type, type] = {}


def replay_class(prioritized: bool, frames: bool) -> type:
    """The built-in replay for a choice of prioritized sampling and frame storage."""
    return {(False, False): UniformReplayBuffer, (True, False): PrioritizedReplayBuffer,
            (False, True): FrameReplayBuffer, (True, True): PrioritizedFrameReplayBuffer}[(bool(prioritized),
                                                                                           bool(frames))]


class ReplayAlgorithm(RlAlgorithm):
    """Base of replay-based algorithms; see the module docstring for the loop.

    Args:
        discount: gamma.
        n_step_return: rewards summed before bootstrapping (computed by the replay).
        replay_size: replay capacity in env steps.
        batch_size: transitions per gradient update.
        min_steps_learn: env steps in the replay before the first update (also after a resume whose replay
            was not saved: the replay fills again first).
        replay_ratio: gradient updates per env step (fractions carry over between iterations).
        target_update_interval: env steps between target updates.
        target_update_tau: 1 for hard copies, < 1 for Polyak averaging ``target <- tau * online + (1 - tau) * target``.
        prioritized_replay: proportional prioritized replay (Schaul et al., 2016).
        pri_alpha, pri_beta_init, pri_beta_final, pri_beta_steps, pri_eps: its priority exponent, importance
            weight exponent schedule (``pri_beta_steps`` env steps; None: the whole run) and priority offset.
        frame_replay: store stacked-frame observations one frame per step (Atari).
        ReplayCls, replay_kwargs: another replay class / extra constructor arguments.
        learning_rate: the optimizers' learning rate (used by subclasses' :meth:`build_optimizers`).
        clip_grad_norm: clip each update's global gradient norm (None: no clipping).
    """

    final_observation = True  # n-step targets bootstrap from the true final observation on truncation
    bootstrap_value = False
    replay: Any = None
    shared_replay = False  # build the replay in shared memory (AsyncRl sets it: a sampler process appends)

    def __init__(self, discount: float = 0.99, n_step_return: int = 1, replay_size: int = 100_000,
                 batch_size: int = 32, min_steps_learn: int = 1000, replay_ratio: float = 1.0,
                 target_update_interval: int = 1000, target_update_tau: float = 1.0,
                 prioritized_replay: bool = False, pri_alpha: float = 0.6, pri_beta_init: float = 0.4,
                 pri_beta_final: float = 1.0, pri_beta_steps: Optional[int] = None, pri_eps: float = 1e-6,
                 frame_replay: bool = False, ReplayCls: Optional[Type] = None,
                 replay_kwargs: Optional[Mapping[str, Any]] = None, learning_rate: float = 1e-3,
                 clip_grad_norm: Optional[float] = None):
        if not 0.0 <= discount <= 1.0:
            raise ConfigError(f"discount must lie in [0, 1], got {discount}.")
        if int(batch_size) < 1 or int(replay_size) < 1 or int(n_step_return) < 1:
            raise ConfigError(f"batch_size, replay_size and n_step_return must be >= 1, got {batch_size}, "
                              f"{replay_size}, {n_step_return}.")
        if not replay_ratio > 0:
            raise ConfigError(f"replay_ratio (gradient updates per env step) must be > 0, got {replay_ratio}.")
        if int(target_update_interval) < 1 or not 0.0 < target_update_tau <= 1.0:
            raise ConfigError(f"target_update_interval must be >= 1 env step and target_update_tau in (0, 1]; got "
                              f"{target_update_interval} and {target_update_tau}.")
        self.discount = float(discount)
        self.n_step_return = int(n_step_return)
        self.replay_size = int(replay_size)
        self.batch_size = int(batch_size)
        self.min_steps_learn = int(min_steps_learn)
        self.replay_ratio = float(replay_ratio)
        self.target_update_interval = int(target_update_interval)
        self.target_update_tau = float(target_update_tau)
        self.prioritized_replay = bool(prioritized_replay)
        self.pri_alpha, self.pri_eps = float(pri_alpha), float(pri_eps)
        self.pri_beta_init, self.pri_beta_final = float(pri_beta_init), float(pri_beta_final)
        self.pri_beta_steps = None if pri_beta_steps is None else int(pri_beta_steps)
        self.frame_replay = bool(frame_replay)
        self.ReplayCls = ReplayCls
        self.replay_kwargs = dict(replay_kwargs or {})
        self.learning_rate = float(learning_rate)
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        self.env_steps = 0
        self.update_counter = 0
        self._update_credit = 0.0
        self._target_clock = 0.0

    # --- what subclasses implement ---------------------------------------------------------------------
    def build_optimizers(self) -> None:
        """Create the optimizers (``self.optimizer``, or several with :meth:`optim_state_dict` overridden)."""
        raise NotImplementedError

    def train_step(self, batch: Any) -> Tuple[Dict[str, float], Optional[torch.Tensor]]:
        """One gradient update on a replay batch; returns ``(info, td_abs)``: ``info`` maps each of
        ``opt_info_fields`` to a number, ``td_abs`` (``[batch_size]``, or None) gives new priorities."""
        raise NotImplementedError

    def update_targets(self, tau: float) -> None:
        """Move the target networks towards the online ones: ``target <- tau * online + (1 - tau) * target``."""
        raise NotImplementedError

    # --- set-up ----------------------------------------------------------------------------------------
    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = True,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        """Build the replay from ``examples`` (what ``sampler.initialize`` returned) and the optimizers."""
        if examples is None:
            raise ConfigError(f"{type(self).__name__}.initialize needs the sampler's examples (the value "
                              "sampler.initialize returns) to build its replay; runners pass them.")
        self.agent = agent
        self.n_itr = max(int(n_itr), 1)
        self.batch_spec = batch_spec
        self.mid_batch_reset = bool(mid_batch_reset)
        self.world_size, self.rank = int(world_size), int(rank)
        if self.pri_beta_steps is None:
            self.pri_beta_steps = max(self.n_itr * int(batch_spec.size) - self.min_steps_learn, 1)
        self.replay = self.build_replay(examples, batch_spec)
        self.build_optimizers()
        self.update_targets(1.0)

    def build_replay(self, examples: Mapping[str, Any], batch_spec) -> Any:
        """The replay this algorithm samples from (override for other kinds, e.g. sequence replay, with
        :meth:`replay_init_kwargs` for the common constructor arguments)."""
        Cls = self.ReplayCls or replay_class(self.prioritized_replay, self.frame_replay)
        return Cls(examples, **self.replay_init_kwargs(batch_spec))

    def replay_init_kwargs(self, batch_spec, **extra: Any) -> Dict[str, Any]:
        """Constructor arguments of a replay for this algorithm: size, ``B``, discount, n-step, a seed from
        numpy's global generator (seeded by the runner), the prioritized ones when ``prioritized_replay``,
        then ``extra`` (a replay kind's own arguments) and ``replay_kwargs`` (the user's, last)."""
        if self.replay_size < 2 * int(batch_spec.size):
            raise ConfigError(f"replay_size {self.replay_size} is smaller than two sampler batches "
                              f"({batch_spec.T} x {batch_spec.B} x 2); raise replay_size.")
        kwargs: Dict[str, Any] = dict(size=self.replay_size, B=int(batch_spec.B), discount=self.discount,
                                      n_step_return=self.n_step_return, seed=int(np.random.randint(0, 2**31 - 1)))
        if self.shared_replay:
            kwargs["shared"] = True
        if self.prioritized_replay:
            kwargs.update(alpha=self.pri_alpha, beta=self.pri_beta_init, eps=self.pri_eps)
        kwargs.update(extra)
        kwargs.update(self.replay_kwargs)
        return kwargs

    # --- the loop ----------------------------------------------------------------------------------------
    def optimize_agent(self, itr: int, samples: Any) -> Any:
        """Store ``samples``, run the updates owed (see the module docstring); returns the OptInfo of lists.
        ``samples=None``: the batch is in the replay already (``AsyncRl``: the sampler process appended it)."""
        if samples is not None:
            self.replay.append_samples(samples)
        steps0 = self.env_steps
        self.env_steps += int(self.batch_spec.size)
        opt_info = self.make_opt_info()
        lo, hi = self.replay.sampleable_range()
        if len(self.replay) < min(self.min_steps_learn, self.replay.size) or hi <= lo:
            self._target_clock = float(self.env_steps)
            return opt_info
        if self.prioritized_replay:
            self.replay.set_beta(self.beta_at(self.env_steps))
        self._update_credit += (self.env_steps - steps0) * self.replay_ratio
        n_updates = int(self._update_credit)
        self._update_credit -= n_updates
        for j in range(n_updates):
            batch = self.replay.sample_batch(self.batch_size)
            info, td_abs = self.train_step(batch)
            if self.prioritized_replay and td_abs is not None:
                self.replay.update_batch_priorities(td_abs)
            self.update_counter += 1
            self._record(opt_info, info)
            self._advance_targets(steps0 + (j + 1) * (self.env_steps - steps0) / n_updates)
        self._advance_targets(float(self.env_steps))
        return opt_info

    @classmethod
    def make_opt_info(cls) -> Any:
        """An empty OptInfo (lists per field), of one namedtuple class per algorithm class: building the class
        costs ~0.2 ms, once per sampler iteration, which with one env step per iteration (SAC) was ~3% of an
        update."""
        OptInfo = _OPT_INFO_TYPES.get(cls)
        if OptInfo is None or OptInfo._fields != tuple(cls.opt_info_fields):
            OptInfo = _OPT_INFO_TYPES[cls] = namedtuple("OptInfo", cls.opt_info_fields)
        return OptInfo(*([] for _ in cls.opt_info_fields))

    def _record(self, opt_info: Any, info: Mapping[str, Any]) -> None:
        fields = opt_info._fields
        for k, v in info.items():
            if k not in fields:
                raise ConfigError(f"{type(self).__name__}.train_step returned '{k}', which is not in its "
                                  f"opt_info_fields {fields}; declare it there to log it as train/{k}.")
            getattr(opt_info, k).append(float(v.item() if isinstance(v, torch.Tensor) else v))

    def _advance_targets(self, clock: float) -> None:
        """Run the target updates due between the last target clock and ``clock`` (env steps)."""
        due = math.floor(clock / self.target_update_interval) - math.floor(self._target_clock
                                                                          / self.target_update_interval)
        self._target_clock = clock
        if due <= 0:
            return
        tau = self.target_update_tau
        self.update_targets(1.0 if tau >= 1.0 else 1.0 - (1.0 - tau) ** due)

    def beta_at(self, env_steps: int) -> float:
        """Prioritized replay's importance-sampling exponent at ``env_steps``."""
        frac = min(max(env_steps - self.min_steps_learn, 0) / max(self.pri_beta_steps or 1, 1), 1.0)
        return self.pri_beta_init + frac * (self.pri_beta_final - self.pri_beta_init)

    # --- logging and checkpoints -------------------------------------------------------------------------
    def log_values(self) -> Dict[str, float]:
        values = {"replay/size": float(len(self.replay)) if self.replay is not None else 0.0}
        if self.prioritized_replay and self.replay is not None:
            values["replay/beta"] = float(self.replay.beta)
        return values

    def state_dict(self) -> Dict[str, Any]:
        """Counters, the replay's random generator and the agent's target networks (``target_model``, from
        ``agent.target_state_dict()``; subclasses add what else a resume needs, e.g. SAC's temperature)."""
        return {"env_steps": self.env_steps, "update_credit": self._update_credit,
                "target_clock": self._target_clock,
                "replay_rng": None if self.replay is None else self.replay.rng.bit_generator.state,
                "target_model": None if getattr(self, "agent", None) is None else self.target_state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.env_steps = int(state["env_steps"])
        self._update_credit = float(state["update_credit"])
        self._target_clock = float(state["target_clock"])
        if state.get("replay_rng") is not None and self.replay is not None:
            self.replay.rng.bit_generator.state = state["replay_rng"]
        if state.get("target_model") is not None:
            self.load_target_state_dict(state["target_model"])

    def target_state_dict(self) -> Dict[str, Any]:
        """The target networks' weights (the agent's: ``agent.target_state_dict()``)."""
        return self.agent.target_state_dict()

    def load_target_state_dict(self, state: Mapping[str, Any]) -> None:
        self.agent.load_target_state_dict(state)
