"""What the parallel samplers share: master-side set-up and the worker object that steps envs.

:class:`ParallelSamplerBase` takes, in the master and before any worker starts, the set-up steps of
:class:`~rlframe.samplers.serial.SerialSampler` (``samplers/setup.py``: seeds from one ``SeedSequence``
tree, probes one train and one eval env, initializes the agent, allocates the ``[T, B]`` samples buffer),
on throw-away probe envs and with the buffer in shared memory after checking /dev/shm.
It then starts one worker process per B-slice (``pool.WorkerPool``); each builds a
:class:`SamplerWorker`, which owns its envs and runs the *same* collectors as the serial sampler
(``samplers.collectors``) on its slice of the buffer.

Subclasses choose where actions come from: :class:`~rlframe.samplers.parallel.cpu.CpuSampler` (an agent
copy in each worker), :class:`~rlframe.samplers.parallel.gpu.GpuSampler` and
:class:`~rlframe.samplers.parallel.alternating.AlternatingSampler` (the master's agent, per-step handshakes).
"""
from __future__ import annotations

import contextlib
import math
import pickle
import random
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from rlframe.core.buffers import buffer_nbytes, numpify
from rlframe.core.seeding import set_global_seeds, worker_seed
from rlframe.errors import ConfigError, ResumeWarning
from rlframe.launching.affinity import check_affinity, make_affinity, worker_affinity
from rlframe.samplers.base import BaseSampler, TrajInfo
from rlframe.samplers.checks import env_name
from rlframe.samplers.collectors import close_envs, load_sampling_state, make_envs, sampling_state
from rlframe.samplers.setup import SamplerSetup, make_eval_collector, start_collector
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
        counter = [0]  # this worker's env-call count, shared by all its envs (GuardedEnv)
        self.envs = self._make(cfg.EnvCls, cfg.env_kwargs, cfg.train_seeds, cfg.env_ranks, heartbeat_row, counter)
        self.eval_envs: List[Any] = []
        try:
            self.eval_envs = self._make(cfg.EnvCls, cfg.eval_env_kwargs, cfg.eval_seeds,
                                        [-2 - i for i in cfg.eval_ranks], heartbeat_row, counter)
            self.collector = start_collector(
                self.collector_class(cfg.CollectorCls, evaluation=False), rank=rank, envs=self.envs,
                samples_np=numpify(cfg.samples_slice), batch_T=cfg.batch_T, TrajInfoCls=cfg.TrajInfoCls,
                agent=self.agent, global_B=cfg.global_B, env_ranks=cfg.env_ranks, debug=cfg.debug,
                max_decorrelation_steps=cfg.max_decorrelation_steps, decorrelation_seed=cfg.decorrelation_seed,
                **self.collector_kwargs())
            self.eval_collector = make_eval_collector(
                self.collector_class(cfg.eval_CollectorCls, evaluation=True), rank=rank, envs=self.eval_envs,
                TrajInfoCls=cfg.TrajInfoCls, agent=self.agent, max_T=cfg.eval_max_T,
                max_trajectories=cfg.eval_max_trajectories, env_ranks=cfg.eval_ranks, obs_example=cfg.obs_example,
                action_example=cfg.action_example, debug=cfg.debug, **self.eval_collector_kwargs())
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _make(EnvCls: Callable, kwargs: dict, seeds: Sequence[int], indices: Sequence[int], hb: Any,
              counter: List[int]) -> List[Any]:
        envs = make_envs(EnvCls, kwargs, seeds)
        return [GuardedEnv(env, i, hb, counter) for env, i in zip(envs, indices)]

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

    # --- exact resume (docs/scaling.md, "Resume guarantees") --------------------------------------------
    def get_state(self) -> Dict[str, Any]:
        """This worker's share of the sampler's state: its envs' states, its collector's carried state (with
        its agent copy's sampling state) and this process's random states (its agent copy draws actions)."""
        return dict(sampling_state(self.collector, *self._raw_envs()), rng=_process_rng_state())

    def set_state(self, state: Dict[str, Any]) -> None:
        """Continue from :meth:`get_state`'s output; envs saved without a state start new episodes."""
        load_sampling_state(self.collector, *self._raw_envs(), state)
        _set_process_rng_state(state["rng"])

    def _raw_envs(self) -> Tuple[List[Any], List[Any]]:
        """The train and eval envs inside their :class:`GuardedEnv` proxies (their own state API)."""
        return [e.env for e in self.envs], [e.env for e in self.eval_envs]

    def close(self) -> None:
        close_envs(self.envs)
        close_envs(self.eval_envs)


def _process_rng_state() -> bytes:
    """Python's, numpy's global and torch's CPU random states of this process, pickled."""
    return pickle.dumps((random.getstate(), np.random.get_state(), torch.get_rng_state()))


def _set_process_rng_state(state: bytes) -> None:
    py, np_state, torch_state = pickle.loads(state)
    random.setstate(py)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)


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
        affinity = None if affinity is None else check_affinity(affinity)  # rlpyt's int-per-worker form accepted
        T, B, n_eval = self.batch_spec.T, self.batch_spec.B, self.eval_n_envs
        self.n_workers = self._n_workers(affinity)
        if affinity is None:
            affinity = make_affinity(n_workers=self.n_workers)
        setup = SamplerSetup(self, seed, rank, world_size, traj_info_kwargs)
        self.seed, self.agent, self.mid_batch_reset = setup.seed, agent, setup.mid_batch_reset
        train_seeds, eval_seeds, env_ranks = setup.train_seeds, setup.eval_seeds, setup.env_ranks

        # Shape checks in the master, on envs seeded like the first train / eval env (then closed).
        probe = make_envs(self.EnvCls, self.env_kwargs, train_seeds[:1])
        try:
            if n_eval:
                probe += make_envs(self.EnvCls, self.eval_env_kwargs, eval_seeds[:1])
            example = setup.probe(*probe, timeout=self.worker_timeout)
            probed_env = env_name(probe[0])
            setup.initialize_agent(agent, probe[0], share_memory=self.agent_share_memory)
            self.samples_pyt, self.samples_np, examples = setup.build_buffer(
                agent, probe[0], example, bootstrap_value, final_observation, shared=True,
                check_space=lambda one: check_shm_space(buffer_nbytes(one) * T * B + self.extra_shm_bytes(one),
                                                        f"{type(self).__name__} buffers"))
        finally:
            close_envs(probe)
        self.examples = examples

        self.bounds = split_evenly(B, self.n_workers)
        eval_bounds = split_evenly(n_eval, self.n_workers) if n_eval else [(0, 0)] * self.n_workers
        self.eval_bounds = eval_bounds
        self.eval_max_T = setup.eval_max_T
        self.pool = WorkerPool(self.n_workers, self.start_method, timeout=self.worker_timeout,
                               start_timeout=self.start_timeout)
        self.pool.env_name = probed_env  # named in hang errors
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
                eval_seeds=eval_seeds[e0:e1], eval_ranks=setup.eval_ranks[e0:e1],
                e0=e0, e1=e1, samples_slice=self.samples_pyt[:, b0:b1], batch_T=T,
                CollectorCls=setup.CollectorCls, eval_CollectorCls=setup.EvalCollectorCls,
                TrajInfoCls=setup.traj_info_factory, max_decorrelation_steps=self.max_decorrelation_steps,
                decorrelation_seed=[self.seed, rank, w], worker_seed=worker_seed(self.seed, rank * self.n_workers + w),
                global_B=setup.global_B, debug=self.debug, eval_max_T=self.eval_max_T, eval_max_trajectories=max_traj,
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

    # --- exact resume: the workers' states, gathered and sent back through the command pipes -------------------
    def state_dict(self) -> Dict[str, Any]:
        """Every worker's :meth:`SamplerWorker.get_state` (env states, collector state, the worker's random
        states) when the sampler declares ``exact_resume``; ``{}`` otherwise."""
        if not self.exact_resume:
            return {}
        with self._running() as pool:
            workers = pool.call("get_state")
        self.warn_unsaved_envs("train env", [e for w in workers for e in w["envs"]])
        self.warn_unsaved_envs("eval env", [e for w in workers for e in w["eval_envs"]])
        return {"sampler": type(self).__name__, "bounds": [list(b) for b in self.bounds], "workers": workers}

    def load_state_dict(self, state: Dict[str, Any]) -> bool:
        """Send each worker its share of :meth:`state_dict`'s output. With another worker count (or ``batch_B``)
        nothing is restored (a :class:`~rlframe.errors.ResumeWarning` says so) and False is returned."""
        if not self.exact_resume:
            return False
        if state.get("bounds") != [list(b) for b in self.bounds]:
            warnings.warn(
                f"exact resume: the checkpoint holds the state of {len(state.get('bounds') or [])} "
                f"{type(self).__name__} workers with env slices {state.get('bounds')}, this sampler has "
                f"{[list(b) for b in self.bounds]}: every env starts a new episode instead. Resume with the "
                "number of workers (the scripts' --workers) the run was started with to continue exactly.",
                ResumeWarning, stacklevel=2)
            return False
        workers = state["workers"]
        with self._running() as pool:
            for w, worker_state in enumerate(workers):
                pool.send(w, "set_state", worker_state)
            pool.gather(range(len(workers)), what="restoring its state")
        self.warn_unsaved_envs("train env", [e for w in workers for e in w["envs"]], resuming=True)
        self.warn_unsaved_envs("eval env", [e for w in workers for e in w["eval_envs"]], resuming=True)
        return all(e["state"] is not None for w in workers for e in w["envs"])

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
