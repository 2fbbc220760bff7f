"""torch.distributed plumbing for :class:`~rlframe.runners.sync_rl.SyncRl`: the torchrun environment, the
process group with a short timeout, gradient all-reduce for data-parallel optimizers, and collectives that
turn a lost rank into a :class:`~rlframe.errors.WorkerError` instead of a hang.

``torchrun`` (``torch.distributed.run``) starts one process per rank and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`torchrun_env` reads them. The process group is
gloo on CPU and NCCL when the process has a GPU (one per local rank). Its timeout is short (default
:data:`DEFAULT_TIMEOUT_S`), so a rank that dies or hangs ends the others within about that long, never
torch's default 30 minutes.

Data parallelism without DDP's autograd hooks: PPO's closed-form gradient path (``algos/pg/ppo.py``,
``fast_gradients``) writes ``.grad`` without autograd, so the gradients are averaged explicitly, right before
each optimizer step: :func:`make_data_parallel` marks an optimizer; ``RlAlgorithm.optimizer_step``
(``algos/base.py``) averages before clipping, and the optimizer's own ``step`` averages whatever an algorithm
stepped without that helper (DQN, SAC, ...: gradient clipping there then acts on each rank's own gradients).
"""
from __future__ import annotations

import datetime
import os
import pickle
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional

import torch

from rlframe.errors import ConfigError, WorkerError

DEFAULT_TIMEOUT_S = 30.0
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_REDUCED = "_rlframe_grads_reduced"  # optimizer attribute: optimizer_step already averaged this step's grads


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a torchrun launch."""

    rank: int
    world_size: int
    local_rank: int


def torchrun_env() -> Optional[DistEnv]:
    """The torchrun variables of this process, or None when it was not started by torchrun."""
    if not all(v in os.environ for v in _TORCHRUN_VARS):
        return None
    try:
        return DistEnv(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    except ValueError as e:
        raise ConfigError(f"torchrun variables RANK/WORLD_SIZE/LOCAL_RANK are not integers ({e}).") from None


def is_initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return torch.distributed.get_rank() if is_initialized() else 0


def world_size() -> int:
    return torch.distributed.get_world_size() if is_initialized() else 1


def is_main_process() -> bool:
    """True except on the ranks > 0 of an initialized process group (they write no run directory)."""
    return rank() == 0


def init_process_group(env: DistEnv, timeout_s: float = DEFAULT_TIMEOUT_S, backend: Optional[str] = None
                       ) -> Optional[int]:
    """Join the torchrun launch's process group (once; later calls return at once) with a ``timeout_s``
    timeout; returns this rank's CUDA device index (``LOCAL_RANK``) when CUDA is available, else None."""
    cuda_idx = None
    if torch.cuda.is_available():
        n_gpu = torch.cuda.device_count()
        if env.local_rank >= n_gpu:
            raise ConfigError(f"local rank {env.local_rank} has no GPU (this node has {n_gpu}); start torchrun with "
                              f"--nproc-per-node {n_gpu} or fewer.")
        cuda_idx = env.local_rank
        torch.cuda.set_device(cuda_idx)
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")  # NCCL honours the timeout
    if is_initialized():
        return cuda_idx
    backend = backend or ("nccl" if cuda_idx is not None else "gloo")
    torch.distributed.init_process_group(
        backend=backend, rank=env.rank, world_size=env.world_size,
        timeout=datetime.timedelta(seconds=float(timeout_s)),
        **({"device_id": torch.device("cuda", cuda_idx)} if cuda_idx is not None else {}))
    return cuda_idx


LEAVE_TOGETHER_S = 5.0


def destroy_process_group() -> None:
    """Leave the process group; with gloo, first wait (at most :data:`LEAVE_TOGETHER_S`) until every rank is
    leaving. Rank 0 hosts the rendezvous store: if it exits while another rank still tears down, that rank can
    abort at exit ("terminate called without an active exception", exit code -6; seen with torch 2.13). A rank
    that is gone or late only costs the wait: errors of this barrier are ignored."""
    if not is_initialized():
        return
    if torch.distributed.get_backend() == "gloo" and world_size() > 1:
        try:
            torch.distributed.monitored_barrier(timeout=datetime.timedelta(seconds=LEAVE_TOGETHER_S))
        except RuntimeError:
            pass
    torch.distributed.destroy_process_group()


# --- collectives that name what went wrong ---------------------------------------------------------------
def _lost(what: str, e: BaseException) -> WorkerError:
    return WorkerError(
        f"rank {rank()}: lost the other ranks while {what} ({type(e).__name__}: {str(e).splitlines()[0][:300]}). "
        "Another rank died or hung (its own output says why) or took longer than the process-group timeout; "
        "raise --dist-timeout if the ranks are merely slow.", rank=rank())


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if (
        torch.distributed.get_backend() == "nccl") else torch.device("cpu")


def all_gather_objects(obj: Any, what: str) -> List[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    out: List[Any] = [None] * world_size()
    try:
        torch.distributed.all_gather_object(out, obj)
    except (RuntimeError, pickle.PickleError) as e:
        raise _lost(what, e) from e
    return out


def broadcast_object(obj: Any, what: str, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    box = [obj if rank() == src else None]
    try:
        torch.distributed.broadcast_object_list(box, src=src)
    except RuntimeError as e:
        raise _lost(what, e) from e
    return box[0]


def barrier(what: str) -> None:
    try:
        torch.distributed.barrier()
    except RuntimeError as e:
        raise _lost(what, e) from e


def allreduce_mean_(tensors: List[torch.Tensor], what: str, step_tag: Optional[int] = None) -> None:
    """Average ``tensors`` over the ranks in place, in one flat all-reduce per device and dtype.

    ``step_tag`` (e.g. how many steps an optimizer has taken) rides along in the first all-reduce: ranks that
    disagree on it are out of step (one took a gradient step the others did not) and get a WorkerError
    instead of silently averaging unrelated gradients.
    """
    if not tensors or world_size() == 1:
        return
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    n = world_size()
    try:
        for i, group in enumerate(groups.values()):
            parts = [t.reshape(-1) for t in group]
            tagged = step_tag is not None and i == 0
            if tagged:
                parts.append(torch.full((1,), float(step_tag % (1 << 20)), dtype=group[0].dtype,
                                        device=group[0].device))
            flat = torch.cat(parts)
            torch.distributed.all_reduce(flat)
            if tagged and int(round(float(flat[-1]))) != n * (step_tag % (1 << 20)):
                raise WorkerError(
                    f"rank {rank()}: the ranks are out of step while {what} (this rank is at step {step_tag}, the "
                    "sum over ranks says otherwise): an algorithm decided how many gradient steps to take from "
                    "its own rank's data (e.g. PPO's target_kl early stop); make that decision identical on "
                    "every rank or train without it under SyncRl.", rank=rank())
            flat.div_(float(n))
            offset = 0
            for t in group:
                k = t.numel()
                t.copy_(flat[offset:offset + k].view_as(t))
                offset += k
    except WorkerError:
        raise
    except RuntimeError as e:
        raise _lost(what, e) from e


# --- data-parallel optimizers ------------------------------------------------------------------------------
def make_data_parallel(optimizer: torch.optim.Optimizer) -> None:
    """From now on ``optimizer.step()`` first averages its parameters' gradients over the ranks (unless
    :func:`reduce_gradients` did it already this step)."""
    if getattr(optimizer, "_rlframe_data_parallel", False):
        return
    step = optimizer.step

    def data_parallel_step(*args: Any, **kwargs: Any) -> Any:
        if not getattr(optimizer, _REDUCED, False):
            params = [p for g in optimizer.param_groups for p in g["params"]]
            _reduce(optimizer, params)
        setattr(optimizer, _REDUCED, False)
        return step(*args, **kwargs)

    optimizer.step = data_parallel_step  # type: ignore[method-assign]
    optimizer._rlframe_data_parallel = True  # type: ignore[attr-defined]
    optimizer._rlframe_steps = 0  # type: ignore[attr-defined]


def reduce_gradients(optimizer: torch.optim.Optimizer, params: Iterable[torch.Tensor]) -> None:
    """Average ``params``' gradients over the ranks when ``optimizer`` is data-parallel (a no-op otherwise),
    so that clipping sees the averaged gradients; the optimizer's next step then skips its own average."""
    if not getattr(optimizer, "_rlframe_data_parallel", False):
        return
    _reduce(optimizer, params)
    setattr(optimizer, _REDUCED, True)


def _reduce(optimizer: torch.optim.Optimizer, params: Iterable[torch.Tensor]) -> None:
    optimizer._rlframe_steps += 1  # type: ignore[attr-defined]
    allreduce_mean_([p.grad for p in params if p.grad is not None], f"averaging the gradients of "
                    f"{type(optimizer).__name__} step {optimizer._rlframe_steps}",  # type: ignore[attr-defined]
                    step_tag=optimizer._rlframe_steps)  # type: ignore[attr-defined]

