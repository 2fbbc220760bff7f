"""DDPG / TD3 / SAC: losses against hand computations (twin-critic min), TD3's delayed actor and target
updates, SAC's temperature tuning direction, soft target updates, checkpoint state, and short learning runs."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.base import AgentInputs
from rlframe.agents.qpg import DdpgAgent, SacAgent, Td3Agent
from rlframe.algos.qpg import DDPG, SAC, TD3
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError
from rlframe.replays import ReplayBatch
from rlframe.samplers.base import BatchSpec

OBS, ACT, N = 3, 2, 32
LOW, HIGH = np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)


def _examples():
    return dict(observation=np.zeros(OBS, np.float32), action=np.zeros(ACT, np.float32),
                prev_action=np.zeros(ACT, np.float32), reward=np.float32(0), terminated=np.bool_(False),
                truncated=np.bool_(False), done=np.bool_(False), agent_info=None)


def _setup(AlgoCls, AgentCls, **algo_kwargs):
    torch.manual_seed(0)
    agent = AgentCls(model_kwargs=dict(hidden_sizes=(16,)), q_model_kwargs=dict(hidden_sizes=(16,)))
    agent.initialize(EnvSpaces(gym.spaces.Box(-1, 1, (OBS,), np.float32), gym.spaces.Box(LOW, HIGH)))
    algo = AlgoCls(**dict(dict(replay_size=100, batch_size=N, min_steps_learn=8, learning_rate=1e-3), **algo_kwargs))
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(4, 2), examples=_examples())
    return agent, algo


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    inputs = lambda: AgentInputs(torch.randn(N, OBS, generator=g), torch.zeros(N, ACT), torch.zeros(N))  # noqa: E731
    discount = torch.full((N,), 0.99)
    discount[:5] = 0.0  # terminated
    action = torch.from_numpy(LOW) + torch.rand(N, ACT, generator=g) * torch.from_numpy(HIGH - LOW)
    return ReplayBatch(agent_inputs=inputs(), action=action, return_=torch.randn(N, generator=g),
                       bootstrap_discount=discount, target_inputs=inputs(), is_weights=torch.rand(N, generator=g) + 0.5,
                       idxs=torch.arange(N))


def _separate_target_critics(agent):
    """Make the two target critics disagree by a lot (critic 1 far above critic 0)."""
    with torch.no_grad():
        agent.target_q_model.critics.biases[-1][1].add_(10.0)


def test_td3_critic_loss_uses_the_min_of_the_target_critics_and_normalised_actions():
    agent, algo = _setup(TD3, Td3Agent, target_noise=0.0)
    _separate_target_critics(agent)
    b = _batch()
    with torch.no_grad():
        a = (b.action - torch.tensor([0.0, 0.5])) / torch.tensor([2.0, 0.5])  # env -> [-1, 1]
        q = agent.q_model(b.agent_inputs.observation, a)
        q_next = agent.target_q_model(b.target_inputs.observation, agent.target_model(b.target_inputs.observation))
        assert torch.all(q_next[1] > q_next[0])
        y = b.return_ + b.bootstrap_discount * q_next[0]
        expected = sum(((q[i] - y) ** 2 * b.is_weights).mean() for i in range(2))
    info, td_abs = algo.train_step(b)
    assert torch.allclose(info["q_loss"], expected, rtol=1e-5)
    assert torch.allclose(td_abs, (q - y).abs().mean(0), rtol=1e-5)


def test_sac_critic_target_has_min_and_entropy_terms():
    agent, algo = _setup(SAC, SacAgent)
    _separate_target_critics(agent)
    b = _batch()
    torch.manual_seed(5)
    with torch.no_grad():
        a_next, logp_next = agent.pi(b.target_inputs.observation)
        q_next = agent.target_q_model(b.target_inputs.observation, a_next)
        y = b.return_ + b.bootstrap_discount * (q_next.min(0).values - 1.0 * logp_next)  # initial alpha 1
        a = agent.action_scaler.from_env(b.action)
        q = agent.q_model(b.agent_inputs.observation, a)
        expected = 0.5 * sum(((q[i] - y) ** 2 * b.is_weights).mean() for i in range(2))
    torch.manual_seed(5)
    info, _ = algo.train_step(b)
    assert torch.allclose(info["q_loss"], expected, rtol=1e-5)


def test_td3_updates_the_actor_and_targets_every_policy_delay_steps():
    agent, algo = _setup(TD3, Td3Agent, policy_delay=2, target_update_tau=0.5)
    snap = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
    changed = lambda a, b: any(not torch.equal(x, y) for x, y in zip(a, b))  # noqa: E731
    actor_changes, target_changes = [], []
    for i in range(4):
        pi0, tq0, tpi0 = snap(agent.model), snap(agent.target_q_model), snap(agent.target_model)
        algo.train_step(_batch(i))
        algo.update_targets(algo.target_update_tau)  # what ReplayAlgorithm calls after each update
        actor_changes.append(changed(pi0, snap(agent.model)))
        target_changes.append(changed(tq0, snap(agent.target_q_model)) and changed(tpi0, snap(agent.target_model)))
    assert actor_changes == [True, False, True, False]
    assert target_changes == [True, False, True, False]


def test_ddpg_updates_the_actor_every_step_with_one_critic():
    agent, algo = _setup(DDPG, DdpgAgent)
    assert agent.q_model.n_critics == 1
    before = [p.detach().clone() for p in agent.model.parameters()]
    info, _ = algo.train_step(_batch())
    assert "pi_loss" in info
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.model.parameters()))


def test_actor_loss_does_not_move_the_critic():
    """One backward pass for both losses: the critic's step must equal a critic-only step."""
    agent, algo = _setup(DDPG, DdpgAgent, learning_rate=1e-2)
    q_state = {k: v.clone() for k, v in agent.q_model.state_dict().items()}
    b = _batch()
    algo.train_step(b)
    with_actor = [p.detach().clone() for p in agent.q_model.parameters()]
    agent2, algo2 = _setup(DDPG, DdpgAgent, learning_rate=1e-2, policy_delay=10**6)
    agent2.q_model.load_state_dict(q_state)
    algo2._critic_updates = 1  # not an actor step
    algo2.train_step(b)
    for x, y in zip(with_actor, agent2.q_model.parameters()):
        assert torch.allclose(x, y, atol=1e-7)


@pytest.mark.parametrize("target_entropy, direction", [(5.0, +1), (-20.0, -1)])
def test_sac_alpha_moves_towards_the_target_entropy(target_entropy, direction):
    agent, algo = _setup(SAC, SacAgent, target_entropy=target_entropy, learning_rate=1e-2)
    alphas = []
    for i in range(20):
        info, _ = algo.train_step(_batch(i))
        alphas.append(float(info["alpha"]))
    assert alphas[0] == pytest.approx(1.0)
    assert direction * (alphas[-1] - alphas[0]) > 0.05


def test_sac_fixed_alpha_is_not_tuned():
    agent, algo = _setup(SAC, SacAgent, fixed_alpha=0.2)
    for i in range(3):
        info, _ = algo.train_step(_batch(i))
    assert float(info["alpha"]) == pytest.approx(0.2) and float(info["alpha_loss"]) == 0.0


def test_soft_target_update_moves_by_tau():
    agent, algo = _setup(SAC, SacAgent, target_update_tau=0.1)
    algo.train_step(_batch())
    before = [p.detach().clone() for p in agent.target_q_model.parameters()]
    algo.update_targets(0.1)
    for t0, t, s in zip(before, agent.target_q_model.parameters(), agent.q_model.parameters()):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * s, atol=1e-6)


def test_state_round_trip_keeps_temperature_and_counters():
    agent, algo = _setup(SAC, SacAgent, learning_rate=1e-2)
    for i in range(3):
        algo.train_step(_batch(i))
    state, optim = algo.state_dict(), algo.optim_state_dict()
    agent2, algo2 = _setup(SAC, SacAgent, learning_rate=1e-2)
    algo2.load_state_dict(state)
    algo2.load_optim_state_dict(optim)
    assert torch.equal(algo2.log_alpha, algo.log_alpha)
    td3_agent, td3 = _setup(TD3, Td3Agent)
    td3.train_step(_batch())
    td3b_agent, td3b = _setup(TD3, Td3Agent)
    td3b.load_state_dict(td3.state_dict())
    td3b.load_optim_state_dict(td3.optim_state_dict())
    assert td3b._critic_updates == 1
    with torch.no_grad():  # the targets travel in the algorithm's state (as DQN's)
        for p in td3_agent.target_q_model.parameters():
            p.add_(1.0)
    td3b.load_state_dict(td3.state_dict())
    for name in ("target_q_model", "target_model"):
        for a, b in zip(getattr(td3_agent, name).parameters(), getattr(td3b_agent, name).parameters()):
            assert torch.equal(a, b), name


def test_td3_refuses_a_single_critic_agent():
    with pytest.raises(ConfigError, match="twin critics"):
        _setup(TD3, DdpgAgent)
    with pytest.raises(ConfigError, match="SacAgent"):
        _setup(SAC, Td3Agent)


@pytest.mark.parametrize("AlgoCls, AgentCls", [(SAC, SacAgent), (TD3, Td3Agent),
                                             pytest.param(DDPG, DdpgAgent, marks=pytest.mark.slow)])
def test_short_run_learns_to_reach(AlgoCls, AgentCls, tmp_path):
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners import MinibatchRlEval
    from rlframe.samplers.serial import SerialSampler

    sampler = SerialSampler(GymEnv, dict(id="RlframeTest/Reach-v0"), batch_T=8, batch_B=2, max_decorrelation_steps=0,
                            eval_n_envs=4, eval_max_trajectories=20, eval_max_steps=200)
    agent = AgentCls(model_kwargs=dict(hidden_sizes=(32, 32)), q_model_kwargs=dict(hidden_sizes=(32, 32)))
    algo = AlgoCls(discount=0.5, batch_size=64, replay_size=5000, min_steps_learn=100, replay_ratio=1.0,
                   learning_rate=3e-3, target_update_tau=0.02)
    runner = MinibatchRlEval(algo, agent, sampler, n_steps=800, seed=0, log_interval_steps=800)
    with logger_context(str(tmp_path), name="reach", use_tensorboard=False, console=False):
        result = runner.train()
    assert result["time/updates"] >= 600
    assert result["eval/return_mean"] > -1.0, result["eval/return_mean"]  # random: about -6.7, best: 0
