"""The parallel samplers produce what SerialSampler produces, under every start method."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rlframe.core.seeding import env_seeds
from rlframe.samplers.collectors import WaitResetCollector
from rlframe.samplers.serial import SerialSampler
from tests.helpers import LinearAgent, RandomAgent
from tests.samplers.parallel.conftest import SAMPLERS, make_sampler, worker_processes
from tests.samplers.parallel.fault_envs import SeedEnv

B, T, N_EVAL = 5, 6, 3
COMMON = dict(batch_T=T, batch_B=B, max_decorrelation_steps=0, eval_n_envs=N_EVAL, eval_max_trajectories=4,
              eval_max_steps=100)


def _run(sampler, agent, n_itr=2, seed=7):
    torch.manual_seed(0)
    sampler.initialize(agent, seed=seed, bootstrap_value=True)
    out = []
    try:
        for itr in range(n_itr):
            samples, trajs = sampler.obtain_samples(itr)
            out.append((_copy(samples), sorted((t.seed, t.Length, t.Return) for t in trajs)))
        evals = sampler.evaluate_agent(0)
    finally:
        sampler.shutdown()
    return out, evals


def _copy(samples):
    return {k: np.array(v, copy=True) for k, v in [
        ("observation", samples.env.observation), ("reward", samples.env.reward), ("done", samples.env.done),
        ("truncated", samples.env.truncated), ("timeout_value", samples.env.timeout_value),
        ("seed", samples.env.env_info.seed), ("t", samples.env.env_info.t), ("action", samples.agent.action),
        ("prev_action", samples.agent.prev_action),
        ("bootstrap_value", getattr(samples.agent, "bootstrap_value", np.zeros(1))),
    ]}


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_same_samples_as_serial(kind, start_method):
    """Greedy agent (deterministic): every field equals the serial sampler's; eval envs get distinct seeds."""
    serial, _ = _run(SerialSampler(SeedEnv, {}, **COMMON), LinearAgent())
    parallel, evals = _run(SAMPLERS[kind](SeedEnv, {}, n_workers=2, start_method=start_method, **COMMON),
                           LinearAgent())
    for (s_buf, s_trajs), (p_buf, p_trajs) in zip(serial, parallel):
        for field in s_buf:
            np.testing.assert_array_equal(s_buf[field], p_buf[field], err_msg=field)
        assert s_trajs == p_trajs
    train_seeds, eval_seeds = env_seeds(7, B, N_EVAL)
    assert list(parallel[0][0]["seed"][0]) == train_seeds  # each train env got its own seed, in order
    assert len(evals) == 4 and {t.seed for t in evals} <= set(eval_seeds)
    assert len({t.seed for t in evals}) >= 2  # episodes from several eval envs (different workers)
    assert not worker_processes()


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_values_and_wait_reset(kind):
    """Truncation values (V of the true final obs) and bootstrap values match serial, wait-reset collector too."""
    kw = dict(COMMON, CollectorCls=WaitResetCollector, eval_n_envs=0)
    serial, _ = _run(SerialSampler(SeedEnv, {"episode": 4}, **kw), RandomAgent(), n_itr=3)
    parallel, _ = _run(SAMPLERS[kind](SeedEnv, {"episode": 4}, n_workers=2, start_method="fork", **kw),
                       RandomAgent(), n_itr=3)
    for (s_buf, _), (p_buf, _) in zip(serial, parallel):
        for field in ("observation", "done", "truncated", "timeout_value", "bootstrap_value", "seed", "t"):
            np.testing.assert_array_equal(s_buf[field], p_buf[field], err_msg=field)
    assert any(p_buf["timeout_value"].any() for p_buf, _ in parallel)


def test_cpu_sampler_same_seed_same_samples():
    """Stochastic policy in the workers: the same seed gives the same samples, another seed does not."""
    from rlframe.agents.pg import CategoricalPgAgent

    def run(seed):
        torch.manual_seed(0)
        s = make_sampler("cpu", "fork", B=4, T=8, max_decorrelation_steps=5)
        s.initialize(CategoricalPgAgent(), seed=seed)
        try:
            return [(_copy(s.obtain_samples(i)[0])) for i in range(2)]
        finally:
            s.shutdown()

    a, b, c = run(3), run(3), run(4)
    for x, y in zip(a, b):
        for field in ("observation", "action", "reward"):
            np.testing.assert_array_equal(x[field], y[field])
    assert not np.array_equal(a[1]["action"], c[1]["action"])


def test_workers_capped_at_batch_B():
    s = make_sampler("cpu", "fork", B=1, n_workers=4)
    s.initialize(RandomAgent(), seed=0)
    try:
        assert s.n_workers == 1
        assert s.obtain_samples(0)[0].env.reward.shape == (5, 1)
    finally:
        s.shutdown()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_cpu_sampler_workers_act_with_the_masters_latest_weights(start_method):
    """Weights changed in the master between iterations (as an optimizer step does) drive the next batch."""
    agent = LinearAgent()
    sampler = SAMPLERS["cpu"](SeedEnv, {}, n_workers=2, start_method=start_method,
                              **dict(COMMON, eval_n_envs=0))
    sampler.initialize(agent, seed=3)
    try:
        for wanted in (1, 0, 1):
            with torch.no_grad():  # in place, like optimizer.step(): the shared storage is updated
                agent.model.fc.weight.zero_()
                agent.model.fc.bias.copy_(torch.tensor([100.0, -100.0]) * (1 if wanted == 0 else -1))
            samples, _ = sampler.obtain_samples(0)
            assert (samples.agent.action == wanted).all(), f"workers did not act with the new weights ({wanted})"
    finally:
        sampler.shutdown()


@pytest.mark.parametrize("kind, CollectorCls", [("cpu", None), ("cpu", WaitResetCollector), ("gpu", None),
                                                 ("alternating", None)])
def test_final_observation_same_as_serial(kind, CollectorCls):
    """final_observation (true final obs at episode ends, zeros elsewhere) is written by the workers'
    collectors exactly as by the serial sampler: every field equal, over batches with mid-batch ends."""
    kw = dict(COMMON, eval_n_envs=0, CollectorCls=CollectorCls)

    def run(sampler):
        torch.manual_seed(0)
        sampler.initialize(LinearAgent(), seed=5, bootstrap_value=True, final_observation=True)
        try:
            out = []
            for itr in range(3):
                samples, _ = sampler.obtain_samples(itr)
                out.append({**_copy(samples), "final_observation": np.array(samples.env.final_observation)})
            return out
        finally:
            sampler.shutdown()

    serial = run(SerialSampler(SeedEnv, {"episode": 4}, **kw))
    parallel = run(SAMPLERS[kind](SeedEnv, {"episode": 4}, n_workers=2, start_method="fork", **kw))
    for s_buf, p_buf in zip(serial, parallel):
        for field in s_buf:
            np.testing.assert_array_equal(s_buf[field], p_buf[field], err_msg=field)
        ended = p_buf["truncated"]
        assert ended.any() and (p_buf["final_observation"][ended][:, 0] == 4).all()  # t of the final obs
        assert not p_buf["final_observation"][~ended].any()
