"""Fixtures of the parallel-sampler tests: a per-test time limit, the start methods, process/fd/shm probes."""
from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal

import psutil
import pytest

from rlframe.samplers.parallel import AlternatingSampler, CpuSampler, GpuSampler

SAMPLERS = {"cpu": CpuSampler, "gpu": GpuSampler, "alternating": AlternatingSampler}
TIME_LIMIT_S = 60


@pytest.fixture(autouse=True)
def time_limit():
    """Fail (instead of hanging CI) any test that runs longer than TIME_LIMIT_S."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded its {TIME_LIMIT_S} s limit")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(params=["fork", "forkserver", "spawn"])
def start_method(request):
    return request.param


def infrastructure_pids() -> set:
    """multiprocessing's own long-lived helpers (forkserver, resource tracker): not sampler workers."""
    pids = set()
    fs = getattr(multiprocessing.forkserver, "_forkserver", None)
    if fs is not None and getattr(fs, "_forkserver_pid", None):
        pids.add(fs._forkserver_pid)
    rt = getattr(multiprocessing.resource_tracker, "_resource_tracker", None)
    if rt is not None and getattr(rt, "_pid", None):
        pids.add(rt._pid)
    return pids


def worker_processes() -> list:
    """Live descendants of this process other than multiprocessing's helpers (zombies count too)."""
    infra = infrastructure_pids()
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in infra]


def resource_snapshot() -> dict:
    gc.collect()
    shm = sorted(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else []
    return {"fds": psutil.Process().num_fds(), "children": len(worker_processes()), "shm": shm}


def make_sampler(kind: str, start_method: str, B: int = 4, T: int = 5, n_workers: int = 2, **kw):
    from tests.samplers.parallel.fault_envs import SeedEnv

    env_kwargs = kw.pop("env_kwargs", {})
    kw.setdefault("max_decorrelation_steps", 0)
    return SAMPLERS[kind](SeedEnv, env_kwargs, batch_T=T, batch_B=B, n_workers=n_workers,
                          start_method=start_method, **kw)
