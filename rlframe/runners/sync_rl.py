"""``SyncRl`` and ``SyncRlEval``: synchronous data-parallel training, one process per rank (torchrun).

rlpyt's ``SyncRl`` (Stooke & Abbeel, 2019, "rlpyt: A Research Code Base for Deep Reinforcement Learning in
PyTorch", section 2.4): every rank runs the :class:`~rlframe.runners.minibatch_rl.MinibatchRl` loop with its own
sampler over its share of the envs (distinct seeds from the run's one ``SeedSequence`` tree,
``samplers/setup.py``), and the gradients are averaged over the ranks before every optimizer step, so all
ranks hold identical weights after each update. Here the processes come from ``torchrun`` (one node or
several) and the averaging is an explicit all-reduce (``core/distributed.py``), which also covers PPO's
closed-form gradients that never pass through autograd.

Counting and logging: ``env_steps`` counts the steps of all ranks (the one TensorBoard stream's x-axis);
the episodes (training and eval) of every rank are gathered to rank 0, which alone logs and checkpoints.
Resume: rank 0 reads the checkpoint and sends it to the other ranks (other nodes need not see the run
directory); each rank > 0 reseeds its own random streams.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Optional

import numpy as np
import torch

from rlframe.core import distributed as dist
from rlframe.core.seeding import set_global_seeds
from rlframe.errors import ConfigError
from rlframe.logging.logger import RunLogger
from rlframe.runners.minibatch_rl import MinibatchRl, _as_dict


class SyncRl(MinibatchRl):
    """:class:`MinibatchRl` across the ranks of a torchrun launch (constructing it joins the process group).

    Takes :class:`MinibatchRl`'s arguments (``n_steps`` and ``log_interval_steps`` count all ranks' env steps;
    the sampler's ``batch_B`` is this rank's share) plus:

    Args:
        dist_timeout_s: process-group timeout: a rank that dies or stops answering ends the others with a
            :class:`~rlframe.errors.WorkerError` within about this long.
        dist_env: the rank, world size and local rank (default: torchrun's environment variables).
    """

    def __init__(self, *args: Any, dist_timeout_s: float = dist.DEFAULT_TIMEOUT_S,
                 dist_env: Optional[dist.DistEnv] = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        env = dist_env or dist.torchrun_env()
        if env is None:
            raise ConfigError("SyncRl runs under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT "
                              "unset): launch with `torchrun --nproc-per-node N script.py`, or use MinibatchRl.")
        if dist_timeout_s <= 0:
            raise ConfigError(f"dist_timeout_s must be > 0, got {dist_timeout_s}.")
        self.dist_timeout_s = float(dist_timeout_s)
        cuda_idx = dist.init_process_group(env, timeout_s=self.dist_timeout_s)
        self.rank, self.world_size, self.local_rank = env.rank, env.world_size, env.local_rank
        if cuda_idx is not None:  # one GPU per local rank
            self.affinity = _with_cuda_idx(self.affinity, cuda_idx)

    @property
    def batch_size(self) -> int:
        """Env steps of one iteration over all ranks."""
        return int(self.sampler.batch_spec.size) * self.world_size

    # --- set-up ------------------------------------------------------------------------------------------
    def _open_logger(self) -> RunLogger:
        """Rank 0: the run directory's logger; other ranks: a silent one holding rank 0's resume state."""
        logger = super()._open_logger()
        resume = logger.resume_state if self.rank == 0 else None
        resume = dist.broadcast_object(resume, "sending the resume checkpoint from rank 0")
        if self.rank == 0:
            return logger
        quiet = RunLogger(None, console=False)
        if resume is not None:
            quiet.resume_state = {k: v for k, v in resume.items() if k != "rng"}  # rank 0's streams stay its own
        return quiet

    def startup(self) -> None:
        super().startup()
        if self.rank > 0:  # distinct action/exploration noise per rank; rank 0 keeps the run seed's streams
            set_global_seeds(int(np.random.SeedSequence([self.seed, self.rank]).generate_state(1)[0]))
        # Same weights everywhere from the start (also target networks and temperatures), then averaged steps.
        state = dist.broadcast_object(
            _to_cpu({"agent": self.agent.state_dict(), "algo": self.algo.state_dict()}) if self.rank == 0 else None,
            "sending rank 0's initial weights")
        if self.rank > 0:
            self.agent.load_state_dict(state["agent"])
            self.algo.load_state_dict(state["algo"])
        for optimizer in self.algo.optimizers():
            dist.make_data_parallel(optimizer)
        if self.rank == 0:
            self.logger.info(f"SyncRl: {self.world_size} ranks ({torch.distributed.get_backend()}), "
                             f"{self.sampler.batch_spec.B} envs each, {self.batch_size} env steps per iteration.")

    # --- checkpoints: rank 0 alone ------------------------------------------------------------------------
    def save_checkpoint(self) -> Optional[str]:
        return super().save_checkpoint() if self.rank == 0 else None

    # --- logging: every rank's episodes, rank 0 writes ----------------------------------------------------
    def _log_interval(self, itr: int, eval_traj_infos: Optional[List[Any]] = None, initial: bool = False) -> None:
        mine = ([_as_dict(t) for t in self._new_trajs],
                None if eval_traj_infos is None else [_as_dict(t) for t in eval_traj_infos])
        gathered = dist.all_gather_objects(mine, f"gathering the episodes of iteration {itr}")
        if self.rank == 0:
            self._new_trajs = [t for trajs, _ in gathered for t in trajs]
            evals = None if eval_traj_infos is None else [t for _, ev in gathered for t in (ev or [])]
            super()._log_interval(itr, evals, initial)
        else:
            self._reset_interval()
        # A callback on rank 0 may have asked to stop: every rank stops after the same interval.
        self._stop_requested = bool(dist.broadcast_object(self._stop_requested, "agreeing whether to stop"))

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            dist.destroy_process_group()


class SyncRlEval(SyncRl):
    """:class:`SyncRl` with evaluation (each rank runs its share of the eval envs; rank 0 logs them all)."""

    _eval = True


def _with_cuda_idx(affinity: Any, cuda_idx: int) -> Any:
    if affinity is None:
        return {"cuda_idx": cuda_idx}
    if isinstance(affinity, Mapping):
        return dict(affinity, cuda_idx=cuda_idx)
    setattr(affinity, "cuda_idx", cuda_idx)
    return affinity


def _to_cpu(tree: Any) -> Any:
    """``tree`` with its tensors on the CPU (what travels between ranks, whatever their devices)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu()
    if isinstance(tree, dict):
        return type(tree)((k, _to_cpu(v)) for k, v in tree.items())
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_to_cpu(v) for v in tree)
    return tree


def runner_class_for(RunnerCls: type) -> type:
    """The SyncRl counterpart of a MinibatchRl runner class (``MinibatchRlEval`` -> ``SyncRlEval``)."""
    if issubclass(RunnerCls, SyncRl):
        return RunnerCls
    return SyncRlEval if RunnerCls._eval else SyncRl

