"""AsyncSerialSampler / AsyncCpuSampler / AsyncGpuSampler: a sampler process appends each batch to a shared
replay (the same steps a synchronous sampler with the same seed collects), runs at most max_batches_ahead
batches ahead, evaluates between batches, and every fault is a WorkerError within seconds with nothing left
behind."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import psutil
import pytest

from rlframe.core.seeding import env_seeds
from rlframe.errors import ConfigError, WorkerError
from rlframe.replays import UniformReplayBuffer
from rlframe.samplers.async_ import AsyncCpuSampler, AsyncGpuSampler, AsyncSerialSampler
from rlframe.samplers.parallel import CpuSampler
from tests.helpers import RandomAgent
from tests.samplers.parallel.conftest import time_limit, worker_processes  # noqa: F401  (fixture)
from tests.samplers.parallel.fault_envs import SeedEnv

SEED, B, T = 11, 4, 5
CLASSES = {"serial": AsyncSerialSampler, "cpu": AsyncCpuSampler, "gpu": AsyncGpuSampler}


def _sampler(kind="cpu", attach=True, **kw):
    Cls = CLASSES[kind]
    if kind != "serial":
        kw.setdefault("n_workers", 2)
    s = Cls(SeedEnv, kw.pop("env_kwargs", {}), batch_T=T, batch_B=B, max_decorrelation_steps=0,
            start_method=kw.pop("start_method", "fork"), eval_n_envs=kw.pop("eval_n_envs", 0),
            eval_max_trajectories=2, eval_max_steps=40, **kw)
    examples = s.initialize(RandomAgent(), seed=SEED, final_observation=True)
    if attach:
        s.attach_replay(UniformReplayBuffer(examples, size=20 * T * B, B=B, shared=True))
    return s


def _clean(s):
    t0 = time.monotonic()
    s.shutdown()
    assert time.monotonic() - t0 < 10
    assert not worker_processes()


@pytest.mark.parametrize("kind", ["serial", "cpu", "gpu"])
def test_the_sampler_process_appends_the_batches_a_synchronous_sampler_collects(kind):
    """RandomAgent draws from per-env generators and SeedEnv is deterministic: the batches the sampler process
    appends are those of a CpuSampler with the same seed, in the same order."""
    s = _sampler(kind)
    c = CpuSampler(SeedEnv, {}, batch_T=T, batch_B=B, max_decorrelation_steps=0, n_workers=2, start_method="fork")
    ref = UniformReplayBuffer(c.initialize(RandomAgent(), seed=SEED, final_observation=True), size=20 * T * B, B=B)
    try:
        for itr in range(3):
            samples, trajs = s.obtain_samples(itr)
            assert samples is None  # in the replay already
            ref.append_samples(c.obtain_samples(itr)[0])
        rows = 3 * T
        assert s.replay.total >= rows
        if kind == "cpu":  # same workers, same per-worker random streams: the same actions
            np.testing.assert_array_equal(s.replay.buf.action[:rows], ref.buf.action[:rows])
        np.testing.assert_array_equal(s.replay.buf.observation[:rows, :, [0, 2]], ref.buf.observation[:rows, :, [0, 2]])
        np.testing.assert_array_equal(s.replay.buf.truncated[:rows], ref.buf.truncated[:rows])
        assert len(s.replay.final_obs) >= len(ref.final_obs) > 0  # true final observations stored too
    finally:
        c.shutdown()
        _clean(s)


def test_the_sampler_process_runs_at_most_max_batches_ahead():
    s = _sampler("serial", max_batches_ahead=4)

    def settled_total(expected):
        deadline = time.monotonic() + 10
        while s.replay.total < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # and no further
        return s.replay.total

    try:
        s.obtain_samples(0)
        assert settled_total(5 * T) == 5 * T  # batches 0-4, then it waits for the optimizer
        s.obtain_samples(1)
        s.obtain_samples(2)
        assert settled_total(5 * T) == 5 * T  # no new grant until half of it is used
        s.obtain_samples(3)
        assert settled_total(8 * T) == 8 * T  # refilled up to 3 + 4
    finally:
        _clean(s)


def test_evaluation_runs_between_batches():
    s = _sampler("serial", eval_n_envs=2)
    try:
        s.obtain_samples(0)
        assert s.evaluate_agent(0)  # finished episodes
        s.obtain_samples(1)  # the batch collected meanwhile is still delivered
        s.obtain_samples(2)
        assert s.replay.total >= 3 * T
    finally:
        _clean(s)


def test_obtain_before_attach_and_a_private_replay_are_config_errors():
    s = _sampler("serial", attach=False)
    try:
        with pytest.raises(ConfigError, match="attach_replay"):
            s.obtain_samples(0)
        with pytest.raises(ConfigError, match="shared=True"):
            s.attach_replay(UniformReplayBuffer(s.examples, size=20 * T * B, B=B))
    finally:
        _clean(s)


@pytest.mark.parametrize("kind", ["serial", "cpu", "gpu"])
def test_env_exception_in_the_sampler_process_is_a_worker_error(kind):
    s = _sampler(kind, env_kwargs={"fault": "raise", "fault_seed": env_seeds(SEED, B)[0][3]})
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="boom in env"):
        for itr in range(50):
            s.obtain_samples(itr)
    assert time.monotonic() - t0 < 10
    _clean(s)


@pytest.mark.parametrize("kind", ["serial", "cpu", "gpu"])
def test_killed_sampler_process_is_a_worker_error_within_seconds(kind):
    s = _sampler(kind)
    s.obtain_samples(0)
    os.kill(s.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="killed by SIGKILL"):
        for itr in range(1, 50):
            s.obtain_samples(itr)
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 5  # its env workers notice that their master is gone and leave
    while worker_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    _clean(s)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_killed_env_worker_is_a_worker_error_within_seconds(kind):
    s = _sampler(kind)
    s.obtain_samples(0)
    workers = psutil.Process(s.proc.pid).children()
    assert len(workers) == 2  # started with fork: the env workers are the sampler process's children
    max(workers, key=lambda p: p.pid).kill()  # rank 1 started last
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="async sampler process: sampler worker 1 .*killed by SIGKILL"):
        for itr in range(1, 50):
            s.obtain_samples(itr)
    assert time.monotonic() - t0 < 5
    _clean(s)


def test_the_sampler_process_leaves_when_the_optimizer_process_is_gone(tmp_path):
    """A process that owns an async sampler is SIGKILLed: its sampler process and env workers exit by
    themselves."""
    import subprocess
    import sys

    code = (
        "import os, sys, time\n"
        "sys.path.insert(0, os.getcwd())\n"
        "from tests.samplers.async_.test_async_samplers import _sampler\n"
        "if __name__ == '__main__':\n"
        "    s = _sampler('cpu')\n"
        "    s.obtain_samples(0)\n"
        "    print(s.proc.pid, flush=True)\n"
        "    time.sleep(60)\n")
    script = tmp_path / "owner.py"
    script.write_text(code)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(owner.stdout.readline())
        family = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
        assert len(family) == 3
        owner.kill()
        owner.wait(5)
        gone, alive = psutil.wait_procs(family, timeout=10)
        assert not alive
    finally:
        owner.kill()
