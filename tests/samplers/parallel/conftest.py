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
    """Every start method: the same tests pass under fork, forkserver and spawn."""
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


def our_shm_files() -> set:
    """/dev/shm entries this process still maps or holds open (others' files on a shared machine do not count)."""
    if not os.path.isdir("/dev/shm"):
        return set()
    with open(f"/proc/{os.getpid()}/maps") as f:
        mapped = {line.split()[-1] for line in f if "/dev/shm/" in line}
    fd_dir = f"/proc/{os.getpid()}/fd"
    opened = set()
    for fd in os.listdir(fd_dir):
        try:
            opened.add(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            pass
    return {p for p in mapped | opened if p.startswith("/dev/shm/") and os.path.exists(p.split(" (deleted)")[0])}


def resource_snapshot() -> dict:
    gc.collect()
    return {"fds": psutil.Process().num_fds(), "children": len(worker_processes()), "shm": our_shm_files()}


def make_sampler(kind: str, start_method: str, B: int = 4, T: int = 5, n_workers: int = 2, **kw):
    from tests.samplers.parallel.fault_envs import SeedEnv

    env_kwargs = kw.pop("env_kwargs", {})
    kw.setdefault("max_decorrelation_steps", 0)
    return SAMPLERS[kind](SeedEnv, env_kwargs, batch_T=T, batch_B=B, n_workers=n_workers,
                          start_method=start_method, **kw)
