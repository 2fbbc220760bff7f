"""The memory tasks of rlframe.envs.pomdp (T-maze, repeat-the-first-observation): spaces, registration with a
reward_threshold, episode structure, and the memory property: no feed-forward policy beats chance, a policy that
remembers reaches the threshold."""
import gymnasium as gym
from gymnasium.utils.env_checker import check_env
import numpy as np
import pytest

import rlframe  # noqa: F401  (registers the ids)
from rlframe.envs.pomdp import RepeatFirstEnv, TMazeEnv
from rlframe.errors import ConfigError


@pytest.mark.parametrize("env_id, obs_shape, n_actions", [("rlframe/TMaze-v0", (2,), 2),
                                                          ("rlframe/RepeatFirst-v0", (5,), 4)])
def test_registered_with_spaces_and_a_reward_threshold(env_id, obs_shape, n_actions):
    assert gym.spec(env_id).reward_threshold == 0.9
    env = gym.make(env_id)
    assert env.observation_space.shape == obs_shape and env.action_space == gym.spaces.Discrete(n_actions)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    check_env(env.unwrapped, skip_render_check=True)


def _tmaze_episode(env, seed, junction_action):
    """(cue, junction observation, return) of one episode that turns ``junction_action`` at the junction."""
    obs, _ = env.reset(seed=seed)
    cue, ret, steps = obs[0], 0.0, 0
    while True:
        at_junction = obs[1] == 1.0
        junction_obs = obs.copy() if at_junction else None
        obs, r, terminated, truncated, _ = env.step(junction_action if at_junction else 0)
        ret, steps = ret + r, steps + 1
        assert not truncated
        if terminated:
            assert steps == env.length + 1 and junction_obs is not None
            return cue, junction_obs, ret


def test_tmaze_no_feed_forward_policy_beats_chance():
    env = TMazeEnv(length=5)
    seen = {}
    for seed in range(40):
        for a in (0, 1):
            cue, junction_obs, ret = _tmaze_episode(env, seed, a)
            seen.setdefault(a, {})[cue] = ret
            np.testing.assert_array_equal(junction_obs, [0.0, 1.0])  # the junction looks the same for both cues
    for a in (0, 1):
        assert set(seen[a]) == {-1.0, 1.0}  # both cues drawn
        assert sum(seen[a].values()) == 0.0  # a turn is right for one cue, wrong for the other: expected return 0
    # the corridor's observations carry no cue after the first step either
    obs, _ = env.reset(seed=1)
    for _ in range(env.length):
        obs, *_ = env.step(1)
        assert obs[0] == 0.0


def test_tmaze_remembering_the_cue_gets_one():
    env = TMazeEnv()
    for seed in range(10):
        cue = env.reset(seed=seed)[0][0]
        _, _, ret = _tmaze_episode(env, seed, 1 if cue > 0 else 0)
        assert ret == 1.0


def _repeat_first_return(env, seed, policy):
    obs, _ = env.reset(seed=seed)
    first, ret, steps, done = int(np.argmax(obs[:-1])), 0.0, 0, False
    while not done:
        obs, r, done, truncated, _ = env.step(policy(obs, first))
        ret, steps = ret + r, steps + 1
        assert not truncated
    assert steps == env.length + 1
    return ret


def test_repeat_first_feed_forward_policies_score_chance_and_memory_scores_one():
    env = RepeatFirstEnv(n_symbols=4, length=10)
    n = 600
    current = np.mean([_repeat_first_return(env, s, lambda o, f: int(np.argmax(o[:-1]))) for s in range(n)])
    constant = np.mean([_repeat_first_return(env, s, lambda o, f: 2) for s in range(n)])
    for score in (current, constant):  # expected 1/4 each; std of the mean over 600 episodes < 0.02
        assert abs(score - 0.25) < 0.06
    assert all(_repeat_first_return(env, s, lambda o, f: f) == pytest.approx(1.0) for s in range(20))


def test_repeat_first_later_observations_are_independent_of_the_first_symbol():
    """The best feed-forward answer to an observation after step 0 is a guess: given what is seen then, every first
    symbol is equally likely."""
    env = RepeatFirstEnv(n_symbols=3, length=4)
    counts = np.zeros((3, 3))  # [symbol seen at t >= 1, first symbol]
    for seed in range(1500):
        obs, _ = env.reset(seed=seed)
        first = int(np.argmax(obs[:-1]))
        for _ in range(env.length):
            obs, *_ = env.step(0)
            assert obs[-1] == 0.0  # only step 0 is flagged first
            counts[int(np.argmax(obs[:-1])), first] += 1
    conditional = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(conditional, 1 / 3, atol=0.04)


def test_bad_sizes_say_what_to_change():
    with pytest.raises(ConfigError, match="length"):
        TMazeEnv(length=0)
    with pytest.raises(ConfigError, match="n_symbols"):
        RepeatFirstEnv(n_symbols=1)
