"""``SerialSampler``: all envs stepped in the master process (rlpyt's SerialSampler).

The reference sampler: same constructor and interface as the parallel ones, same collectors, same
checks, so a launch script switches to ``CpuSampler`` by changing one line. Use it for debugging, for
cheap envs (one process stepping ``B`` CartPoles beats any IPC) and for tests. With a batched env backend
(``EnvCls`` a ``rlframe.envs.vector.BatchedEnv``, e.g. ``EnvPoolEnv``) it builds one env of ``batch_B`` envs
and steps it with ``samplers.batched.BatchedResetCollector``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rlframe.envs.vector import is_batched_env_class
from rlframe.samplers.base import BaseSampler, TrajInfo
from rlframe.samplers.batched import (
    BatchedResetCollector, make_batched_env, make_batched_eval_envs, probe_batched_env,
)
from rlframe.samplers.collectors import close_envs, load_sampling_state, make_envs, sampling_state
from rlframe.samplers.setup import SamplerSetup, make_eval_collector, start_collector
from rlframe.samplers.watchdog import EnvWatchdog


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

    ``worker_timeout`` (seconds one env ``reset``/``step`` may take, the pre-flight probe's included) is the
    parallel samplers' argument (``start_timeout`` is accepted for the same constructor): a hanging env ends
    in :class:`~rlframe.errors.EnvTimeoutError` naming the env, the call and the timeout (``samplers.watchdog``).

    Exact resume (``exact_resume = True``): :meth:`state_dict` holds every train and eval env's state
    (``Env.get_state``) and the training collector's carried state, so a run resumed from a checkpoint
    continues bit-exactly (docs/scaling.md, "Resume guarantees"). An env that cannot be saved is named in a
    :class:`~rlframe.errors.ResumeWarning` (once, at the first checkpoint) and reset when the run resumes.
    """

    exact_resume = True

    def __init__(self, *args: Any, worker_timeout: float = 60.0, start_timeout: float = 120.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.worker_timeout = float(worker_timeout)
        self.start_timeout = float(start_timeout)
        self.watchdog = EnvWatchdog(self.worker_timeout)

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
        if is_batched_env_class(self.EnvCls):  # one env stepping the whole batch (rlframe.envs.vector)
            self.envs = [make_batched_env(self, setup.train_seeds)]
            self.eval_envs = make_batched_eval_envs(self.envs[0], setup.eval_seeds)
            self._state_envs = (list(self.envs), list(self.eval_envs))
            example = probe_batched_env(self.envs[0])
            self.envs[0].seed(setup.train_seeds)
            setup.CollectorCls = BatchedResetCollector
        else:
            self.envs = make_envs(self.EnvCls, self.env_kwargs, setup.train_seeds)
            self.eval_envs = make_envs(self.EnvCls, self.eval_env_kwargs, setup.eval_seeds)
            self._state_envs = (list(self.envs), list(self.eval_envs))  # unwatched: their own state API
            self.envs, self.eval_envs = self.watchdog.watch(self.envs), self.watchdog.watch(self.eval_envs, "eval env")
            example = setup.probe(self.envs[0], self.eval_envs[0] if self.eval_envs else None,
                                  timeout=self.worker_timeout)
            # The probe consumed random numbers of env 0 (and eval env 0): re-seed them so every sampler
            # starts each env from the same state for the same seed.
            _reseed(self.envs[0], setup.train_seeds[0])
            if self.eval_envs:
                _reseed(self.eval_envs[0], setup.eval_seeds[0])
        self.watchdog.start()
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

    # --- exact resume ---------------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Train and eval env states and the training collector's carried state (``collectors.sampling_state``)."""
        state = dict(sampling_state(self.collector, *self._state_envs), sampler=type(self).__name__)
        self.warn_unsaved_envs("train env", state["envs"])
        self.warn_unsaved_envs("eval env", state["eval_envs"])
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> bool:
        """Set every env's state and the collector's; envs saved without a state are reset (a warning names
        each). Returns True when every train env continues its episode."""
        missing = load_sampling_state(self.collector, *self._state_envs, state)
        self.warn_unsaved_envs("train env", state["envs"], resuming=True)
        self.warn_unsaved_envs("eval env", state["eval_envs"], resuming=True)
        return not missing

    def shutdown(self) -> None:
        self.watchdog.stop()
        close_envs(getattr(self, "envs", []))
        close_envs(getattr(self, "eval_envs", []))
        self.envs, self.eval_envs = [], []


def _reseed(env: Any, seed: int) -> None:
    if hasattr(env, "seed"):
        env.seed(seed)
