import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents import AgentInfo, CategoricalPgAgent, GaussianPgAgent
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.distributions import DistInfo, DistInfoStd
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError


def cartpole_spaces():
    return EnvSpaces(gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2))


def test_categorical_agent_step_and_call():
    torch.manual_seed(0)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(16,)))
    agent.initialize(cartpole_spaces())
    assert agent.env_model_kwargs == dict(observation_shape=(4,), action_size=2)
    agent.sample_mode(0)
    obs = torch.randn(8, 4)
    step = agent.step(obs, torch.zeros(8, dtype=torch.long), torch.zeros(8))
    assert step.action.shape == (8,) and step.action.dtype == torch.long
    assert isinstance(step.agent_info, AgentInfo) and isinstance(step.agent_info.dist_info, DistInfo)
    assert step.agent_info.dist_info.logits.shape == (8, 2) and step.agent_info.value.shape == (8,)
    assert not step.action.requires_grad and not step.agent_info.value.requires_grad
    assert step.action.device.type == "cpu"
    dist_info, value = agent(torch.randn(5, 8, 4), torch.zeros(5, 8), torch.zeros(5, 8))
    assert dist_info.logits.shape == (5, 8, 2) and value.shape == (5, 8) and value.requires_grad
    assert torch.allclose(agent.value(obs, None, None), step.agent_info.value)
    pickle.loads(pickle.dumps(step))  # buffers built from it travel to workers


def test_categorical_agent_eval_mode_is_greedy():
    agent = CategoricalPgAgent(model_kwargs=dict(shared=True))
    agent.initialize(cartpole_spaces())
    with torch.no_grad():
        agent.model.pi_head.weight.zero_()
        agent.model.pi_head.bias.copy_(torch.tensor([0.0, 0.3]))
    agent.eval_mode(0)
    for _ in range(5):
        assert (agent.step(torch.randn(16, 4), None, None).action == 1).all()
    agent.sample_mode(0)
    acts = torch.cat([agent.step(torch.randn(64, 4), None, None).action for _ in range(10)])
    assert (acts == 0).any()


def test_categorical_agent_masks_actions_from_observation():
    torch.manual_seed(0)
    n = 12
    space = gym.spaces.Dict({"grid": gym.spaces.Box(0, 1, (n,), np.float32), "action_mask": gym.spaces.MultiBinary(n)})
    agent = CategoricalPgAgent()
    agent.initialize(EnvSpaces(space, gym.spaces.Discrete(n)))
    Obs = namedarraytuple("Observation", ["grid", "action_mask"])
    mask = torch.zeros(256, n, dtype=torch.int8)
    mask[torch.arange(256), torch.randint(0, n, (256,))] = 1
    mask[:, 5] = 1
    obs = Obs(torch.rand(256, n), mask)
    agent.sample_mode(0)
    for mode in ("sample", "eval"):
        getattr(agent, f"{mode}_mode")(0)
        a = agent.step(obs, None, None).action
        assert mask.gather(1, a.unsqueeze(1)).all()
    dist_info, _ = agent(Obs(obs.grid.view(16, 16, n), mask.view(16, 16, n)), None, None)
    p = torch.softmax(dist_info.logits, -1)
    assert (p[mask.view(16, 16, n) == 0] == 0).all()


def test_categorical_agent_rejects_box_actions():
    with pytest.raises(ConfigError, match="GaussianPgAgent"):
        CategoricalPgAgent().initialize(EnvSpaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,))))


def test_gaussian_agent():
    torch.manual_seed(0)
    spaces = EnvSpaces(gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-2, 2, (2,), np.float32))
    agent = GaussianPgAgent(model_kwargs=dict(init_log_std=1.0))
    agent.initialize(spaces)
    agent.sample_mode(0)
    step = agent.step(torch.randn(500, 3), None, None)
    assert isinstance(step.agent_info.dist_info, DistInfoStd)
    assert step.action.shape == (500, 2)
    assert (step.action.abs() > 2).any()  # unclipped sample is stored (clipping happens at the env boundary)
    agent.eval_mode(0)
    e = agent.step(torch.randn(4, 3), None, None)
    assert torch.allclose(e.action, e.agent_info.dist_info.mean)
    clip = GaussianPgAgent(model_kwargs=dict(init_log_std=1.0), clip_actions=True)
    clip.initialize(spaces)
    clip.sample_mode(0)
    assert (clip.step(torch.randn(500, 3), None, None).action.abs() <= 2).all()
    with pytest.raises(ConfigError):
        GaussianPgAgent().initialize(cartpole_spaces())


def test_agent_state_dict_roundtrip_and_shared_memory():
    a = CategoricalPgAgent()
    a.initialize(cartpole_spaces(), share_memory=True)
    b = CategoricalPgAgent(initial_model_state_dict=a.state_dict())
    b.initialize(cartpole_spaces())
    x = torch.randn(3, 4)
    assert torch.allclose(a(x, None, None)[0].logits, b(x, None, None)[0].logits)
    assert next(a.model.parameters()).is_shared()


def test_to_device_keeps_the_shared_cpu_copy_for_parallel_workers():
    """CpuSampler workers read the shared-memory CPU model; after the runner moves the agent to a device
    (``affinity["cuda_idx"]``) that copy must stay on the CPU, in shared memory, and be a different module
    from the training model, or ``sync_shared_memory`` never updates the workers' weights. (The "meta"
    device stands in for CUDA: ``Module.to`` moves a module in place, as it does for CUDA.)"""
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(cartpole_spaces(), share_memory=True)
    shared_params = list(agent.model.parameters())
    agent.to_device("meta")
    assert agent.device == torch.device("meta")
    assert all(p.device.type == "meta" for p in agent.model.parameters())
    assert agent.shared_model is not agent.model
    shared_now = list(agent.shared_model.parameters())
    assert all(p.device.type == "cpu" and p.is_shared() for p in shared_now)
    # the workers hold these very storages (pickled at start-up): they must still be the shared ones
    assert [p.data_ptr() for p in shared_now] == [p.data_ptr() for p in shared_params]


def test_to_device_without_shared_memory_keeps_no_copy():
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(cartpole_spaces())
    agent.to_device("meta")
    assert all(p.device.type == "meta" for p in agent.model.parameters())
    agent.sync_shared_memory()  # nothing to copy into (serial / GPU samplers)


def test_gaussian_agent_ortho_init_from_model_kwargs():
    spaces = EnvSpaces(gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Box(-1, 1, (2,), np.float32))
    for ortho in (True, False):
        agent = GaussianPgAgent(model_kwargs=dict(hidden_sizes=(16,), ortho_init=ortho))
        agent.initialize(spaces)
        assert agent.model.ortho_init is ortho
        biases = [p for n, p in agent.model.named_parameters() if "bias" in n]
        assert any(torch.count_nonzero(b) > 0 for b in biases) is (not ortho)  # default Linear init: random biases
