"""EnvPoolEnv (rlframe.envs.vector): the spare-env scheme and the direct C++ calls keep every record true.

Each column of the batch must follow CartPole's own dynamics step by step: ``observation[t + 1]`` (or, when the
episode ended at ``t``, ``final_observation[t]``) is what gymnasium's CartPole computes from ``observation[t]``
and ``action[t]``, and an ended column restarts from a fresh reset observation, whichever EnvPool env is behind
it (spares swapped in, or a second reset call when more envs end than spares are ready)."""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.samplers import SerialSampler

from tests.helpers import RandomAgent

envpool = pytest.importorskip("envpool")
from rlframe.envs.vector import EnvPoolEnv  # noqa: E402

T, B = 24, 6


def _samples(batches=3, seed=5, **env_kwargs):
    sampler = SerialSampler(EnvPoolEnv, dict(id="CartPole-v1", **env_kwargs), batch_T=T, batch_B=B,
                            max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(seed=1), seed=seed, final_observation=True)
    out = []
    try:
        for itr in range(batches):
            samples, trajs = sampler.obtain_samples(itr)
            out.append(({k: np.array(v) for k, v in samples.env._asdict().items()
                         if v is not None and k != "env_info"} | {"action": np.array(samples.agent.action)},
                        [tr.to_dict() for tr in trajs]))
    finally:
        sampler.shutdown()
    return out


def _successor(obs: np.ndarray, action: int) -> np.ndarray:
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = obs.astype(np.float64)
    return env.step(int(action))[0]


def _check_dynamics(batches):
    n_done = 0
    for s, _ in batches:
        for t in range(T - 1):
            for b in range(B):
                nxt = s["final_observation"][t, b] if s["done"][t, b] else s["observation"][t + 1, b]
                np.testing.assert_allclose(nxt, _successor(s["observation"][t, b], s["action"][t, b]), atol=1e-4)
                if s["done"][t, b]:
                    n_done += 1
                    assert np.abs(s["observation"][t + 1, b]).max() <= 0.05  # a fresh reset
                    assert s["prev_reward"][t + 1, b] == 0
    return n_done


@pytest.mark.parametrize("spares", [0, 2, None])
def test_columns_follow_cartpole_dynamics(spares):
    # max_episode_steps=7: columns truncate together, so with few spares (the default: B // 4 = 1 here) most
    # of them are reset by the second call; both paths run.
    batches = _samples(spares=spares, max_episode_steps=7)
    assert _check_dynamics(batches) >= B
    assert any(s["truncated"].any() for s, _ in batches)


def test_direct_calls_give_the_public_step_values():
    direct, public = _samples(direct_calls=True), _samples(direct_calls=False)
    for (d, d_trajs), (p, p_trajs) in zip(direct, public):
        for k in d:
            np.testing.assert_array_equal(d[k], p[k], err_msg=k)
        assert d_trajs == p_trajs
    assert _check_dynamics(direct) > 0  # terminations (random actions), not only truncations
    assert EnvPoolEnv("CartPole-v1", num_envs=2)._core is not None  # the direct path ran


def test_negative_spares_are_refused():
    from rlframe.errors import ConfigError
    with pytest.raises(ConfigError, match="spares"):
        EnvPoolEnv("CartPole-v1", num_envs=2, spares=-1)


def test_step_into_and_the_split_step_give_what_step_gives():
    # Three pools with one seed: step(), step_into() and send()/recv_into() into preallocated rows see the same
    # observations, rewards, flags and final observations (of the envs that ended), through spare swaps.
    envs = [EnvPoolEnv("CartPole-v1", num_envs=B, seed=4, max_episode_steps=9) for _ in range(3)]
    obs = [env.reset() for env in envs]
    np.testing.assert_array_equal(obs[0], obs[1])
    rows = [(np.empty_like(obs[0]), np.empty(B, np.float32), *(np.empty(B, bool) for _ in range(3))) for _ in range(2)]
    rng, n_ended = np.random.default_rng(0), 0
    for _ in range(40):
        a = rng.integers(0, 2, B)
        o, r, te, tr, final = envs[0].step(a)
        got = [envs[1].step_into(a, *rows[0])]
        envs[2].send(a)
        got.append(envs[2].recv_into(*rows[1]))
        for (o2, r2, te2, tr2, done2), ended_final in zip(rows, got):
            for x, y in ((o, o2), (r, r2), (te, te2), (tr, tr2), (te | tr, done2)):
                np.testing.assert_array_equal(x, y)
            ended = np.flatnonzero(te | tr).tolist()
            assert (ended_final is None) == (not ended)
            if ended:
                assert ended_final[0] == ended
                np.testing.assert_array_equal(ended_final[1][ended], final[ended])
        n_ended += len(np.flatnonzero(te | tr))
    assert n_ended > B  # spares swapped in many times
    assert envs[0].reward_dtype == np.float32  # EnvPool's spec: the collector keeps rewards in the float32 row
