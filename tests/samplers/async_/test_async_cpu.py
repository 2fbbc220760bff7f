"""AsyncCpuSampler / AsyncSerialSampler: the workers collect batch k + 1 while the caller works on batch k (in
a private copy), evaluation in between keeps the batch in flight, and faults are WorkerErrors within seconds
with nothing left behind."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from rlframe.core.seeding import env_seeds
from rlframe.errors import WorkerError
from rlframe.samplers.async_ import AsyncCpuSampler, AsyncSerialSampler
from rlframe.samplers.parallel import CpuSampler
from tests.helpers import RandomAgent
from tests.samplers.parallel.conftest import time_limit, worker_processes  # noqa: F401  (fixture)
from tests.samplers.parallel.fault_envs import SeedEnv

SEED, B, T = 11, 4, 5


def _sampler(Cls=AsyncCpuSampler, **kw):
    kw.setdefault("n_workers", 2) if Cls is not AsyncSerialSampler else None
    s = Cls(SeedEnv, kw.pop("env_kwargs", {}), batch_T=T, batch_B=B, max_decorrelation_steps=0,
            start_method="fork", eval_n_envs=kw.pop("eval_n_envs", 0), eval_max_trajectories=2, eval_max_steps=40,
            **kw)
    s.initialize(RandomAgent(), seed=SEED)
    return s


def _clean(s):
    t0 = time.monotonic()
    s.shutdown()
    assert time.monotonic() - t0 < 10
    assert not worker_processes()


def test_batches_are_private_copies_and_the_next_one_is_collected_meanwhile():
    s = _sampler()
    try:
        first, _ = s.obtain_samples(0)
        assert first is not s.samples_np  # the optimizer's half of the double buffer
        assert s._in_flight == 1  # the workers are already on batch 1
        obs0 = np.array(first.env.observation)
        time.sleep(0.5)  # the workers finish batch 1 into the shared half: batch 0 stays as it was
        assert np.array_equal(first.env.observation, obs0)
        second, _ = s.obtain_samples(1)
        assert not np.array_equal(second.env.observation, obs0)
    finally:
        _clean(s)


def test_same_env_steps_as_the_synchronous_cpu_sampler():
    """RandomAgent draws from per-env generators and SeedEnv is deterministic: the async sampler's batches are
    those of a CpuSampler with the same seed, in the same order."""
    a, c = _sampler(), CpuSampler(SeedEnv, {}, batch_T=T, batch_B=B, max_decorrelation_steps=0, n_workers=2,
                                 start_method="fork")
    c.initialize(RandomAgent(), seed=SEED)
    try:
        for itr in range(3):
            sa, _ = a.obtain_samples(itr)
            sc, _ = c.obtain_samples(itr)
            assert np.array_equal(sa.env.observation, sc.env.observation), itr
            assert np.array_equal(sa.agent.action, sc.agent.action), itr
    finally:
        c.shutdown()
        _clean(a)


def test_evaluation_keeps_the_batch_in_flight():
    s = _sampler(AsyncSerialSampler, eval_n_envs=2)
    try:
        assert s.n_workers == 1
        s.obtain_samples(0)
        assert s.evaluate_agent(0)  # finished episodes
        batch, _ = s.obtain_samples(1)  # the batch collected before the evaluation
        assert s._stash is None and s._in_flight == 2
        assert batch.env.observation.shape[:2] == (T, B)
    finally:
        _clean(s)


def test_env_exception_while_the_caller_trains_is_a_worker_error():
    s = _sampler(env_kwargs={"fault": "raise", "fault_seed": env_seeds(SEED, B)[0][3]})
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="boom in env"):
        for itr in range(50):
            s.obtain_samples(itr)
    assert time.monotonic() - t0 < 10
    _clean(s)


def test_killed_sampler_process_is_a_worker_error_within_seconds():
    s = _sampler()
    s.obtain_samples(0)
    os.kill(s.pool.procs[1].pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="killed by SIGKILL"):
        s.obtain_samples(1)
        s.obtain_samples(2)
    assert time.monotonic() - t0 < 5
    _clean(s)
