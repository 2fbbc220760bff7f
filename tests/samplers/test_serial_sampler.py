"""SerialSampler end to end: CartPole, seeding, evaluation, truncation values through GymEnv, shutdown."""
import numpy as np
import pytest

from rlframe.envs import GymEnv
from rlframe.errors import ConfigError
from rlframe.samplers import SerialSampler, WaitResetCollector, valid_from_done
from tests.helpers import CounterEnv, RandomAgent


def make(**kw):
    args = dict(EnvCls=GymEnv, env_kwargs=dict(id="CartPole-v1"), batch_T=16, batch_B=4, max_decorrelation_steps=20)
    args.update(kw)
    return SerialSampler(**args)


def test_cartpole_end_to_end():
    sampler = make(eval_n_envs=2, eval_max_trajectories=3, eval_max_steps=1000)
    examples = sampler.initialize(RandomAgent(), seed=7, bootstrap_value=True)
    assert examples["observation"].shape == (4,) and examples["action"].dtype == np.int64
    assert set(examples) >= {"observation", "action", "reward", "done", "env_info", "agent_info"}
    n_eps = 0
    for itr in range(10):
        samples, traj_infos = sampler.obtain_samples(itr)
        n_eps += len(traj_infos)
        assert samples.env.observation.shape == (16, 4, 4) and samples.agent.bootstrap_value.shape == (1, 4)
        assert all(ti.Length >= 1 and ti.Return == ti.Length for ti in traj_infos)
    assert n_eps > 5 and samples.env.done.sum() >= 1
    evals = sampler.evaluate_agent(0)
    assert len(evals) == 3 and sampler.agent._mode == "eval"
    sampler.shutdown()
    sampler.shutdown()  # idempotent


def test_same_seed_same_samples_distinct_env_seeds():
    def run(seed):
        sampler = make(EnvCls=CounterEnv, env_kwargs=dict(truncate_at=7), eval_n_envs=2, eval_max_steps=10)
        sampler.initialize(RandomAgent(seed=1), seed=seed)
        samples, _ = sampler.obtain_samples(0)
        seeds = [e.seeds for e in sampler.envs + sampler.eval_envs]
        out = samples.env.observation.copy(), samples.agent.action.copy()
        sampler.shutdown()
        return out, seeds

    (obs_a, act_a), seeds_a = run(3)
    (obs_b, act_b), seeds_b = run(3)
    assert np.array_equal(obs_a, obs_b) and np.array_equal(act_a, act_b) and seeds_a == seeds_b
    flat = [s for ss in seeds_a for s in dict.fromkeys(ss)]  # env 0 is re-seeded (same seed) after the probe
    assert len(flat) == 6 and len(set(flat)) == 6  # every train and eval env has its own seed
    (obs_c, _), _ = run(4)
    assert not np.array_equal(obs_a, obs_c)  # decorrelation depends on the seed


def test_truncation_timeout_value_with_time_limited_gym_env():
    """gymnasium's TimeLimit truncates after 4 steps; V(true final obs [4]) = 4 is stored."""
    sampler = make(env_kwargs=dict(id="tests.envs.gym_test_envs:RlframeTest/Count-v0"), batch_T=10, batch_B=2,
                   max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0, bootstrap_value=True)
    samples, traj_infos = sampler.obtain_samples(0)
    assert samples.env.observation[:, 0, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert samples.env.truncated[:, 0].tolist() == [False, False, False, True] * 2 + [False, False]
    assert samples.env.timeout_value[:, 0].tolist() == [0, 0, 0, 4, 0, 0, 0, 4, 0, 0]
    assert samples.env.env_info.t[:, 1].tolist() == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    assert samples.agent.bootstrap_value[0].tolist() == [2.0, 2.0]
    assert len(traj_infos) == 4 and all(ti.Truncated and ti.Length == 4 for ti in traj_infos)
    sampler.shutdown()


def test_wait_reset_sampler_and_traj_info_kwargs():
    sampler = make(EnvCls=CounterEnv, env_kwargs=dict(truncate_at=5), batch_T=8, CollectorCls=WaitResetCollector,
                   max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0, traj_info_kwargs=dict(discount=0.5))
    assert sampler.mid_batch_reset is False
    samples, traj_infos = sampler.obtain_samples(0)
    assert valid_from_done(samples.env.done).sum(0).tolist() == [5, 5, 5, 5]
    assert traj_infos[0].DiscountedReturn == pytest.approx(1 + 0.5 + 0.25 + 0.125 + 0.0625)
    sampler.shutdown()


def test_no_eval_envs_and_config_errors():
    sampler = make(EnvCls=CounterEnv, env_kwargs={}, max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0)
    assert sampler.evaluate_agent(0) == []
    sampler.shutdown()
    with pytest.raises(ConfigError, match="eval_max_steps"):
        make(eval_n_envs=1)
    with pytest.raises(ConfigError, match="batch_T"):
        make(batch_T=0)
