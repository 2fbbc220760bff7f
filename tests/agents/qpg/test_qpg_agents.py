"""QPG agents: action scaling in one place, exploration, warm-up, targets, state dicts, device-free acting."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.qpg import BoxActionScaler, DdpgAgent, SacAgent, Td3Agent
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError


def _spaces(low=(-2.0, 0.0), high=(2.0, 1.0)):
    return EnvSpaces(observation=gym.spaces.Box(-1, 1, (3,), np.float32),
                     action=gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32)))


def _inputs(B=4):
    return torch.randn(B, 3), torch.zeros(B, 2), torch.zeros(B)


def test_box_action_scaler_round_trip_and_bounds():
    s = BoxActionScaler(np.array([-2.0, 0.0]), np.array([2.0, 1.0]))
    a = torch.rand(100, 2) * 2 - 1
    env_a = s.to_env(a)
    assert torch.allclose(s.from_env(env_a), a, atol=1e-6)
    assert torch.allclose(s.to_env(torch.tensor([[-1.0, -1.0], [1.0, 1.0]])), torch.tensor([[-2.0, 0.0], [2.0, 1.0]]))
    unit = BoxActionScaler(-np.ones(2), np.ones(2))
    assert unit.identity and unit.to_env(a) is a


def test_infinite_bounds_are_a_config_error():
    with pytest.raises(ConfigError, match="finite bounds"):
        BoxActionScaler(np.array([-np.inf]), np.array([np.inf]))
    agent = SacAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    with pytest.raises(ConfigError, match="1-D Box"):
        agent.initialize(EnvSpaces(observation=gym.spaces.Box(-1, 1, (3,)), action=gym.spaces.Discrete(3)))


@pytest.mark.parametrize("AgentCls", [DdpgAgent, Td3Agent, SacAgent])
def test_actions_stay_in_bounds_and_eval_is_deterministic(AgentCls):
    torch.manual_seed(0)
    agent = AgentCls(model_kwargs=dict(hidden_sizes=(16,)), q_model_kwargs=dict(hidden_sizes=(16,)))
    agent.initialize(_spaces())
    low, high = torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])
    inputs = _inputs(256)
    agent.sample_mode(0)
    a = agent.step(*inputs).action
    assert a.shape == (256, 2) and (a >= low).all() and (a <= high).all()
    agent.eval_mode(0)
    e1, e2 = agent.step(*inputs).action, agent.step(*inputs).action
    assert torch.equal(e1, e2) and (e1 >= low).all() and (e1 <= high).all()
    assert not torch.equal(a, e1)


def test_uniform_warm_up_until_the_given_iteration():
    torch.manual_seed(0)
    agent = DdpgAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)),
                      exploration_noise=0.0)
    agent.initialize(_spaces())
    agent.explore_uniform_until(2)
    obs = torch.zeros(2000, 3), torch.zeros(2000, 2), torch.zeros(2000)
    agent.sample_mode(1)
    a = agent.step(*obs).action
    assert float(a[:, 0].std()) > 1.0  # uniform over [-2, 2]: std 1.15
    assert abs(float(a[:, 0].mean())) < 0.1 and abs(float(a[:, 1].mean()) - 0.5) < 0.05
    agent.sample_mode(2)
    a = agent.step(*obs).action
    assert float(a.std(0).max()) < 1e-6  # the deterministic policy, same obs, no noise


def test_ou_noise_is_correlated_and_resets_per_env():
    torch.manual_seed(0)
    agent = DdpgAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)),
                      noise_type="ou", exploration_noise=0.3)
    agent.initialize(_spaces(low=(-1.0, -1.0), high=(1.0, 1.0)))
    agent.sample_mode(0)
    obs = torch.zeros(2, 3), torch.zeros(2, 2), torch.zeros(2)
    with torch.no_grad():
        mu = agent.model(obs[0])
    xs = torch.stack([agent.step(*obs).action - mu for _ in range(200)])  # [200, 2 envs, 2]
    lag1 = np.corrcoef(xs[:-1, 0, 0].numpy(), xs[1:, 0, 0].numpy())[0, 1]
    assert lag1 > 0.9
    agent.reset_one(1)
    assert torch.all(agent._ou_state[1] == 0) and torch.any(agent._ou_state[0] != 0)


def test_td3_target_action_smoothing_is_clipped():
    torch.manual_seed(0)
    agent = Td3Agent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces())
    obs = torch.randn(1000, 3)
    mu = agent.target_pi(obs)
    a = agent.target_action(obs, noise_std=0.5, noise_clip=0.1)
    assert (a - mu).abs().max() <= 0.1 + 1e-6 and a.abs().max() <= 1
    assert agent.q_model.n_critics == 2 and DdpgAgent().default_n_critics == 1


def test_targets_state_dict_round_trip_and_soft_update():
    torch.manual_seed(0)
    agent = Td3Agent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces())
    assert all(not p.requires_grad for p in agent.target_q_model.parameters())
    with torch.no_grad():
        for p in agent.q_model.parameters():
            p.add_(1.0)
    before = [p.clone() for p in agent.target_q_model.parameters()]
    agent.update_targets(0.1)
    for b, t, s in zip(before, agent.target_q_model.parameters(), agent.q_model.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * s, atol=1e-6)
    state = agent.state_dict()
    assert set(state) == {"model", "q_model"}  # the targets travel in the algorithm's state_dict, as DQN's
    targets = agent.target_state_dict()
    assert set(targets) == {"target_model", "target_q_model"}
    other = Td3Agent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    other.initialize(_spaces())
    other.load_state_dict(state)
    other.load_target_state_dict(targets)
    for a, b in zip(agent.target_q_model.parameters(), other.target_q_model.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(agent.q_model.parameters(), other.q_model.parameters()):
        assert torch.equal(a, b)
    sac = SacAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    sac.initialize(_spaces())
    assert sac.target_model is None and set(sac.target_state_dict()) == {"target_q_model"}


def test_agent_state_from_before_the_targets_moved_still_loads_them():
    torch.manual_seed(0)
    agent = Td3Agent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces())
    with torch.no_grad():
        for p in list(agent.target_q_model.parameters()) + list(agent.target_model.parameters()):
            p.add_(3.0)
    old_format = dict(agent.state_dict(), **agent.target_state_dict())  # session-2 checkpoints held all four
    other = Td3Agent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    other.initialize(_spaces())
    other.load_state_dict(old_format)
    for name in ("target_q_model", "target_model", "q_model", "model"):
        for a, b in zip(getattr(agent, name).parameters(), getattr(other, name).parameters()):
            assert torch.equal(a, b), name


def test_sac_pi_is_reparameterised_with_log_prob():
    agent = SacAgent(model_kwargs=dict(hidden_sizes=(8,)), q_model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces())
    a, logp = agent.pi(torch.randn(5, 3))
    assert a.shape == (5, 2) and logp.shape == (5,) and a.abs().max() < 1
    logp.sum().backward()
    assert all(p.grad is not None for p in agent.model.parameters())
