"""``SerialSampler``: all envs stepped in the master process (rlpyt's SerialSampler).

The reference sampler: same constructor and interface as the parallel ones, same collectors, same
checks, so a launch script switches to ``CpuSampler`` by changing one line. Use it for debugging, for
cheap envs (one process stepping ``B`` CartPoles beats any IPC) and for tests.
"""
from __future__ import annotations

import functools
import math
from typing import Any, List, Optional, Tuple

import numpy as np

from rlframe.core.seeding import env_seeds, make_seed
from rlframe.samplers.base import BaseSampler, TrajInfo
from rlframe.samplers.buffer import build_samples_buffer
from rlframe.samplers.checks import check_eval_env, probe_env
from rlframe.samplers.collectors import EvalCollector, ResetCollector, close_envs, make_envs


class SerialSampler(BaseSampler):
    """Steps ``batch_B`` envs in this process; see :class:`~rlframe.samplers.base.BaseSampler` for the
    constructor arguments (``CollectorCls`` defaults to :class:`ResetCollector`).

    ``initialize`` builds and seeds the envs, validates one train env and one eval env and the agent's
    example step (``samplers.checks``), allocates the samples buffer and decorrelates the envs.
    ``obtain_samples`` returns the same numpy buffer every iteration (overwritten by the next call):
    algorithms torchify it (zero copy) and must be done with it before the next call.
    The runner calls ``agent.sample_mode(itr)`` before ``obtain_samples``; ``evaluate_agent`` puts the
    agent in eval mode itself. ``affinity`` is accepted for interface compatibility: everything runs in the
    master, whose CPU pinning and torch threads the runner applies.
    """

    def initialize(
        self,
        agent: Any,
        affinity: Optional[dict] = None,
        seed: Optional[int] = None,
        bootstrap_value: bool = False,
        traj_info_kwargs: Optional[dict] = None,
        rank: int = 0,
        world_size: int = 1,
        final_observation: bool = False,
    ) -> dict:
        B = self.batch_spec.B
        global_B = B * world_size
        env_ranks = list(range(rank * B, (rank + 1) * B))
        self.seed = make_seed(seed)
        train_seeds, eval_seeds = env_seeds(self.seed, global_B, self.eval_n_envs * world_size)
        self.agent = agent
        self.envs: List[Any] = []
        self.eval_envs: List[Any] = []
        self.envs = make_envs(self.EnvCls, self.env_kwargs, train_seeds[rank * B:(rank + 1) * B])
        n_eval = self.eval_n_envs
        self.eval_envs = make_envs(self.EnvCls, self.eval_env_kwargs, eval_seeds[rank * n_eval:(rank + 1) * n_eval])

        example = probe_env(self.envs[0], "train env")
        if self.eval_envs:
            check_eval_env(self.envs[0], self.eval_envs[0])
        # The probe consumed random numbers of env 0 (and eval env 0): re-seed them so every sampler
        # starts each env from the same state for the same seed.
        _reseed(self.envs[0], train_seeds[rank * B])
        if self.eval_envs:
            _reseed(self.eval_envs[0], eval_seeds[rank * n_eval])
        agent.initialize(self.envs[0].spaces, share_memory=False, global_B=global_B, env_ranks=env_ranks)
        self.samples_pyt, self.samples_np, examples = build_samples_buffer(
            agent, self.envs[0], self.batch_spec, bootstrap_value, agent_shared=False, env_shared=False,
            example=example, final_observation=final_observation,
        )
        kwargs = {**self.TrajInfo_kwargs, **(traj_info_kwargs or {})}
        self.traj_info_factory = functools.partial(self.TrajInfoCls, **kwargs) if kwargs else self.TrajInfoCls
        CollectorCls = self.CollectorCls or ResetCollector
        self.collector = CollectorCls(
            rank=0, envs=self.envs, samples_np=self.samples_np, batch_T=self.batch_spec.T,
            TrajInfoCls=self.traj_info_factory, agent=agent, global_B=global_B, env_ranks=env_ranks,
            debug=self.debug,
        )
        self.mid_batch_reset = CollectorCls.mid_batch_reset
        self.collector.start_envs(self.max_decorrelation_steps, rng=np.random.default_rng([self.seed, rank]))
        self.collector.start_agent()
        self.eval_collector = None
        if self.eval_envs:
            max_T = math.ceil(self.eval_max_steps / n_eval) if self.eval_max_steps else 10**12
            EvalCls = self.eval_CollectorCls or EvalCollector
            self.eval_collector = EvalCls(
                rank=0, envs=self.eval_envs, TrajInfoCls=self.traj_info_factory, agent=agent, max_T=max_T,
                max_trajectories=self.eval_max_trajectories,
                env_ranks=list(range(rank * n_eval, (rank + 1) * n_eval)),
                obs_example=examples["observation"], action_example=examples["action"], debug=self.debug,
            )
        self.examples = examples
        return examples

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        """One ``[T, B]`` batch: ``(samples (numpy Samples), traj_infos of episodes completed in it)``."""
        traj_infos = self.collector.collect_batch(itr)
        return self.samples_np, traj_infos

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        """Run evaluation episodes (agent in eval mode); returns their TrajInfos ([] without eval envs)."""
        if self.eval_collector is None:
            return []
        self.agent.eval_mode(itr)
        return self.eval_collector.collect_evaluation(itr)

    def shutdown(self) -> None:
        close_envs(getattr(self, "envs", []))
        close_envs(getattr(self, "eval_envs", []))
        self.envs, self.eval_envs = [], []


def _reseed(env: Any, seed: int) -> None:
    if hasattr(env, "seed"):
        env.seed(seed)
