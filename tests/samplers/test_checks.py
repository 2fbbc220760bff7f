"""Pre-flight probe, spec validation and the debug step check against misbehaving envs (issue 12, defects 3, 8, 10).

Each env here is made for its test: non-numeric rewards and flags, dict observations for a Box space,
trailing-dimension and rank mismatches, and a masked env whose unmasked actions raise.
"""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.core.specs import spec_from_space, validate
from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.envs.gym import GymEnv
from rlframe.errors import ShapeMismatchError
from rlframe.samplers.checks import action_mask, probe_env
from rlframe.samplers.serial import SerialSampler
from tests.helpers import RandomAgent


class OddEnv:
    """Declares ``declared`` observations; from env step ``after`` on, emits ``emitted`` observations (or a dict
    when ``emitted == "dict"``), and step fields ``fields`` (e.g. ``{"reward": "abc"}``)."""

    def __init__(self, declared=(4,), emitted=None, after=0, fields=None):
        self.id = "OddEnv-v0"
        self.spaces = EnvSpaces(observation=gym.spaces.Box(-1, 1, declared, np.float32), action=gym.spaces.Discrete(2))
        self.declared, self.emitted, self.after, self.fields = declared, emitted, after, dict(fields or {})
        self.n = 0

    def _obs(self):
        if self.emitted is None or self.n < self.after:
            return np.zeros(self.declared, np.float32)
        if self.emitted == "dict":
            return {"x": np.zeros(self.declared, np.float32)}
        return np.zeros(self.emitted, np.float32)

    def seed(self, s):
        self.spaces.action.seed(s)

    def reset(self):
        return self._obs()

    def step(self, action):
        self.n += 1
        out = dict(reward=1.0, terminated=False, truncated=False)
        if self.n >= self.after:
            out.update(self.fields)
        return EnvStep(self._obs(), out["reward"], out["terminated"], out["truncated"], None)

    def close(self):
        pass


def probe_error(**env_kwargs) -> str:
    with pytest.raises(ShapeMismatchError) as e:
        probe_env(OddEnv(**env_kwargs))
    return str(e.value)


# --- defect 3: rewards and flags that are not numbers ---------------------------------------------------
@pytest.mark.parametrize("value,shown", [("abc", "str 'abc'"), (None, "NoneType None"), ("1.0", "str '1.0'"),
                                         ([1.0], "list [1.0]"), (object(), "object")])
def test_reward_that_is_not_a_number_names_env_field_type_and_expectation(value, shown):
    msg = probe_error(fields={"reward": value})
    assert "train env 'OddEnv-v0'" in msg and "'reward'" in msg and shown in msg and "a number" in msg, msg


@pytest.mark.parametrize("field", ["terminated", "truncated"])
@pytest.mark.parametrize("value", ["abc", None, "True", 0.5, 2])
def test_flags_that_are_not_bools_are_named(field, value):
    msg = probe_error(fields={field: value})
    assert "'OddEnv-v0'" in msg and f"'{field}'" in msg and "a bool" in msg and type(value).__name__ in msg, msg


@pytest.mark.parametrize("value", [np.float32(1.5), np.int64(3), np.array(2.0), True, 7])
def test_numeric_rewards_of_any_kind_pass(value):
    probe_env(OddEnv(fields={"reward": value, "terminated": np.bool_(False), "truncated": 0}))


def test_dict_observation_for_box_space_says_got_a_dict():
    msg = probe_error(emitted="dict")
    assert "got a dict with keys ['x']" in msg and "gymnasium.spaces.Dict" in msg, msg


def test_non_numeric_reward_mid_run_names_the_env_without_debug():
    sampler = SerialSampler(OddEnv, dict(after=5, fields={"reward": "abc"}), batch_T=4, batch_B=1,
                            max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0)
    try:
        with pytest.raises(ShapeMismatchError, match=r"env 'OddEnv-v0': field 'reward' expected a number.*str 'abc'"):
            for itr in range(3):
                sampler.obtain_samples(itr)
    finally:
        sampler.shutdown()


class FlagGymEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, "abc", np.bool_(False), {}


def test_gym_env_refuses_a_string_terminated_instead_of_taking_it_as_true():
    gym.register("FlagGymEnv-v0", entry_point=FlagGymEnv)
    env = GymEnv("FlagGymEnv-v0")
    env.reset()
    with pytest.raises(ShapeMismatchError, match=r"env 'FlagGymEnv-v0': field 'terminated' expected a bool.*str 'abc'"):
        env.step(0)


# --- defect 10: trailing-dimension and rank mismatches ----------------------------------------------------
MISMATCHES = [((3, 84, 84), (3, 84, 80)), ((4,), (4, 1)), ((4, 1), (4,))]


@pytest.mark.parametrize("declared,emitted", MISMATCHES)
def test_spec_validator_compares_every_dimension(declared, emitted):
    spec = spec_from_space(gym.spaces.Box(-1, 1, declared, np.float32))
    validate(np.zeros(declared, np.float32), spec, "env 'X'")
    with pytest.raises(ShapeMismatchError) as e:
        validate(np.zeros(emitted, np.float32), spec, "env 'X'")
    assert str(declared).replace(" ", "").rstrip(",)") in str(e.value).replace(" ", "")


@pytest.mark.parametrize("declared,emitted", MISMATCHES)
def test_probe_catches_trailing_dimension_and_rank_mismatches(declared, emitted):
    msg = probe_error(declared=declared, emitted=emitted)
    assert "'observation'" in msg and "reset()" in msg, msg
    assert f"got shape ({', '.join(map(str, emitted))}{',' if len(emitted) == 1 else ''})" in msg, msg


@pytest.mark.parametrize("declared,emitted", MISMATCHES)
def test_debug_step_check_catches_trailing_dimension_and_rank_mismatches(declared, emitted):
    sampler = SerialSampler(OddEnv, dict(declared=declared, emitted=emitted, after=6), batch_T=4, batch_B=1,
                            max_decorrelation_steps=0, debug=True)
    sampler.initialize(RandomAgent(), seed=0)
    try:
        with pytest.raises(ShapeMismatchError) as e:
            for itr in range(4):
                sampler.obtain_samples(itr)
    finally:
        sampler.shutdown()
    msg = str(e.value)
    assert "env index 0" in msg and "iteration 1" in msg, msg
    assert f"got shape ({', '.join(map(str, emitted))}{',' if len(emitted) == 1 else ''})" in msg, msg


# --- defect 8: the probe steps with an action the env allows -----------------------------------------------
class MaskedEnv:
    """Discrete(10) where only action 7 is allowed; any other action raises. ``mask_in``: "observation" (an
    ``action_mask`` entry of a Dict observation) or "method" (``action_masks()``)."""

    def __init__(self, mask_in="observation"):
        self.id = "MaskedEnv-v0"
        self.mask_in = mask_in
        self.mask = np.zeros(10, np.int8)
        self.mask[7] = 1
        x = gym.spaces.Box(-1, 1, (3,), np.float32)
        obs = gym.spaces.Dict({"action_mask": gym.spaces.Box(0, 1, (10,), np.int8), "x": x}) \
            if mask_in == "observation" else x
        self.spaces = EnvSpaces(observation=obs, action=gym.spaces.Discrete(10))

    def seed(self, s):
        self.spaces.action.seed(s)

    def _obs(self):
        x = np.zeros(3, np.float32)
        if self.mask_in == "observation":
            return spec_from_space(self.spaces.observation).__class__(action_mask=self.mask.copy(), x=x)
        return x

    def action_masks(self):
        return self.mask.copy()

    def reset(self):
        return self._obs()

    def step(self, action):
        if not self.mask[int(action)]:
            raise ValueError(f"action {action} is masked out")
        return EnvStep(self._obs(), 1.0, True, False, None)

    def close(self):
        pass


@pytest.mark.parametrize("mask_in", ["observation", "method"])
def test_probe_steps_with_an_allowed_action(mask_in):
    env = MaskedEnv(mask_in)
    assert action_mask(env, env.reset()).tolist() == env.mask.tolist()
    for seed in range(20):  # a random unmasked action would be refused 9 times in 10
        env.seed(seed)
        assert int(probe_env(env).action) == 7


def test_masked_env_initializes_in_a_sampler():
    sampler = SerialSampler(MaskedEnv, dict(mask_in="method"), batch_T=2, batch_B=2, max_decorrelation_steps=0)
    try:
        sampler.initialize(RandomAgent(), seed=0)
    finally:
        sampler.shutdown()


def test_mask_allowing_nothing_is_named():
    env = MaskedEnv("method")
    env.mask[:] = 0
    with pytest.raises(ShapeMismatchError, match="action mask.*allowing none"):
        probe_env(env)
