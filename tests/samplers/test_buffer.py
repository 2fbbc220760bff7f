"""build_samples_buffer: layout, shared memory, declared dtypes, structured (Dict) observations."""
import numpy as np
import torch

from rlframe.envs import GymEnv
from rlframe.samplers import SerialSampler
from rlframe.samplers.base import BatchSpec
from rlframe.samplers.buffer import build_samples_buffer
from tests.helpers import CounterEnv, RandomAgent

DICT_ID = "tests.envs.gym_test_envs:RlframeTest/DictObs-v0"


def test_layout_and_examples():
    env = CounterEnv(obs_size=5)
    agent = RandomAgent()
    agent.initialize(env.spaces)
    pyt, np_, examples = build_samples_buffer(agent, env, BatchSpec(6, 3), bootstrap_value=True)
    assert np_.env.observation.shape == (6, 3, 5) and np_.env.observation.dtype == np.float32
    assert np_.agent.action.shape == (6, 3) and np_.agent.action.dtype == np.int64
    assert np_.agent.bootstrap_value.shape == (1, 3) and np_.agent.agent_info.value.shape == (6, 3)
    assert np_.env.env_info.t.shape == (6, 3)
    for f in ("terminated", "truncated", "done"):
        assert getattr(np_.env, f).dtype == np.bool_
    pyt.env.reward[2, 1] = 5.0  # torch and numpy views share memory
    assert np_.env.reward[2, 1] == 5.0
    assert examples["observation"].shape == (5,) and examples["value"] is not None


def test_shared_memory_buffers():
    env = CounterEnv()
    agent = RandomAgent()
    agent.initialize(env.spaces)
    pyt, np_, _ = build_samples_buffer(agent, env, BatchSpec(4, 2), True, agent_shared=True, env_shared=True)
    assert pyt.env.observation.is_shared() and pyt.agent.action.is_shared() and pyt.agent.bootstrap_value.is_shared()
    np_.env.observation[1, 1, 2] = 3.0
    assert pyt.env.observation[1, 1, 2].item() == 3.0
    pyt, _, _ = build_samples_buffer(agent, env, BatchSpec(4, 2), agent_shared=False, env_shared=True)
    assert pyt.env.observation.is_shared() and not pyt.agent.action.is_shared()


def test_declared_dtype_wins():
    class F64Env(CounterEnv):
        def _obs(self):
            return super()._obs().astype(np.float64)

    env = F64Env()
    agent = RandomAgent()
    agent.initialize(env.spaces)
    _, np_, _ = build_samples_buffer(agent, env, BatchSpec(2, 1))
    assert np_.env.observation.dtype == np.float32


def test_dict_observations_end_to_end():
    sampler = SerialSampler(GymEnv, dict(id=DICT_ID), batch_T=8, batch_B=2, max_decorrelation_steps=0,
                            eval_n_envs=1, eval_max_trajectories=2, eval_max_steps=50, debug=True)
    examples = sampler.initialize(RandomAgent(), seed=0, bootstrap_value=True)
    assert examples["observation"]._fields == ("mask", "pos")
    samples, traj_infos = sampler.obtain_samples(0)
    obs = samples.env.observation
    assert obs.pos.shape == (8, 2, 2) and obs.mask.shape == (8, 2, 3) and obs.mask.dtype == np.int8
    assert obs.pos[:, 0, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]  # TimeLimit(4) truncates, then reset
    assert samples.env.env_info._fields == ("count", "vec", "cost")
    assert samples.env.env_info.vec.shape == (8, 2, 2)
    assert samples.env.env_info.cost[:4, 0].tolist() == [0.5, 0.0, 1.5, 0.0]
    assert len(traj_infos) == 4 and traj_infos[0].count == 4.0  # final info values on the TrajInfo
    assert samples.env.timeout_value[3].tolist() == [2.0, 2.0]  # V = sum(mask) of the final obs
    assert len(sampler.evaluate_agent(0)) == 2
    sampler.shutdown()
