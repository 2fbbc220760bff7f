"""SamplerSetup: the set-up steps shared by the serial and the parallel samplers."""
import functools

import pytest

from rlframe.core.seeding import env_seeds
from rlframe.errors import ShapeMismatchError
from rlframe.samplers import SerialSampler, TrajInfo, WaitResetCollector
from rlframe.samplers.setup import SamplerSetup
from tests.helpers import CounterEnv, RandomAgent


def test_layout_of_one_rank():
    sampler = SerialSampler(CounterEnv, {}, batch_T=4, batch_B=3, eval_n_envs=2, eval_max_steps=9,
                            TrajInfo_kwargs=dict(discount=0.5), CollectorCls=WaitResetCollector)
    setup = SamplerSetup(sampler, seed=11, rank=1, world_size=2, traj_info_kwargs=dict(discount=0.9, extra=1))
    train, evals = env_seeds(11, 6, 4)
    assert (setup.seed, setup.B, setup.global_B, setup.env_ranks) == (11, 3, 6, [3, 4, 5])
    assert setup.train_seeds == train[3:] and setup.eval_seeds == evals[2:] and setup.eval_ranks == [2, 3]
    assert setup.eval_max_T == 5  # ceil(9 / 2): the eval envs together make at most 10 >= 9 steps
    assert isinstance(setup.traj_info_factory, functools.partial)
    assert setup.traj_info_factory.keywords == dict(discount=0.9, extra=1)  # the runner's kwargs win
    assert setup.CollectorCls is WaitResetCollector and setup.mid_batch_reset is False
    assert sampler.mid_batch_reset is False  # declared on the sampler from its collector class


def test_probe_and_buffer_steps():
    sampler = SerialSampler(CounterEnv, {}, batch_T=4, batch_B=2)
    setup = SamplerSetup(sampler, seed=0)
    assert setup.traj_info_factory is TrajInfo and setup.mid_batch_reset and setup.eval_max_T == 10**12
    env, agent = CounterEnv(), RandomAgent()
    example = setup.probe(env)
    setup.initialize_agent(agent, env, share_memory=False)
    seen = []
    pyt, np_, examples = setup.build_buffer(agent, env, example, bootstrap_value=True, final_observation=True,
                                            shared=False, check_space=seen.append)
    assert np_.env.observation.shape == (4, 2, 3) and np_.env.final_observation.shape == (4, 2, 3)
    assert np_.agent.bootstrap_value.shape == (1, 2) and seen[0].env.observation.shape == (1, 1, 3)
    with pytest.raises(ShapeMismatchError):  # the eval env must have the train env's spaces
        setup.probe(CounterEnv(), CounterEnv(obs_size=4))
