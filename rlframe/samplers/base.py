"""Sampler contracts: the batch spec, the samples structure, trajectory infos, the sampler interface.

A sampler fills a ``[T, B]`` :data:`Samples` buffer per iteration (``obtain_samples``) and runs
evaluation episodes (``evaluate_agent``). Every sampler (serial, cpu, gpu, alternating) has the
constructor of :class:`BaseSampler`, so swapping one for another is a one-line change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ConfigError

# Samples buffer layout, leading dims [T, B] for every field (bootstrap_value: [1, B]).
AgentSamples = namedarraytuple("AgentSamples", ["action", "prev_action", "agent_info"])
AgentSamplesBsv = namedarraytuple("AgentSamplesBsv", ["action", "prev_action", "agent_info", "bootstrap_value"])
EnvSamples = namedarraytuple(
    "EnvSamples",
    # observation[t] is what the agent saw before acting at t; reward/terminated/truncated/done/env_info
    # come from that step. timeout_value[t] is V(true final observation) when the episode was
    # truncated at t (0 elsewhere), so algorithms bootstrap from it and never from the reset observation.
    ["observation", "reward", "prev_reward", "terminated", "truncated", "done", "timeout_value", "env_info"],
)
Samples = namedarraytuple("Samples", ["agent", "env"])


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
                   rank: int = 0, world_size: int = 1) -> Any:
        """Build envs and buffers, validate the env/agent pair (shape checks), return ``examples``."""
        raise NotImplementedError

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        raise NotImplementedError

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        raise NotImplementedError

    def shutdown(self) -> None:
        """Release envs, processes and shared memory; always returns and is idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False
