"""The one set-up path of every sampler's ``initialize``, in named steps.

rlpyt's ``ParallelSamplerBase.initialize`` (Stooke & Abbeel, 2019) reads as a list of steps: env ranks,
an example env to initialize the agent, buffers from its examples, the TrajInfo set-up, the eval share,
then the workers. Here those steps live once, for the serial sampler (``samplers/serial.py``, which then
steps its envs in the master) and the parallel ones (``samplers/parallel/base.py``, which then starts
workers that build the same collectors with :func:`start_collector` / :func:`make_eval_collector`):

1. :class:`SamplerSetup` (constructor): this rank's env indices and seeds (one ``SeedSequence`` tree), the
   TrajInfo factory, the collector classes and the eval episode bound ``eval_max_T``;
2. :meth:`SamplerSetup.probe`: reset and step one train env (and compare one eval env's spaces with it),
   the shape checks of ``samplers/checks.py``;
3. :meth:`SamplerSetup.initialize_agent`: ``agent.initialize`` with the env's spaces and this rank's envs;
4. :meth:`SamplerSetup.build_buffer`: the ``[T, B]`` samples buffer from the validated examples
   (``samplers/buffer.py``), in shared memory for parallel samplers.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from rlframe.core.seeding import env_seeds, make_seed
from rlframe.samplers.buffer import build_samples_buffer
from rlframe.samplers.checks import EnvExample, check_eval_env, probe_env
from rlframe.samplers.collectors import EvalCollector, ResetCollector


class SamplerSetup:
    """What a sampler's ``initialize`` works out before it builds anything, and the steps that follow.

    Attributes (after construction):
        seed: the run's sampler seed (``make_seed(seed)``).
        B, global_B: envs of this rank and of all ranks; ``env_ranks``: this rank's global env indices.
        train_seeds, eval_seeds: one seed per train / eval env of this rank.
        eval_ranks: this rank's global eval-env indices.
        traj_info_factory: ``TrajInfoCls`` with the sampler's and the runner's TrajInfo kwargs bound.
        CollectorCls, EvalCollectorCls: the collector classes (defaults: reset collector, eval collector).
        mid_batch_reset: the training collector's ``mid_batch_reset``.
        eval_max_T: steps per eval env so that all eval envs together make at most ``eval_max_steps``.
    """

    def __init__(self, sampler: Any, seed: Optional[int], rank: int = 0, world_size: int = 1,
                 traj_info_kwargs: Optional[dict] = None):
        B, n_eval = sampler.batch_spec.B, sampler.eval_n_envs
        self.B, self.global_B = B, B * world_size
        self.env_ranks = list(range(rank * B, (rank + 1) * B))
        self.seed = make_seed(seed)
        train_seeds, eval_seeds = env_seeds(self.seed, self.global_B, n_eval * world_size)
        self.train_seeds = train_seeds[rank * B:(rank + 1) * B]
        self.eval_seeds = eval_seeds[rank * n_eval:(rank + 1) * n_eval]
        self.eval_ranks = list(range(rank * n_eval, (rank + 1) * n_eval))
        kwargs = {**sampler.TrajInfo_kwargs, **(traj_info_kwargs or {})}
        self.traj_info_factory = (functools.partial(sampler.TrajInfoCls, **kwargs) if kwargs
                                  else sampler.TrajInfoCls)
        self.CollectorCls = sampler.CollectorCls or ResetCollector
        self.EvalCollectorCls = sampler.eval_CollectorCls or EvalCollector
        self.mid_batch_reset = bool(self.CollectorCls.mid_batch_reset)
        self.eval_max_T = math.ceil(sampler.eval_max_steps / n_eval) if n_eval and sampler.eval_max_steps else 10**12
        self.batch_spec = sampler.batch_spec

    @staticmethod
    def probe(train_env: Any, eval_env: Any = None) -> EnvExample:
        """Shape checks on one train env (reset + one random step) and, when given, one eval env (same
        spaces as the train env); returns the train env's example."""
        example = probe_env(train_env, "train env")
        if eval_env is not None:
            check_eval_env(train_env, eval_env)
        return example

    def initialize_agent(self, agent: Any, env: Any, share_memory: bool) -> None:
        """``agent.initialize`` for ``env``'s spaces and this rank's envs (``share_memory``: CpuSampler)."""
        agent.initialize(env.spaces, share_memory=share_memory, global_B=self.global_B, env_ranks=self.env_ranks)

    def build_buffer(self, agent: Any, env: Any, example: EnvExample, bootstrap_value: bool,
                     final_observation: bool, shared: bool,
                     check_space: Optional[Callable[[Any], None]] = None) -> Tuple[Any, Any, Dict[str, Any]]:
        """``(samples_pyt, samples_np, examples)`` for the initialized agent in envs like ``env``.

        ``check_space(one_step_np)``, when given, sees a ``[1, 1]`` buffer first (parallel samplers check
        that /dev/shm holds ``T * B`` of it before allocating the shared buffer).
        """
        if check_space is not None:
            one = build_samples_buffer(agent, env, type(self.batch_spec)(1, 1), bootstrap_value, example=example,
                                       final_observation=final_observation)[1]
            check_space(one)
        return build_samples_buffer(agent, env, self.batch_spec, bootstrap_value, agent_shared=shared,
                                    env_shared=shared, example=example, final_observation=final_observation)


def start_collector(CollectorCls: type, rank: int, envs: Sequence[Any], samples_np: Any, batch_T: int,
                    TrajInfoCls: Callable, agent: Any, global_B: int, env_ranks: Sequence[int], debug: bool,
                    max_decorrelation_steps: int, decorrelation_seed: Any, **kwargs: Any) -> Any:
    """A training collector on ``envs`` and its slice of the samples buffer, with its envs reset and
    decorrelated (``max_decorrelation_steps`` random steps at most, drawn from ``decorrelation_seed``) and
    the agent's per-env state reset: ready for the first batch."""
    collector = CollectorCls(rank=rank, envs=envs, samples_np=samples_np, batch_T=batch_T, TrajInfoCls=TrajInfoCls,
                             agent=agent, global_B=global_B, env_ranks=list(env_ranks), debug=debug, **kwargs)
    collector.start_envs(max_decorrelation_steps, rng=np.random.default_rng(decorrelation_seed))
    collector.start_agent()
    return collector


def make_eval_collector(EvalCollectorCls: type, rank: int, envs: Sequence[Any], TrajInfoCls: Callable, agent: Any,
                        max_T: int, max_trajectories: Optional[int], env_ranks: Sequence[int], obs_example: Any,
                        action_example: Any, debug: bool, **kwargs: Any) -> Optional[Any]:
    """The eval collector on ``envs`` (None without eval envs); the examples are ``examples["observation"]``
    and ``examples["action"]`` of :meth:`SamplerSetup.build_buffer`."""
    if not envs:
        return None
    return EvalCollectorCls(rank=rank, envs=envs, TrajInfoCls=TrajInfoCls, agent=agent, max_T=max_T,
                            max_trajectories=max_trajectories, env_ranks=list(env_ranks), obs_example=obs_example,
                            action_example=action_example, debug=debug, **kwargs)

