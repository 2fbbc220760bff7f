"""``agent.sampling_state_dict()``: what an agent carries between steps, saved for an exact resume."""
import gymnasium as gym
import numpy as np
import torch

from rlframe.agents.pg import CategoricalPgAgent, RecurrentCategoricalPgAgent
from rlframe.agents.qpg import DdpgAgent
from rlframe.envs.base import EnvSpaces


def _flat(agent_step):
    """Action and every agent_info leaf (e.g. the recurrent state acted from), as one list of tensors."""
    from rlframe.core.namedarraytuple import iter_leaves

    info = agent_step.agent_info
    return [agent_step.action] + ([] if info is None else [x for _, x in iter_leaves(info)])


def _same(expected, got):
    return all(len(e) == len(g) and all(torch.equal(a, b) for a, b in zip(e, g)) for e, g in zip(expected, got))


def _continue_from_saved_state(make, spaces, inputs, n=5):
    agent = make()
    agent.initialize(spaces, global_B=inputs[0].shape[0])
    agent.sample_mode(0)
    for _ in range(3):
        agent.step(*inputs)
    state = agent.sampling_state_dict()
    torch.manual_seed(1)
    expected = [_flat(agent.step(*inputs)) for _ in range(n)]
    other = make()
    other.initialize(spaces, global_B=inputs[0].shape[0])
    other.load_state_dict(agent.state_dict())
    other.sample_mode(0)
    other.load_sampling_state_dict(state)
    torch.manual_seed(1)
    got = [_flat(other.step(*inputs)) for _ in range(n)]
    return expected, got


def test_recurrent_agent_continues_from_its_saved_state():
    spaces = EnvSpaces(gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Discrete(2))
    inputs = torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.zeros(4)
    torch.manual_seed(0)
    make = lambda: RecurrentCategoricalPgAgent(model_kwargs=dict(fc_sizes=[], lstm_size=8, head_sizes=[8]))  # noqa
    expected, got = _continue_from_saved_state(make, spaces, inputs)
    assert _same(expected, got)
    fresh = make()
    fresh.initialize(spaces, global_B=4)
    assert fresh.sampling_state_dict()["rnn_state"] == {"sample": None, "eval": None}


def test_ou_noise_continues_from_its_saved_state():
    spaces = EnvSpaces(gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 1, (2,), np.float32))
    inputs = torch.randn(4, 3), torch.zeros(4, 2), torch.zeros(4)
    torch.manual_seed(0)
    make = lambda: DdpgAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)),  # noqa
                             noise_type="ou", exploration_noise=0.3)
    expected, got = _continue_from_saved_state(make, spaces, inputs)
    assert _same(expected, got)


def test_memoryless_agent_carries_nothing():
    agent = CategoricalPgAgent()
    assert agent.sampling_state_dict() == {}
