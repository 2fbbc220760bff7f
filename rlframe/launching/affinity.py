"""CPU placement for a run: which cores the master and each sampler worker use, and torch threads.

rlpyt encoded affinity as a string per run (Stooke & Abbeel, 2019, "rlpyt", Sec. 4); here it is a plain
dict built by :func:`make_affinity` from the cores this process may use (``psutil``). Parallel samplers
read ``workers_cpus`` / ``worker_torch_threads`` and each worker calls :func:`apply_affinity` on itself;
the runner applies ``master_cpus`` / ``master_torch_threads`` to the training process.

Pinning is best effort: where the OS does not allow it (macOS has no CPU affinity, containers may forbid
it) a warning is issued once and the run continues unpinned.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Dict, List, Optional, Sequence

import psutil

from rlframe.errors import ConfigError

_warned = False


def available_cpus() -> List[int]:
    """The logical CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        cpus = psutil.Process().cpu_affinity()
        if cpus:
            return sorted(int(c) for c in cpus)
    except (AttributeError, NotImplementedError, OSError, psutil.Error):
        pass
    return list(range(os.cpu_count() or 1))


def make_affinity(
    n_cpu_core: Optional[int] = None,
    n_gpu: int = 0,
    n_workers: Optional[int] = None,
    cpu_per_worker: int = 1,
    set_affinity: bool = True,
    master_torch_threads: Optional[int] = None,
    worker_torch_threads: Optional[int] = None,
    cpus: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    """Plan the CPUs of the master and of ``n_workers`` sampler workers.

    Args:
        n_cpu_core: how many CPUs the run may use (default: all in this process's affinity mask).
        n_gpu: GPUs for the run; ``cuda_idx`` is 0 when >= 1, else None (agent on CPU).
        n_workers: sampler worker processes (default ``n_cpu_core // cpu_per_worker``, at least 1).
        cpu_per_worker: CPUs pinned to each worker (and its torch thread count by default).
        set_affinity: pin processes with ``psutil`` (False: only set torch thread counts).
        master_torch_threads / worker_torch_threads: override the torch thread counts.
        cpus: the CPU ids to draw from (default: :func:`available_cpus`).

    Returns:
        ``{"master_cpus", "master_torch_threads", "workers_cpus" (one list per worker),
        "worker_torch_threads", "n_workers", "cuda_idx", "set_affinity"}``. When there are more
        worker CPUs asked for than CPUs, workers share CPUs round-robin (oversubscription is allowed:
        it is the right call for envs that wait on I/O).
    """
    pool = list(cpus) if cpus is not None else available_cpus()
    if n_cpu_core is None:
        n_cpu_core = len(pool)
    n_cpu_core = int(n_cpu_core)
    if n_cpu_core < 1:
        raise ConfigError(f"n_cpu_core must be >= 1, got {n_cpu_core}.")
    if n_cpu_core > len(pool):
        raise ConfigError(
            f"n_cpu_core={n_cpu_core} but this process may only use {len(pool)} CPUs {pool}: "
            f"pass n_cpu_core <= {len(pool)} (or leave it None to use them all)."
        )
    if int(cpu_per_worker) < 1:
        raise ConfigError(f"cpu_per_worker must be >= 1, got {cpu_per_worker}.")
    pool = pool[:n_cpu_core]
    if n_workers is None:
        n_workers = max(1, n_cpu_core // int(cpu_per_worker))
    n_workers = int(n_workers)
    if n_workers < 1:
        raise ConfigError(f"n_workers must be >= 1, got {n_workers}.")
    workers_cpus = [
        sorted({pool[(w * cpu_per_worker + j) % n_cpu_core] for j in range(cpu_per_worker)})
        for w in range(n_workers)
    ]
    return {
        "master_cpus": list(pool),
        "master_torch_threads": int(master_torch_threads or n_cpu_core),
        "workers_cpus": workers_cpus,
        "worker_torch_threads": int(worker_torch_threads or cpu_per_worker),
        "n_workers": n_workers,
        "cuda_idx": 0 if int(n_gpu) > 0 else None,
        "set_affinity": bool(set_affinity),
    }


def apply_affinity(cpus: Optional[Sequence[int]], torch_threads: Optional[int], set_affinity: bool = True,
                   who: str = "process") -> bool:
    """Pin the calling process to ``cpus`` and set torch's thread count; True if pinning took effect.

    Where the OS refuses (no ``cpu_affinity`` on this platform, a CPU outside the container's mask)
    this warns once, naming ``who``, and carries on unpinned.
    """
    global _warned
    pinned = False
    if set_affinity and cpus:
        try:
            psutil.Process().cpu_affinity(list(cpus))
            pinned = True
        except (AttributeError, NotImplementedError, OSError, ValueError, psutil.Error) as e:
            if not _warned:
                _warned = True
                warnings.warn(
                    f"rlframe: could not pin {who} to CPUs {list(cpus)} ({type(e).__name__}: {e}); continuing "
                    "unpinned. Pass set_affinity=False to make_affinity to silence this.",
                    RuntimeWarning,
                    stacklevel=2,
                )
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    return pinned


def cpu_list(entry: Any, what: str) -> List[int]:
    """One worker's (or the master's) CPUs as a list: a list/tuple of CPU ids, or one int (rlpyt's form,
    ``workers_cpus=list(range(2))`` gives each worker one CPU); :class:`ConfigError` for anything else."""
    cpus = [entry] if isinstance(entry, int) and not isinstance(entry, bool) else entry
    if isinstance(cpus, (list, tuple, range)) and cpus and all(isinstance(c, int) and not isinstance(c, bool)
                                                               and c >= 0 for c in cpus):
        return [int(c) for c in cpus]
    raise ConfigError(
        f"affinity {what} = {entry!r}: give a CPU id (int) or a non-empty list of CPU ids per worker, e.g. "
        "workers_cpus=[[0], [1]] or rlpyt's workers_cpus=[0, 1] (or build it with "
        "rlframe.launching.affinity.make_affinity)."
    )


def check_affinity(affinity: Any) -> Dict[str, Any]:
    """``affinity`` as a dict whose ``workers_cpus`` entries are lists (rlpyt's ints accepted); a
    :class:`ConfigError` naming the bad entry, raised in the master before any worker starts."""
    if affinity is None:
        return {}
    if not isinstance(affinity, dict):
        keys = ("workers_cpus", "worker_torch_threads", "set_affinity", "n_workers", "cuda_idx", "master_cpus",
                "master_torch_threads")
        if not any(hasattr(affinity, k) for k in keys):
            raise ConfigError(f"affinity must be a dict (e.g. rlframe.launching.affinity.make_affinity() or rlpyt's "
                              f"dict(cuda_idx=None, workers_cpus=[0, 1])), got {type(affinity).__name__} {affinity!r}.")
        affinity = {k: getattr(affinity, k) for k in keys if hasattr(affinity, k)}
    cpus = affinity.get("workers_cpus")
    if cpus is not None:
        if not isinstance(cpus, (list, tuple, range)):
            raise ConfigError(f"affinity workers_cpus = {cpus!r}: give one entry per worker (a CPU id or a list of "
                              "CPU ids), e.g. workers_cpus=[0, 1].")
        affinity = dict(affinity, workers_cpus=[cpu_list(c, f"workers_cpus[{i}]") for i, c in enumerate(cpus)])
    return affinity


def worker_affinity(affinity: Optional[Dict[str, Any]], rank: int) -> Dict[str, Any]:
    """The slice of ``affinity`` that worker ``rank`` applies to itself (``affinity`` checked by
    :func:`check_affinity`)."""
    affinity = check_affinity(affinity)
    if not affinity:
        return {"cpus": None, "torch_threads": 1, "set_affinity": False}
    cpus = affinity.get("workers_cpus") or []
    return {
        "cpus": cpus[rank % len(cpus)] if cpus else None,
        "torch_threads": int(affinity.get("worker_torch_threads", 1)),
        "set_affinity": bool(affinity.get("set_affinity", True)),
    }
