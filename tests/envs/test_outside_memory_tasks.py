"""The outside memory tasks (tests/envs/outside_memory_tasks.py) resolve as ``module:EnvId`` and need memory: the
observation a feed-forward policy acts on carries nothing about the cue, and remembering it reaches the threshold."""
import gymnasium as gym
from gymnasium.utils.env_checker import check_env
import numpy as np
import pytest

from rlframe.envs import GymEnv
from tests.envs.outside_memory_tasks import CueRecallEnv, NoisyTMazeEnv

MODULE = "tests.envs.outside_memory_tasks"


@pytest.mark.parametrize("env_id, action_space, threshold", [
    ("Outside/NoisyTMaze-v0", gym.spaces.Discrete(2), 0.9),
    ("Outside/CueRecall-v0", gym.spaces.Box(-1.0, 1.0, (1,), np.float32), -0.2)])
def test_resolves_as_module_env_id_with_spaces_and_threshold(env_id, action_space, threshold):
    env = GymEnv(f"{MODULE}:{env_id}")
    try:
        assert env.spaces.action == action_space and env.env.spec.reward_threshold == threshold
    finally:
        env.close()
    check_env(gym.make(env_id).unwrapped, skip_render_check=True)


def _noisy_tmaze_episode(env, seed, turn_policy):
    obs, _ = env.reset(seed=seed)
    cue, ret, steps, done = obs[0], 0.0, 0, False
    while not done:
        junction_obs = obs.copy()
        obs, r, done, truncated, _ = env.step(turn_policy(cue) if obs[1] == 1.0 else 0)
        ret, steps = ret + r, steps + 1
        assert not truncated
    return cue, junction_obs, ret, steps


def test_noisy_tmaze_junction_hides_the_cue_and_memory_scores_one():
    env = NoisyTMazeEnv()
    cues, lengths = set(), set()
    for seed in range(60):
        for fixed_turn in (0, 1):
            cue, junction_obs, ret, steps = _noisy_tmaze_episode(env, seed, lambda c: fixed_turn)
            np.testing.assert_array_equal(junction_obs, [0.0, 1.0])  # the same for both cues
            assert ret == (1.0 if (cue > 0) == (fixed_turn == 1) else -1.0)
        cues.add(float(cue))
        lengths.add(steps)
        assert _noisy_tmaze_episode(env, seed, lambda c: int(c > 0))[2] == 1.0
    assert cues == {-1.0, 1.0} and len(lengths) > 5  # both cues, corridor lengths vary
    # corridor observations are distractors in the cue's channel, independent of the cue
    env.reset(seed=3)
    signals = [env.step(0)[0][0] for _ in range(4)]
    assert len(set(signals)) == 4 and all(-1.0 <= s <= 1.0 for s in signals)


def test_cue_recall_feed_forward_best_is_minus_half_memory_reaches_zero():
    env = CueRecallEnv()

    def episode(seed, answer):
        obs, _ = env.reset(seed=seed)
        cue, ret, done = obs[0], 0.0, False
        while not done:
            obs, r, done, _, _ = env.step(np.array([answer(cue, obs)], np.float32))
            ret += r
        return ret

    n = 400
    constant = np.mean([episode(s, lambda c, o: 0.0) for s in range(n)])
    current = np.mean([episode(s, lambda c, o: o[0]) for s in range(n)])  # answers the visible distractor
    assert -0.56 < constant < -0.44 and current < -0.6
    assert np.mean([episode(s, lambda c, o: c) for s in range(20)]) == pytest.approx(0.0, abs=1e-6)
