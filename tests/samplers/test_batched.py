"""Batched env backends (rlframe.envs.vector) through SerialSampler write what B single GymEnvs write, field by
field: observations, actions, rewards, terminated/truncated/done, final observations, timeout values, the
bootstrap value, completed episodes and the agent's per-env resets."""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.envs.gym import GymEnv
from rlframe.envs.vector import EnvPoolEnv, GymVectorEnv
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.samplers import SerialSampler, TrajInfo, WaitResetCollector

from tests.helpers import RandomAgent

T, B, BATCHES = 16, 4, 4
ID = "CartPole-v1"


class StepCountingTrajInfo(TrajInfo):
    """Overrides ``step``: the batched collector then calls it env by env (the general path)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ObsSum = 0.0

    def step(self, observation, action, reward, terminated, truncated, agent_info, env_info):
        super().step(observation, action, reward, terminated, truncated, agent_info, env_info)
        self.ObsSum += float(np.sum(observation))


def _run(EnvCls, env_kwargs, seed=3, TrajInfoCls=TrajInfo, discount=0.9):
    sampler = SerialSampler(EnvCls, env_kwargs, batch_T=T, batch_B=B, max_decorrelation_steps=0,
                            TrajInfoCls=TrajInfoCls, TrajInfo_kwargs=dict(discount=discount))
    agent = RandomAgent(seed=1)
    sampler.initialize(agent, seed=seed, bootstrap_value=True, final_observation=True)
    out = []
    try:
        for itr in range(BATCHES):
            samples, trajs = sampler.obtain_samples(itr)
            copy = {k: np.array(v) for k, v in samples.env._asdict().items() if v is not None and k != "env_info"}
            copy.update({f"agent.{k}": np.array(v) for k, v in samples.agent._asdict().items() if v is not None
                         and k != "agent_info"})
            copy["agent_info.value"] = np.array(samples.agent.agent_info.value)
            out.append((copy, [tr.to_dict() for tr in trajs]))
    finally:
        sampler.shutdown()
    return out, agent.reset_one_calls


def _assert_same(single, batched):
    (s_batches, s_resets), (b_batches, b_resets) = single, batched
    n_episodes = 0
    for (s, s_trajs), (b, b_trajs) in zip(s_batches, b_batches):
        assert s.keys() == b.keys()
        for k in s:
            np.testing.assert_allclose(b[k], s[k], rtol=1e-6, atol=1e-6, err_msg=k)
        assert b_trajs == s_trajs
        n_episodes += len(s_trajs)
    assert sorted(b_resets) == sorted(s_resets)
    flags = np.concatenate([np.stack([s["terminated"], s["truncated"]]) for s, _ in s_batches], axis=1)
    assert n_episodes > 4 and flags[0].any() and flags[1].any()  # both kinds of episode end were compared


@pytest.mark.parametrize("TrajInfoCls, discount", [(TrajInfo, 0.9), (TrajInfo, 1.0), (StepCountingTrajInfo, 0.9)])
def test_gymnasium_vector_env_matches_single_envs(TrajInfoCls, discount):
    kwargs = dict(id=ID, max_episode_steps=12)  # truncations (at 12 steps) and terminations both occur
    _assert_same(_run(GymEnv, kwargs, TrajInfoCls=TrajInfoCls, discount=discount),
                 _run(GymVectorEnv, kwargs, TrajInfoCls=TrajInfoCls, discount=discount))


def test_envpool_matches_gymnasium_vector_env_semantics():
    pytest.importorskip("envpool")
    # EnvPool's CartPole has its own seeding (seed + env index), so its values differ from gymnasium's; what must
    # hold is the same record structure: a done step's final observation is the observation stepped from, the next
    # observation is a fresh reset (|x| <= 0.05), and prev_action/prev_reward restart at zero.
    batches, resets = _run(EnvPoolEnv, dict(id=ID))
    n_done = 0
    for s, _ in batches:
        done = s["done"]
        assert np.array_equal(done, s["terminated"] | s["truncated"])
        for t, b in zip(*np.nonzero(done[:-1])):
            n_done += 1
            assert np.abs(s["observation"][t + 1, b]).max() <= 0.05
            assert s["agent.prev_action"][t + 1, b] == 0 and s["prev_reward"][t + 1, b] == 0
            assert np.abs(s["final_observation"][t, b]).max() > 0
        assert not s["final_observation"][~done].any()
    assert n_done > 0 and set(resets) <= set(range(B))


def test_vector_env_in_next_step_mode_is_refused():
    import gymnasium as gym
    venv = gym.make_vec(ID, num_envs=B, vectorization_mode="sync")
    with pytest.raises(ConfigError, match="SAME_STEP"):
        GymVectorEnv(env=venv, num_envs=B)


def test_batched_backend_refuses_single_env_options():
    with pytest.raises(ConfigError, match="CollectorCls=None"):
        s = SerialSampler(GymVectorEnv, dict(id=ID), batch_T=T, batch_B=B, CollectorCls=WaitResetCollector)
        s.initialize(RandomAgent(), seed=0)


class _WrongRows(GymVectorEnv):
    def reset(self):
        return super().reset()[:-1]


def test_batched_probe_checks_one_row_per_env():
    s = SerialSampler(_WrongRows, dict(id=ID), batch_T=T, batch_B=B)
    with pytest.raises(ShapeMismatchError, match="num_envs"):
        s.initialize(RandomAgent(), seed=0)
    s.shutdown()


def test_batched_backend_evaluates_with_single_envs():
    sampler = SerialSampler(GymVectorEnv, dict(id=ID), batch_T=T, batch_B=B, eval_n_envs=2, eval_max_steps=400,
                            eval_max_trajectories=3)
    agent = RandomAgent(seed=1)
    try:
        sampler.initialize(agent, seed=0)
        sampler.obtain_samples(0)
        trajs = sampler.evaluate_agent(0)
        assert [type(e).__name__ for e in sampler.eval_envs] == ["GymEnv", "GymEnv"]
        assert len(trajs) == 3 and all(tr.Length > 0 for tr in trajs)
    finally:
        sampler.shutdown()


class _TenthRewardCartPole(gym.Wrapper):
    """CartPole with rewards of 0.1 per step: float64 rewards that a float32 reward row rounds."""

    def __init__(self, **kwargs):
        super().__init__(gym.make("CartPole-v1", **kwargs))

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, 0.1 * reward, terminated, truncated, info


gym.register("RlframeTest/TenthRewardCartPole-v0", entry_point=_TenthRewardCartPole)


@pytest.mark.parametrize("discount", [0.9, 1.0])
def test_episode_returns_are_summed_from_the_env_rewards_not_the_float32_row(discount):
    # The batched collector writes rewards into the float32 samples row; the episode statistics must still sum
    # what the env returned (float64 0.1 here), as the single-env path does: GymVectorEnv declares no reward dtype,
    # so the collector keeps the env's rewards in a float64 row.
    kwargs = dict(id="RlframeTest/TenthRewardCartPole-v0", max_episode_steps=12)
    single, batched = _run(GymEnv, kwargs, discount=discount), _run(GymVectorEnv, kwargs, discount=discount)
    _assert_same(single, batched)
    returns = [tr["Return"] for _, trajs in batched[0] for tr in trajs]
    assert any(float(np.float32(r)) != r for r in returns)  # values a float32 row would have changed


class _Stepping(GymVectorEnv):
    """Counts send/recv_into calls: the collector must use the split step (the env steps while it writes)."""

    calls = []

    def send(self, actions):
        self.calls.append("send")
        super().send(actions)

    def recv_into(self, *args):
        self.calls.append("recv")
        return super().recv_into(*args)


def test_collector_sends_then_receives_each_step_with_the_same_records():
    _Stepping.calls = []
    kwargs = dict(id=ID, max_episode_steps=12)
    _assert_same(_run(GymVectorEnv, kwargs), _run(_Stepping, kwargs))
    assert _Stepping.calls[:4] == ["send", "recv", "send", "recv"] and len(_Stepping.calls) >= 2 * T * BATCHES
