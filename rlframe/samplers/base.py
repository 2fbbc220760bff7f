"""Sampler contracts: the batch spec, the samples structure, trajectory infos, the sampler interface.

A sampler fills a ``[T, B]`` :data:`Samples` buffer per iteration (``obtain_samples``) and runs
evaluation episodes (``evaluate_agent``). Every sampler (serial, cpu, gpu, alternating) has the
constructor of :class:`BaseSampler`, so swapping one for another is a one-line change.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ConfigError, ResumeWarning

# Samples buffer layout, leading dims [T, B] for every field (bootstrap_value: [1, B]).
AgentSamples = namedarraytuple("AgentSamples", ["action", "prev_action", "agent_info"])
AgentSamplesBsv = namedarraytuple("AgentSamplesBsv", ["action", "prev_action", "agent_info", "bootstrap_value"])
EnvSamples = namedarraytuple(
    "EnvSamples",
    # observation[t] is what the agent saw before acting at t; reward/terminated/truncated/done/env_info
    # come from that step. timeout_value[t] is V(true final observation) when the episode was
    # truncated at t (0 elsewhere), so algorithms bootstrap from it and never from the reset observation.
    # final_observation[t] (same structure as observation) is the env's true final observation when the
    # episode ended at t (terminated or truncated), zeros elsewhere; None unless the sampler was initialized
    # with final_observation=True (algorithms declare it: RlAlgorithm.final_observation). See next_observation
    # below for the rule that gives s' of every step.
    ["observation", "reward", "prev_reward", "terminated", "truncated", "done", "timeout_value", "env_info",
     "final_observation"],
    defaults=(None,),
)
Samples = namedarraytuple("Samples", ["agent", "env"])


def valid_mask(samples: Any) -> Any:
    """``[T, B]`` float32 mask: 1 for real env steps, 0 for the blank slots of a wait-reset collector.

    A wait-reset collector leaves an env idle after its episode ends; the slots until the next batch are
    blanks with ``done`` set but neither ``terminated`` nor ``truncated`` (a real step that sets ``done``
    always sets one of them). So this one rule works for samples of every collector, whatever
    ``mid_batch_reset`` the consumer was told: reset collectors give all ones. Returns a torch tensor for
    torch samples and a numpy array otherwise. Losses (PG) and replays (which must not store blanks) use it.
    """
    env = samples.env
    if isinstance(env.done, torch.Tensor):
        blank = env.done & ~(env.terminated | env.truncated)
        return (~blank).float()
    done, terminated, truncated = (np.asarray(x, dtype=bool) for x in (env.done, env.terminated, env.truncated))
    return (~(done & ~(terminated | truncated))).astype(np.float32)


def next_observation(samples: Any, next_batch_first_observation: Any = None) -> Any:
    """``s'`` of every step of a ``[T, B]`` batch sampled with ``final_observation=True`` (numpy samples).

    The rule (docs/samplers.md): ``s'[t] = final_observation[t]`` where ``done[t]``; else
    ``observation[t + 1]`` for ``t < T - 1``; else (``t = T - 1``, episode still running: collectors keep
    envs running across batches) the next batch's ``observation[0]``, passed as
    ``next_batch_first_observation`` (``[B, ...]``; without it that row is left as zeros). Wait-reset blank
    slots (see :func:`valid_mask`) get zeros: skip them. This builds a full copy of the observations; a replay
    that stores observations once applies the same rule by index instead.
    """
    env = samples.env
    if env.final_observation is None:
        raise ConfigError(
            "samples.env.final_observation is None: initialize the sampler with final_observation=True "
            "(runners pass the algorithm's final_observation attribute; set final_observation = True on it)."
        )
    done = np.asarray(env.done, dtype=bool)
    valid = valid_mask(samples).astype(bool)

    def leaf(obs: np.ndarray, final: np.ndarray, first: Optional[np.ndarray]) -> np.ndarray:
        nxt = np.zeros_like(obs)
        nxt[:-1] = obs[1:]
        if first is not None:
            nxt[-1] = first
        ended = (done & valid).reshape(done.shape + (1,) * (obs.ndim - 2))
        nxt = np.where(ended, final, nxt)
        return np.where(valid.reshape(ended.shape), nxt, np.zeros_like(nxt))

    if isinstance(env.observation, tuple):  # structured observations: apply the rule per field
        firsts = next_batch_first_observation or (None,) * len(env.observation)
        return type(env.observation)(*(leaf(o, f, n) for o, f, n in
                                       zip(env.observation, env.final_observation, firsts)))
    return leaf(env.observation, env.final_observation, next_batch_first_observation)


@dataclass(frozen=True)
class BatchSpec:
    """``T`` time steps by ``B`` envs per iteration (rlpyt's batch spec)."""

    T: int
    B: int

    def __post_init__(self):
        if int(self.T) < 1 or int(self.B) < 1:
            raise ConfigError(f"batch_T and batch_B must be >= 1, got T={self.T}, B={self.B}.")

    @property
    def size(self) -> int:
        return self.T * self.B


class TrajInfo:
    """Per-episode statistics, accumulated step by step by collectors.

    ``Return`` (undiscounted), ``DiscountedReturn``, ``Length`` and ``NonzeroRewards``; when the
    episode ends, numeric fields of the final ``env_info`` are copied as attributes (e.g. a cost the env
    reports at the end), so they show up in logs. Subclass and override :meth:`step` for more.
    """

    _discount = 1.0

    def __init__(self, discount: float = 1.0, **kwargs):
        self._discount = discount
        self._cur_discount = 1.0
        self.Length = 0
        self.Return = 0.0
        self.NonzeroRewards = 0
        self.DiscountedReturn = 0.0
        self.Terminated = False
        self.Truncated = False
        for k, v in kwargs.items():
            setattr(self, k, v)

    def step(self, observation, action, reward, terminated, truncated, agent_info, env_info) -> None:
        r = float(reward)
        self.Length += 1
        self.Return += r
        if r != 0:
            self.NonzeroRewards += 1
        cur, discount = self._cur_discount, self._discount
        self.DiscountedReturn += cur * r
        if discount != 1.0:  # cur * 1.0 == cur exactly: skip the store when undiscounted
            self._cur_discount = cur * discount

    def terminate(self, observation=None, terminated: bool = False, truncated: bool = False,
                  env_info: Any = None) -> "TrajInfo":
        self.Terminated, self.Truncated = bool(terminated), bool(truncated)
        if env_info is not None and hasattr(env_info, "_fields"):
            for k, v in zip(env_info._fields, env_info):
                try:
                    if getattr(v, "size", 1) == 1:
                        setattr(self, k, float(v))
                except (TypeError, ValueError):
                    pass
        return self

    def to_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class EpisodeStats:
    """:meth:`TrajInfo.step` for ``B`` envs at once, for the batched collector (``samplers/batched.py``) when the
    TrajInfo class keeps that method.

    The same float64 sums in the same order as ``B`` :class:`TrajInfo` objects (so the figures are identical,
    tests/samplers/test_batched.py), as a few numpy operations per time step instead of ``B`` Python calls.
    Loaded from the TrajInfo objects (:meth:`load` per env), stored back into them (:meth:`store`) before an
    episode's ``terminate`` and when the batch ends. ``Length`` is counted once for all envs (steps since each
    env was loaded); when every episode is undiscounted and its ``DiscountedReturn`` equals its ``Return`` (as
    from the start: both sums of the same rewards), one sum serves both.
    """

    def __init__(self, trajs: List[Any]):
        B = len(trajs)
        self.t = 0  # time steps so far
        self.length, self.loaded_at = np.zeros(B, np.int64), np.zeros(B, np.int64)
        self.nonzero = np.zeros(B, np.int64)
        self.ret, self.disc_ret = np.zeros(B), np.zeros(B)
        self.cur, self.discount = np.ones(B), np.ones(B)
        self.undiscounted = self.same_sums = True
        for b, traj in enumerate(trajs):
            self.load(b, traj)

    def load(self, b: int, traj: Any) -> None:
        self.length[b], self.loaded_at[b], self.nonzero[b] = traj.Length, self.t, traj.NonzeroRewards
        self.ret[b], self.disc_ret[b] = traj.Return, traj.DiscountedReturn
        self.cur[b], self.discount[b] = traj._cur_discount, traj._discount
        discounted = traj._discount != 1.0 or traj._cur_discount != 1.0
        if self.same_sums and (discounted or traj.DiscountedReturn != traj.Return):
            # From now on DiscountedReturn is summed apart; every other env's equals its Return so far.
            self.disc_ret[:] = self.ret
            self.disc_ret[b] = traj.DiscountedReturn
            self.same_sums = False
        if discounted:
            self.undiscounted = False

    def step(self, reward: Any) -> None:
        """One step of every env (``reward``: ``[B]`` numbers)."""
        r = np.asarray(reward)  # float64 sums: numpy casts float32 (or integer) rewards exactly, without a copy
        self.t += 1
        self.nonzero += r != 0
        self.ret += r
        if self.undiscounted:  # cur stays exactly 1.0 (TrajInfo skips the product too)
            if not self.same_sums:
                self.disc_ret += r
            return
        self.disc_ret += self.cur * r
        self.cur *= self.discount  # x * 1.0 == x exactly: undiscounted envs keep 1.0 as TrajInfo does

    def store(self, b: int, traj: Any) -> None:
        # .item(): the Python int/float of an element without numpy scalar arithmetic (same values)
        traj.Length = self.length.item(b) + self.t - self.loaded_at.item(b)
        traj.NonzeroRewards = self.nonzero.item(b)
        traj.Return = ret = self.ret.item(b)
        traj.DiscountedReturn = ret if self.same_sums else self.disc_ret.item(b)
        traj._cur_discount = self.cur.item(b)


class BaseSampler:
    """What every sampler takes and offers (rlpyt's constructor, kept).

    Args:
        EnvCls: callable making one env (``GymEnv`` or any class following ``rlframe.envs.base``).
        env_kwargs: keyword arguments for training envs.
        batch_T, batch_B: time steps and envs per iteration.
        CollectorCls: training collector class (reset or wait-reset); None picks the default.
        max_decorrelation_steps: random-action steps per env before the first batch (0: none).
        TrajInfoCls, TrajInfo_kwargs: per-episode statistics class.
        eval_n_envs, eval_env_kwargs, eval_max_steps, eval_max_trajectories: evaluation set-up
            (``eval_n_envs=0`` turns evaluation off; ``eval_max_steps`` is required with eval envs, and
            evaluation stops at whichever bound comes first).
        debug: validate every step (shapes, bounds, NaN/inf) and name the env index and step.
    """

    alternating = False
    mid_batch_reset = True  # the training collector's (ResetCollector: True; WaitResetCollector: False)

    def __init__(
        self,
        EnvCls: Callable,
        env_kwargs: Optional[Dict[str, Any]] = None,
        batch_T: int = 1,
        batch_B: int = 1,
        CollectorCls: Optional[type] = None,
        max_decorrelation_steps: int = 100,
        TrajInfoCls: type = TrajInfo,
        TrajInfo_kwargs: Optional[Dict[str, Any]] = None,
        eval_n_envs: int = 0,
        eval_CollectorCls: Optional[type] = None,
        eval_env_kwargs: Optional[Dict[str, Any]] = None,
        eval_max_steps: Optional[int] = None,
        eval_max_trajectories: Optional[int] = None,
        debug: bool = False,
    ):
        self.EnvCls = EnvCls
        self.env_kwargs = dict(env_kwargs or {})
        self.batch_spec = BatchSpec(batch_T, batch_B)
        self.CollectorCls = CollectorCls
        if CollectorCls is not None:
            self.mid_batch_reset = bool(CollectorCls.mid_batch_reset)
        self.max_decorrelation_steps = int(max_decorrelation_steps)
        self.TrajInfoCls = TrajInfoCls
        self.TrajInfo_kwargs = dict(TrajInfo_kwargs or {})
        self.eval_n_envs = int(eval_n_envs)
        self.eval_CollectorCls = eval_CollectorCls
        self.eval_env_kwargs = dict(eval_env_kwargs if eval_env_kwargs is not None else self.env_kwargs)
        self.eval_max_steps = None if eval_max_steps is None else int(eval_max_steps)
        self.eval_max_trajectories = None if eval_max_trajectories is None else int(eval_max_trajectories)
        self.debug = bool(debug)
        if self.eval_n_envs > 0 and self.eval_max_steps is None:
            raise ConfigError(
                "evaluation needs a bound: give eval_max_steps (total env steps per evaluation, e.g. "
                "eval_n_envs x the env's episode limit), optionally with eval_max_trajectories; a step bound "
                "is required because an env that never ends would otherwise evaluate forever."
            )

    def initialize(self, agent, affinity: Optional[dict] = None, seed: Optional[int] = None,
                   bootstrap_value: bool = False, traj_info_kwargs: Optional[dict] = None,
                   rank: int = 0, world_size: int = 1, final_observation: bool = False) -> Any:
        """Build envs and buffers, validate the env/agent pair (shape checks), return ``examples``.

        ``bootstrap_value``: allocate ``samples.agent.bootstrap_value`` (V after the last step, PG).
        ``final_observation``: allocate ``samples.env.final_observation`` (true final observations, for
        algorithms that bootstrap from ``s'``: Q-learning); otherwise that field is None.
        """
        raise NotImplementedError

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        raise NotImplementedError

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        raise NotImplementedError

    # --- exact resume (docs/scaling.md, "Resume guarantees") -------------------------------------------------
    #: True when :meth:`state_dict` saves everything the sampler carries between iterations (env states,
    #: the collector's step buffers and in-progress TrajInfos, the agent's sampling state), so a resumed run
    #: continues bit-exactly; False: a resumed run starts fresh episodes in every env (runners warn).
    exact_resume = False

    def state_dict(self) -> Dict[str, Any]:
        """What a resumed run needs to continue this sampler exactly (plain values, tensors and bytes, so the
        checkpoint stays readable with ``torch.load(weights_only=True)``); ``{}`` here: nothing is saved."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> bool:
        """Continue from :meth:`state_dict`'s output, after :meth:`initialize`; returns True when every training
        env continues its episode (False when some were reset instead, with a
        :class:`~rlframe.errors.ResumeWarning` naming them). Nothing to restore here."""
        return False

    def warn_unsaved_envs(self, label: str, saved: List[Dict[str, Any]], resuming: bool = False) -> None:
        """A :class:`~rlframe.errors.ResumeWarning` for each env of ``saved`` (``collectors.save_env_states``
        entries, in global env order) that holds no state: once per env when saving, always when resuming."""
        warned = self.__dict__.setdefault("_warned_unsaved", set())
        for i, entry in enumerate(saved):
            if entry["state"] is not None or (not resuming and (label, i) in warned):
                continue
            warned.add((label, i))
            what = ("starts a new episode (reset with a fresh seed)" if label == "train env"
                    else "continues from a fresh seed")
            when = "the checkpoint holds no state of" if resuming else "checkpoints cannot save the state of"
            warnings.warn(
                f"exact resume: {when} {label} {i} '{entry['id']}' ({entry['why']}); a resumed run {what} in that "
                "env instead of continuing it, so it is not bit-exact. To make it exact, let the env pickle, or "
                "derive it from rlframe.envs.base.Env and implement get_state / set_state.", ResumeWarning,
                stacklevel=3)

    def shutdown(self) -> None:
        """Release envs, processes and shared memory; always returns and is idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False
