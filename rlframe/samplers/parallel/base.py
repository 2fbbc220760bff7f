"""What the parallel samplers share: master-side set-up and the worker object that steps envs.

:class:`ParallelSamplerBase` does, in the master and before any worker starts, what
:class:`~rlframe.samplers.serial.SerialSampler` does: seeds from one ``SeedSequence`` tree, probes one
train and one eval env (shape checks, ``samplers.checks``), initializes the agent, checks /dev/shm and
allocates the ``[T, B]`` samples buffer in shared memory (``samplers.buffer.build_samples_buffer``).
It then starts one worker process per B-slice (``pool.WorkerPool``); each builds a
:class:`SamplerWorker`, which owns its envs and runs the *same* collectors as the serial sampler
(``samplers.collectors``) on its slice of the buffer.

Subclasses choose where actions come from: :class:`~rlframe.samplers.parallel.cpu.CpuSampler` (an agent
copy in each worker), :class:`~rlframe.samplers.parallel.gpu.GpuSampler` and
:class:`~rlframe.samplers.parallel.alternating.AlternatingSampler` (the master's agent, per-step handshakes).
"""
from __future__ import annotations

import contextlib
import functools
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from rlframe.core.buffers import buffer_nbytes, numpify
from rlframe.core.seeding import env_seeds, make_seed, set_global_seeds, worker_seed
from rlframe.errors import ConfigError
from rlframe.launching.affinity import make_affinity, worker_affinity
from rlframe.samplers.base import BaseSampler, BatchSpec, TrajInfo
from rlframe.samplers.buffer import build_samples_buffer
from rlframe.samplers.checks import check_eval_env, probe_env
from rlframe.samplers.collectors import EvalCollector, ResetCollector, close_envs, make_envs
from rlframe.samplers.parallel.pool import WorkerPool, check_shm_space, use_fd_sharing
from rlframe.samplers.parallel.worker import GuardedEnv


def split_evenly(n: int, parts: int) -> List[Tuple[int, int]]:
    """``parts`` contiguous ``(start, stop)`` ranges covering ``range(n)``, sizes differing by at most 1."""
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


class WorkerBuilder:
    """Everything one worker needs, pickled to it at start-up (so it works under every start method).

    ``build(rank, heartbeat_row)`` runs in the worker and returns its :class:`SamplerWorker`.
    Subclasses add the sampler-specific parts (an agent copy, shared step buffers).
    """

    worker_cls: type = None  # set below

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def build(self, rank: int, heartbeat_row: Any) -> "SamplerWorker":
        return self.worker_cls(self, rank, heartbeat_row)


class SamplerWorker:
    """Runs in a worker process: its train envs (with a collector) and eval envs (with an eval collector).

    ``collect(itr)`` fills this worker's ``[T, B_w]`` slice of the shared samples buffer and returns the
    TrajInfos of episodes completed in the batch; ``evaluate(itr)`` runs its share of evaluation episodes.
    """

    def __init__(self, cfg: WorkerBuilder, rank: int, heartbeat_row: Any):
        self.cfg, self.rank = cfg, rank
        set_global_seeds(cfg.worker_seed)
        self.agent = self.make_agent()
        self.envs = self._make(cfg.EnvCls, cfg.env_kwargs, cfg.train_seeds, cfg.env_ranks, heartbeat_row)
        self.eval_envs: List[Any] = []
        try:
            self.eval_envs = self._make(cfg.EnvCls, cfg.eval_env_kwargs, cfg.eval_seeds,
                                        [-2 - i for i in cfg.eval_ranks], heartbeat_row)
            samples_np = numpify(cfg.samples_slice)
            CollectorCls = self.collector_class(cfg.CollectorCls, evaluation=False)
            self.collector = CollectorCls(
                rank=rank, envs=self.envs, samples_np=samples_np, batch_T=cfg.batch_T, TrajInfoCls=cfg.TrajInfoCls,
                agent=self.agent, global_B=cfg.global_B, env_ranks=cfg.env_ranks, debug=cfg.debug,
                **self.collector_kwargs(),
            )
            self.collector.start_envs(cfg.max_decorrelation_steps, rng=np.random.default_rng(cfg.decorrelation_seed))
            self.collector.start_agent()
            self.eval_collector = None
            if self.eval_envs:
                EvalCls = self.collector_class(cfg.eval_CollectorCls, evaluation=True)
                self.eval_collector = EvalCls(
                    rank=rank, envs=self.eval_envs, TrajInfoCls=cfg.TrajInfoCls, agent=self.agent,
                    max_T=cfg.eval_max_T, max_trajectories=cfg.eval_max_trajectories, env_ranks=cfg.eval_ranks,
                    obs_example=cfg.obs_example, action_example=cfg.action_example, debug=cfg.debug,
                    **self.eval_collector_kwargs(),
                )
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _make(EnvCls: Callable, kwargs: dict, seeds: Sequence[int], indices: Sequence[int], hb: Any) -> List[Any]:
        envs = make_envs(EnvCls, kwargs, seeds)
        return [GuardedEnv(env, i, hb) for env, i in zip(envs, indices)]

    # --- hooks for the samplers -------------------------------------------------------------------
    def make_agent(self) -> Any:
        return None

    def collector_class(self, cls: type, evaluation: bool) -> type:
        return cls

    def collector_kwargs(self) -> Dict[str, Any]:
        return {}

    def eval_collector_kwargs(self) -> Dict[str, Any]:
        return {}

    # --- commands from the master ------------------------------------------------------------------
    def collect(self, itr: int) -> List[Any]:
        return self.collector.collect_batch(itr)

    def evaluate(self, itr: int) -> List[Any]:
        return self.eval_collector.collect_evaluation(itr) if self.eval_collector is not None else []

    def close(self) -> None:
        close_envs(self.envs)
        close_envs(self.eval_envs)


WorkerBuilder.worker_cls = SamplerWorker


class ParallelSamplerBase(BaseSampler):
    """Common master side of the parallel samplers (constructor: :class:`BaseSampler`'s, plus the below).

    Args:
        n_workers: worker processes (default: ``affinity["n_workers"]``, else one per CPU); capped at
            ``batch_B`` (and at the eval env count for eval work).
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"`` (default ``$RLFRAME_START_METHOD``, else
            ``forkserver``).
        worker_timeout: seconds a worker may go without finishing an env step while the master waits on
            it before a :class:`~rlframe.errors.WorkerError` (a hung env); raise it for very slow envs.
        start_timeout: seconds for workers to start and build their envs.
    """

    agent_share_memory = False
    builder_cls: type = WorkerBuilder

    def __init__(self, *args: Any, n_workers: Optional[int] = None, start_method: Optional[str] = None,
                 worker_timeout: float = 60.0, start_timeout: float = 120.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.n_workers_arg = n_workers
        self.start_method = start_method
        self.worker_timeout = float(worker_timeout)
        self.start_timeout = float(start_timeout)
        self.pool: Optional[WorkerPool] = None
        self._initialized = False

    # --- set-up ----------------------------------------------------------------------------------------
    def _n_workers(self, affinity: Optional[dict]) -> int:
        n = self.n_workers_arg or (affinity or {}).get("n_workers") or len((affinity or {}).get("workers_cpus") or [])
        n = int(n or make_affinity()["n_workers"])
        return max(1, min(n, self.batch_spec.B))

    def initialize(self, agent: Any, affinity: Optional[dict] = None, seed: Optional[int] = None,
                   bootstrap_value: bool = False, traj_info_kwargs: Optional[dict] = None,
                   rank: int = 0, world_size: int = 1, final_observation: bool = False) -> dict:
        """Validate and allocate in the master, then start the workers; returns the buffer ``examples``."""
        if self._initialized:
            raise ConfigError(f"{type(self).__name__}.initialize was called twice; make a new sampler instead.")
        use_fd_sharing()
        T, B, n_eval = self.batch_spec.T, self.batch_spec.B, self.eval_n_envs
        self.n_workers = self._n_workers(affinity)
        if affinity is None:
            affinity = make_affinity(n_workers=self.n_workers)
        global_B = B * world_size
        env_ranks = list(range(rank * B, (rank + 1) * B))
        self.seed = make_seed(seed)
        train_seeds, eval_seeds = env_seeds(self.seed, global_B, n_eval * world_size)
        train_seeds, eval_seeds = train_seeds[rank * B:(rank + 1) * B], eval_seeds[rank * n_eval:(rank + 1) * n_eval]
        self.agent = agent

        # Shape checks in the master, on envs seeded like the first train / eval env (then closed).
        probe = make_envs(self.EnvCls, self.env_kwargs, train_seeds[:1])
        try:
            example = probe_env(probe[0], "train env")
            if n_eval:
                probe += make_envs(self.EnvCls, self.eval_env_kwargs, eval_seeds[:1])
                check_eval_env(probe[0], probe[1])
            agent.initialize(probe[0].spaces, share_memory=self.agent_share_memory, global_B=global_B,
                             env_ranks=env_ranks)
            one = build_samples_buffer(agent, probe[0], BatchSpec(1, 1), bootstrap_value, example=example,
                                       final_observation=final_observation)[1]
            check_shm_space(buffer_nbytes(one) * T * B + self.extra_shm_bytes(one), f"{type(self).__name__} buffers")
            self.samples_pyt, self.samples_np, examples = build_samples_buffer(
                agent, probe[0], self.batch_spec, bootstrap_value, agent_shared=True, env_shared=True, example=example,
                final_observation=final_observation,
            )
        finally:
            close_envs(probe)
        self.examples = examples
        self.mid_batch_reset = (self.CollectorCls or ResetCollector).mid_batch_reset
        kwargs = {**self.TrajInfo_kwargs, **(traj_info_kwargs or {})}
        traj_info_factory = functools.partial(self.TrajInfoCls, **kwargs) if kwargs else self.TrajInfoCls

        self.bounds = split_evenly(B, self.n_workers)
        eval_bounds = split_evenly(n_eval, self.n_workers) if n_eval else [(0, 0)] * self.n_workers
        self.eval_bounds = eval_bounds
        self.eval_max_T = math.ceil(self.eval_max_steps / n_eval) if n_eval and self.eval_max_steps else 10**12
        self.pool = WorkerPool(self.n_workers, self.start_method, timeout=self.worker_timeout,
                               start_timeout=self.start_timeout)
        self._initialized = True
        self.prepare_shared(examples)
        builders = []
        for w, ((b0, b1), (e0, e1)) in enumerate(zip(self.bounds, eval_bounds)):
            max_traj = self.eval_max_trajectories
            if max_traj is not None and n_eval:
                max_traj = max(1, math.ceil(max_traj * (e1 - e0) / n_eval))
            builders.append(self.builder_cls(
                EnvCls=self.EnvCls, env_kwargs=self.env_kwargs, eval_env_kwargs=self.eval_env_kwargs,
                train_seeds=train_seeds[b0:b1], env_ranks=env_ranks[b0:b1], b0=b0, b1=b1,
                eval_seeds=eval_seeds[e0:e1], eval_ranks=list(range(rank * n_eval + e0, rank * n_eval + e1)),
                e0=e0, e1=e1, samples_slice=self.samples_pyt[:, b0:b1], batch_T=T,
                CollectorCls=self.CollectorCls or ResetCollector, eval_CollectorCls=self.eval_CollectorCls or EvalCollector,
                TrajInfoCls=traj_info_factory, max_decorrelation_steps=self.max_decorrelation_steps,
                decorrelation_seed=[self.seed, rank, w], worker_seed=worker_seed(self.seed, rank * self.n_workers + w),
                global_B=global_B, debug=self.debug, eval_max_T=self.eval_max_T, eval_max_trajectories=max_traj,
                obs_example=examples["observation"], action_example=examples["action"],
                **self.builder_kwargs(w),
            ))
        try:
            self.pool.start(builders, [worker_affinity(affinity, w) for w in range(self.n_workers)])
        except BaseException:
            self.shutdown()
            raise
        return examples

    # --- hooks -----------------------------------------------------------------------------------
    def extra_shm_bytes(self, one_step_np: Any) -> int:
        """Shared bytes beyond the samples buffer (step buffers of the GPU samplers)."""
        return 0

    def prepare_shared(self, examples: dict) -> None:
        """Allocate sampler-specific shared objects before workers are built."""

    def builder_kwargs(self, w: int) -> Dict[str, Any]:
        return {}

    # --- running ---------------------------------------------------------------------------------------
    def _check_ready(self) -> WorkerPool:
        if self.pool is None or self.pool._closed:
            raise RuntimeError(f"{type(self).__name__} is not running: call initialize() first "
                               "(and do not use it after shutdown() or after a WorkerError).")
        return self.pool

    def _finish(self, results: List[List[Any]]) -> List[TrajInfo]:
        return [t for r in results for t in r]

    def shutdown(self) -> None:
        """Stop the workers and release every process, pipe and shared buffer; idempotent, always returns."""
        pool, self.pool = self.pool, None
        if pool is not None:
            self.release_shared()
            pool.close()
        self.samples_pyt = self.samples_np = None

    def release_shared(self) -> None:
        """Tell workers blocked on sampler-specific handshakes to leave (GPU samplers)."""

    @contextlib.contextmanager
    def _running(self) -> Iterator[WorkerPool]:
        """The running pool; an exception inside (a WorkerError, Ctrl-C) stops every worker, since the
        sampler cannot continue after it, and propagates."""
        pool = self._check_ready()
        try:
            yield pool
        except BaseException:
            self.shutdown()
            raise
