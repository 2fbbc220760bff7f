"""``SerialSampler``: all envs stepped in the master process (rlpyt's SerialSampler).

The reference sampler: same constructor and interface as the parallel ones, same collectors, same
checks, so a launch script switches to ``CpuSampler`` by changing one line. Use it for debugging, for
cheap envs (one process stepping ``B`` CartPoles beats any IPC) and for tests.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from rlframe.samplers.base import BaseSampler, TrajInfo
from rlframe.samplers.collectors import close_envs, make_envs
from rlframe.samplers.setup import SamplerSetup, make_eval_collector, start_collector


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
        setup = SamplerSetup(self, seed, rank, world_size, traj_info_kwargs)
        self.seed, self.agent, self.mid_batch_reset = setup.seed, agent, setup.mid_batch_reset
        self.traj_info_factory = setup.traj_info_factory
        self.envs: List[Any] = []
        self.eval_envs: List[Any] = []
        self.envs = make_envs(self.EnvCls, self.env_kwargs, setup.train_seeds)
        self.eval_envs = make_envs(self.EnvCls, self.eval_env_kwargs, setup.eval_seeds)
        example = setup.probe(self.envs[0], self.eval_envs[0] if self.eval_envs else None)
        # The probe consumed random numbers of env 0 (and eval env 0): re-seed them so every sampler
        # starts each env from the same state for the same seed.
        _reseed(self.envs[0], setup.train_seeds[0])
        if self.eval_envs:
            _reseed(self.eval_envs[0], setup.eval_seeds[0])
        setup.initialize_agent(agent, self.envs[0], share_memory=False)
        self.samples_pyt, self.samples_np, examples = setup.build_buffer(
            agent, self.envs[0], example, bootstrap_value, final_observation, shared=False)
        self.collector = start_collector(
            setup.CollectorCls, rank=0, envs=self.envs, samples_np=self.samples_np, batch_T=self.batch_spec.T,
            TrajInfoCls=self.traj_info_factory, agent=agent, global_B=setup.global_B, env_ranks=setup.env_ranks,
            debug=self.debug, max_decorrelation_steps=self.max_decorrelation_steps,
            decorrelation_seed=[self.seed, rank])
        self.eval_collector = make_eval_collector(
            setup.EvalCollectorCls, rank=0, envs=self.eval_envs, TrajInfoCls=self.traj_info_factory, agent=agent,
            max_T=setup.eval_max_T, max_trajectories=self.eval_max_trajectories, env_ranks=setup.eval_ranks,
            obs_example=examples["observation"], action_example=examples["action"], debug=self.debug)
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
