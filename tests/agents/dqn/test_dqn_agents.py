import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.dqn import CatDqnAgent, DqnAgent, linear_schedule
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError


def _spaces(obs_dim=4, n=3):
    return EnvSpaces(observation=gym.spaces.Box(-1, 1, (obs_dim,), np.float32), action=gym.spaces.Discrete(n))


def _step(agent, obs, B=None):
    B = B or obs.shape[0]
    return agent.step(obs, torch.zeros(B, dtype=torch.long), torch.zeros(B))


def test_linear_schedule():
    assert linear_schedule(0, 1.0, 0.1, 100, 50) == 1.0
    assert linear_schedule(100, 1.0, 0.1, 100, 50) == 1.0
    assert linear_schedule(125, 1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(10_000, 1.0, 0.1, 100, 50) == pytest.approx(0.1)
    assert linear_schedule(5, 1.0, 0.1, 0, 0) == 0.1


def test_epsilon_schedule_follows_env_steps_and_eval_epsilon():
    agent = DqnAgent(eps_init=1.0, eps_final=0.1, eps_steps=1000, eps_start=200, eps_eval=0.01)
    agent.initialize(_spaces())
    agent.set_env_steps_per_itr(100)  # e.g. batch_T=50, batch_B=2
    for itr, eps in [(0, 1.0), (2, 1.0), (7, 1.0 - 0.9 * 0.5), (12, 0.1), (50, 0.1)]:
        agent.sample_mode(itr)
        assert agent.sample_epsilon == pytest.approx(eps)
        assert float(agent.distribution.epsilon) == pytest.approx(eps)
    agent.eval_mode(3)
    assert agent.distribution.epsilon == 0.01
    agent.sample_mode(7)
    assert float(agent.distribution.epsilon) == pytest.approx(0.55)


def test_actions_greedy_at_zero_epsilon_and_random_at_one():
    torch.manual_seed(0)
    agent = DqnAgent(eps_init=1.0, eps_final=0.0, eps_steps=10, eps_eval=0.0)
    agent.initialize(_spaces(n=5))
    agent.set_env_steps_per_itr(10)
    obs = torch.randn(2000, 4)
    agent.eval_mode(0)
    step = _step(agent, obs)
    assert torch.equal(step.action, step.agent_info.q.argmax(-1))
    agent.sample_mode(0)  # epsilon 1: uniform actions, about 1/5 of them greedy
    step = _step(agent, obs)
    assert 0.1 < (step.action == step.agent_info.q.argmax(-1)).float().mean() < 0.3
    assert set(step.action.tolist()) == set(range(5))
    agent.sample_mode(1)
    step = _step(agent, obs)
    assert torch.equal(step.action, step.agent_info.q.argmax(-1))


def test_action_mask_is_respected_greedy_and_random():
    Obs = namedarraytuple("Obs", ["x", "action_mask"])
    spaces = EnvSpaces(observation=gym.spaces.Dict({"x": gym.spaces.Box(-1, 1, (3,), np.float32),
                                                    "action_mask": gym.spaces.MultiBinary(4)}),
                       action=gym.spaces.Discrete(4))
    agent = DqnAgent(eps_init=1.0)
    agent.initialize(spaces)
    mask = torch.zeros(500, 4)
    mask[:, 1] = mask[:, 3] = 1
    obs = Obs(x=torch.randn(500, 3), action_mask=mask)
    for mode in (agent.sample_mode, agent.eval_mode):
        mode(0)
        assert set(_step(agent, obs, B=500).action.tolist()) == {1, 3}


def test_target_network_hard_and_soft_updates():
    torch.manual_seed(0)
    agent = DqnAgent(model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces())
    x = torch.randn(5, 4)
    assert torch.equal(agent(x, None, None), agent.target(x, None, None))
    assert all(not p.requires_grad for p in agent.target_model.parameters())
    before = [p.clone() for p in agent.target_model.parameters()]
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(1.0)
    assert torch.equal(agent.target(x, None, None), agent.target(x, None, None))
    agent.update_target(tau=0.25)
    for t, b, o in zip(agent.target_model.parameters(), before, agent.model.parameters()):
        assert torch.allclose(t, 0.25 * o + 0.75 * b, atol=1e-6)
    agent.update_target()  # tau=1: exact copy
    for t, o in zip(agent.target_model.parameters(), agent.model.parameters()):
        assert torch.equal(t, o)
    # the target's weights round-trip through its state dict
    sd = {k: v.clone() for k, v in agent.target_state_dict().items()}
    agent.update_target(0.5)
    agent.load_target_state_dict(sd)
    assert all(torch.equal(agent.target_state_dict()[k], v) for k, v in sd.items())


def test_initial_weights_reach_the_target_and_state_dict_is_the_online_model():
    src = DqnAgent()
    src.initialize(_spaces())
    agent = DqnAgent(initial_model_state_dict=src.state_dict())
    agent.initialize(_spaces())
    x = torch.randn(3, 4)
    assert torch.equal(agent.target(x, None, None), src(x, None, None).detach())
    assert set(agent.state_dict()) == set(src.model.state_dict())


def test_cat_agent_acts_on_expected_values():
    torch.manual_seed(0)
    agent = CatDqnAgent(n_atoms=11, v_min=-5, v_max=5, eps_eval=0.0, model_kwargs=dict(hidden_sizes=(8,)))
    agent.initialize(_spaces(n=3))
    agent.eval_mode(0)
    obs = torch.randn(50, 4)
    log_p = agent(obs, None, None)
    assert log_p.shape == (50, 3, 11)
    q = (log_p.exp() * torch.linspace(-5, 5, 11)).sum(-1)
    step = _step(agent, obs)
    assert torch.allclose(step.agent_info.q, q, atol=1e-5)
    assert torch.equal(step.action, q.argmax(-1))


def test_agents_refuse_box_actions_and_bad_epsilons():
    agent = DqnAgent()
    with pytest.raises(ConfigError, match="Discrete"):
        agent.initialize(EnvSpaces(observation=gym.spaces.Box(-1, 1, (3,)), action=gym.spaces.Box(-1, 1, (2,))))
    with pytest.raises(ConfigError, match="eps_final"):
        DqnAgent(eps_final=1.5)
    with pytest.raises(ConfigError, match="v_min"):
        CatDqnAgent(v_min=1, v_max=1)


def test_cpu_sampler_workers_follow_the_masters_epsilon():
    """Worker copies of the agent read the sampling epsilon the master writes (shared memory)."""
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.parallel import CpuSampler

    agent = DqnAgent(eps_init=1.0, eps_final=0.0, eps_steps=1)
    sampler = CpuSampler(GymEnv, dict(id="CartPole-v1"), batch_T=100, batch_B=4, max_decorrelation_steps=0,
                         n_workers=2, start_method="fork")
    try:
        sampler.initialize(agent, seed=0)
        agent.set_env_steps_per_itr(sampler.batch_spec.size)
        greedy_frac = []
        for itr in range(2):
            agent.sample_mode(itr)
            samples, _ = sampler.obtain_samples(itr)
            greedy = samples.agent.action == samples.agent.agent_info.q.argmax(-1)
            greedy_frac.append(float(np.mean(greedy)))
    finally:
        sampler.shutdown()
    assert greedy_frac[0] < 0.7  # epsilon 1: half the actions of 2 are greedy by chance
    assert greedy_frac[1] == 1.0  # epsilon 0 in every worker
