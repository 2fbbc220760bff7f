"""DQN and CatDQN: losses against hand computations, target handling, state, and a short learning run."""
import csv
import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.base import AgentInputs
from rlframe.agents.dqn import CatDqnAgent, DqnAgent
from rlframe.algos.dqn import DQN, CatDQN
from rlframe.algos.dqn.targets import categorical_projection, huber
from rlframe.envs.base import EnvSpaces
from rlframe.replays import ReplayBatch
from rlframe.samplers.base import BatchSpec

OBS_DIM, N_ACTIONS, N = 3, 4, 16


def _examples():
    return dict(observation=np.zeros(OBS_DIM, np.float32), action=np.int64(0), prev_action=np.int64(0),
                reward=np.float32(0), terminated=np.bool_(False), truncated=np.bool_(False), done=np.bool_(False),
                agent_info=None)


def _setup(AlgoCls=DQN, AgentCls=DqnAgent, agent_kwargs=None, **algo_kwargs):
    torch.manual_seed(0)
    agent = AgentCls(model_kwargs=dict(hidden_sizes=(16,)), **(agent_kwargs or {}))
    agent.initialize(EnvSpaces(gym.spaces.Box(-1, 1, (OBS_DIM,), np.float32), gym.spaces.Discrete(N_ACTIONS)))
    algo = AlgoCls(**dict(dict(replay_size=100, batch_size=N, min_steps_learn=8, learning_rate=1e-3), **algo_kwargs))
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(4, 2), examples=_examples())
    return agent, algo


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    inputs = lambda: AgentInputs(torch.randn(N, OBS_DIM, generator=g), torch.zeros(N, dtype=torch.long),  # noqa: E731
                                 torch.zeros(N))
    discount = torch.full((N,), 0.99 ** 2)
    discount[:4] = 0.0  # terminated within the n steps
    return ReplayBatch(agent_inputs=inputs(), action=torch.randint(N_ACTIONS, (N,), generator=g),
                       return_=torch.randn(N, generator=g), bootstrap_discount=discount, target_inputs=inputs(),
                       is_weights=torch.rand(N, generator=g) + 0.5, idxs=torch.arange(N))


def _perturb_online(agent):
    """Make the online network differ from the target (as after some updates)."""
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(0.3 * torch.randn_like(p))


@pytest.mark.parametrize("double_dqn", [False, True])
def test_dqn_loss_matches_hand_computation(double_dqn):
    agent, algo = _setup(double_dqn=double_dqn, delta_clip=1.0)
    _perturb_online(agent)
    b = _batch()
    with torch.no_grad():
        q = agent.model(b.agent_inputs.observation)
        q_next_target = agent.target_model(b.target_inputs.observation)
        q_next_online = agent.model(b.target_inputs.observation)
    a_star = (q_next_online if double_dqn else q_next_target).argmax(-1)
    y = b.return_ + b.bootstrap_discount * q_next_target[torch.arange(N), a_star]
    delta = q[torch.arange(N), b.action] - y
    expected = (b.is_weights * huber(delta, 1.0)).mean()
    loss, td_abs, q_mean = algo.loss(b)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(td_abs, delta.abs(), atol=1e-6)
    assert torch.isclose(q_mean, q[torch.arange(N), b.action].mean())
    # the two variants give different targets here (online and target networks disagree on a*)
    assert not torch.equal((q_next_online.argmax(-1)), q_next_target.argmax(-1))


def _projected_target(agent, b):
    """C51's target distribution of batch ``b``, by hand (non-double: a* from the target's expected values)."""
    z = torch.linspace(agent.v_min, agent.v_max, agent.n_atoms)
    with torch.no_grad():
        p_next = agent.target_model(b.target_inputs.observation).exp()
    a_star = (p_next @ z).argmax(-1)
    return categorical_projection(p_next[torch.arange(N), a_star], b.return_, b.bootstrap_discount, z)


def test_cat_dqn_loss_matches_hand_computation():
    agent, algo = _setup(CatDQN, CatDqnAgent, agent_kwargs=dict(n_atoms=11, v_min=-3.0, v_max=3.0))
    _perturb_online(agent)
    b = _batch()
    z = torch.linspace(-3, 3, 11)
    with torch.no_grad():
        log_p = agent.model(b.agent_inputs.observation)  # [N, A, K]
    projected = _projected_target(agent, b)
    ce = -(projected * log_p[torch.arange(N), b.action]).sum(-1)
    loss, td_abs, q_mean = algo.loss(b)
    assert torch.allclose(loss, (b.is_weights * ce).mean(), atol=1e-6)
    assert torch.allclose(td_abs, ce, atol=1e-6)
    assert torch.isclose(q_mean, (log_p[torch.arange(N), b.action].exp() @ z).mean(), atol=1e-6)


@pytest.mark.parametrize("AlgoCls,AgentCls", [(DQN, DqnAgent), (CatDQN, CatDqnAgent)])
def test_train_steps_fit_a_fixed_batch_and_leave_the_target_alone(AlgoCls, AgentCls):
    agent, algo = _setup(AlgoCls, AgentCls, learning_rate=3e-3)
    b = _batch()
    target_before = [p.clone() for p in agent.target_model.parameters()]
    floor = 0.0  # DQN's Huber loss can reach 0; C51's cross-entropy the target's entropy
    if AlgoCls is CatDQN:
        proj = _projected_target(agent, b)
        floor = (b.is_weights * -(proj * proj.clamp_min(1e-12).log()).sum(-1)).mean().item()
    first = algo.loss(b)[0].item() - floor
    for _ in range(100):
        info, td_abs = algo.train_step(b)
    assert algo.loss(b)[0].item() - floor < 0.5 * first
    assert set(info) == set(AlgoCls.opt_info_fields) and td_abs.shape == (N,)
    assert all(torch.equal(a, p) for a, p in zip(target_before, agent.target_model.parameters()))


def test_target_network_state_round_trips_through_the_algorithm():
    agent, algo = _setup()
    _perturb_online(agent)
    algo.update_targets(0.5)
    state = algo.state_dict()
    agent2, algo2 = _setup()
    algo2.load_state_dict(state)
    x = torch.randn(5, OBS_DIM)
    assert torch.equal(agent2.target(x, None, None), agent.target(x, None, None))


def test_batch_size_sets_the_agents_epsilon_clock():
    agent, algo = _setup(agent_kwargs=dict(eps_init=1.0, eps_final=0.0, eps_steps=80))
    assert agent.env_steps_per_itr == 8  # BatchSpec(4, 2)
    agent.sample_mode(5)
    assert agent.sample_epsilon == pytest.approx(0.5)
    assert algo.log_values()["train/epsilon"] == pytest.approx(0.5)


class MatchEnv(gym.Env):
    """Observation: a one-hot cue ``k`` of 4; reward 1 when the action is ``(k + 1) % 4``; 5 steps per episode.
    Random play returns 1.25 per episode, the best policy 5."""

    observation_space = gym.spaces.Box(0, 1, (4,), np.float32)
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        self.k = int(self.np_random.integers(4))
        return np.eye(4, dtype=np.float32)[self.k]

    def step(self, action):
        reward = float(int(action) == (self.k + 1) % 4)
        self.t += 1
        return self._obs(), reward, self.t >= 5, False, {}


gym.register("RlframeTest/Match-v0", entry_point=MatchEnv)


@pytest.mark.parametrize("AlgoCls,AgentCls,extra", [(DQN, DqnAgent, {}),
                                                    (CatDQN, CatDqnAgent, dict(v_min=0.0, v_max=5.0, n_atoms=11))])
def test_short_run_learns_a_trivial_env(AlgoCls, AgentCls, extra, tmp_path):
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners import MinibatchRlEval
    from rlframe.samplers.serial import SerialSampler

    sampler = SerialSampler(GymEnv, dict(id="RlframeTest/Match-v0"), batch_T=16, batch_B=2, max_decorrelation_steps=0,
                            eval_n_envs=4, eval_max_trajectories=20, eval_max_steps=200)
    agent = AgentCls(model_kwargs=dict(hidden_sizes=(32,)), eps_steps=600, eps_final=0.05, **extra)
    algo = AlgoCls(discount=0.9, batch_size=32, replay_size=2000, min_steps_learn=200, replay_ratio=0.5,
                   target_update_interval=64, learning_rate=3e-3, double_dqn=True, n_step_return=2,
                   prioritized_replay=True)
    runner = MinibatchRlEval(algo, agent, sampler, n_steps=1600, seed=0, log_interval_steps=1600)
    with logger_context(str(tmp_path), name="dqn") as logger:
        result = runner.train()
    with open(os.path.join(logger.run_dir, "progress.csv")) as f:
        first_eval = float(next(csv.DictReader(f))["eval/return_mean"])
    assert first_eval < 3 and result["eval/return_mean"] >= 4.8  # the best policy: 5; random play: 1.25
    assert result["time/updates"] == pytest.approx(0.5 * (1600 - 192), abs=2)
