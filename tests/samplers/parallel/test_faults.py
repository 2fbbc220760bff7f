"""Faults surface as WorkerError within seconds and leave nothing behind (DESIGN.md "Parallel sampling")."""
from __future__ import annotations

import os
import signal
import time

import pytest

from rlframe.core.seeding import env_seeds
from rlframe.errors import ShapeMismatchError, SharedMemoryError, WorkerError
from tests.helpers import RandomAgent
from tests.samplers.parallel.conftest import make_sampler, worker_processes

SEED, B = 11, 4
BAD_ENV = 3  # global env index 3 lives in worker 1 (envs 0-1: worker 0, 2-3: worker 1)


def _started(kind, start_method, **kw):
    s = make_sampler(kind, start_method, B=B, **kw)
    s.initialize(RandomAgent(), seed=SEED)
    return s


def _bad(fault, **extra):
    return {"env_kwargs": {"fault": fault, "fault_seed": env_seeds(SEED, B)[0][BAD_ENV], **extra}}


def _assert_clean(s):
    t0 = time.monotonic()
    s.shutdown()
    s.shutdown()  # idempotent
    assert time.monotonic() - t0 < 10
    assert not worker_processes()


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_env_exception(kind, start_method):
    s = _started(kind, start_method, **_bad("raise"))
    t0 = time.monotonic()
    with pytest.raises(WorkerError) as info:
        s.obtain_samples(0)
    assert time.monotonic() - t0 < 5
    err = info.value
    assert (err.rank, err.env_index, err.exc_type) == (1, BAD_ENV, "ValueError")
    assert "boom in env" in str(err) and "Traceback" in err.traceback_text and "fault_envs.py" in err.traceback_text
    _assert_clean(s)


@pytest.mark.parametrize("kind", ["cpu", "gpu", "alternating"])
def test_killed_worker(kind, start_method):
    s = _started(kind, start_method)
    s.obtain_samples(0)
    os.kill(s.pool.procs[1].pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="killed by SIGKILL") as info:
        s.obtain_samples(1)
    assert time.monotonic() - t0 < 5
    assert info.value.rank == 1 and info.value.exitcode == -signal.SIGKILL
    _assert_clean(s)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_worker_exits_in_env(kind):
    s = _started(kind, "fork", **_bad("exit"))
    with pytest.raises(WorkerError, match="exit code 3"):
        s.obtain_samples(0)
    _assert_clean(s)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_hanging_env_times_out(kind, start_method):
    s = _started(kind, start_method, worker_timeout=1.0, **_bad("hang"))
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="no progress") as info:
        s.obtain_samples(0)
    assert 1.0 <= time.monotonic() - t0 < 5
    assert info.value.rank == 1 and info.value.env_index == BAD_ENV
    _assert_clean(s)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_keyboard_interrupt_then_shutdown(kind):
    """Ctrl-C while the master waits on slow workers: shutdown still returns and no worker remains."""
    s = make_sampler(kind, "fork", B=B, T=200, env_kwargs={"sleep": 0.01})
    s.initialize(RandomAgent(), seed=SEED)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            s.obtain_samples(0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    _assert_clean(s)


def test_too_little_shared_memory(monkeypatch):
    import shutil

    from rlframe.samplers.parallel import pool

    monkeypatch.setattr(pool.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(64 << 20, 63 << 20, 1 << 20))
    s = make_sampler("cpu", "fork", B=B, T=100_000)
    with pytest.raises(SharedMemoryError, match=r"MiB.*--shm-size") as info:
        s.initialize(RandomAgent(), seed=SEED)
    assert "1.0 MiB free" in str(info.value)
    assert not worker_processes()
    s.shutdown()


def test_shape_checks_run_in_master_before_workers():
    s = make_sampler("cpu", "fork", B=B, env_kwargs={"declared_size": 4})
    with pytest.raises(ShapeMismatchError, match="SeedEnv"):
        s.initialize(RandomAgent(), seed=SEED)
    assert s.pool is None and not worker_processes()


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_debug_checks_in_workers_name_env_and_step(kind):
    s = _started(kind, "fork", debug=True, **_bad("nan", fault_step=2))
    with pytest.raises(WorkerError) as info:
        s.obtain_samples(0)
    err = info.value
    assert err.exc_type == "ShapeMismatchError" and err.rank == 1
    assert f"global env rank {BAD_ENV}" in str(err) and "step 1 of iteration 0" in str(err) and "NaN" in str(err)
    _assert_clean(s)


def test_error_in_worker_start_up():
    s = make_sampler("gpu", "fork", B=B, max_decorrelation_steps=10, **_bad("raise", fault_step=1))
    with pytest.raises(WorkerError, match="boom") as info:
        s.initialize(RandomAgent(), seed=SEED)
    assert info.value.rank == 1
    assert not worker_processes()


class _FakeProc:
    def __init__(self, exitcode=None):
        self.exitcode, self.pid, self.sentinel = exitcode, 0, None


def test_raise_if_failed_drains_early_replies_only_when_asked():
    """The one non-blocking check of WorkerPool: without ``drain_replies`` a live worker's pipe is left to
    gather(); with it an early regular reply is stashed (and gather returns it) and an error report raises;
    a dead worker raises either way."""
    import multiprocessing as mp

    from rlframe.samplers.parallel.pool import WorkerPool

    pool = WorkerPool(2, "spawn")  # no process started: pipes and process stand-ins set by hand
    pipes = [mp.Pipe() for _ in range(2)]
    pool.conns = [a for a, _ in pipes]
    pool.procs = [_FakeProc(), _FakeProc()]
    try:
        pipes[0][1].send(("ok", "early"))
        pool.raise_if_failed()
        assert pool.conns[0].poll(0) and not pool._stash  # left for gather
        pool.raise_if_failed(drain_replies=True)
        assert pool._stash == {0: "early"} and not pool.conns[0].poll(0)
        assert pool.gather([0], timeout=1.0) == ["early"]

        pipes[1][1].send(("error", {"exc_type": "ValueError", "message": "boom", "env_index": 3}))
        with pytest.raises(WorkerError, match="worker 1, train env 3 raised ValueError: boom"):
            pool.raise_if_failed(drain_replies=True)

        pool.procs[0] = _FakeProc(exitcode=-9)
        with pytest.raises(WorkerError, match="worker 0 .*died.*SIGKILL"):
            pool.raise_if_failed([0])
    finally:
        pool._closed = True
        for a, b in pipes:
            a.close()
            b.close()
