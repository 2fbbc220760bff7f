"""GymEnv: gymnasium adapter (CartPole, module:EnvId ids, Dict observations, fixed info fields, seeding)."""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.core.namedarraytuple import is_namedtuple
from rlframe.envs import EnvStep, GymEnv

MODULE_ID = "tests.envs.gym_test_envs:RlframeTest/DictObs-v0"


def test_cartpole_contract_and_no_autoreset():
    env = GymEnv("CartPole-v1", max_episode_steps=3)
    assert env.id == "CartPole-v1" and env.spaces.observation.shape == (4,) and env.spaces.action.n == 2
    obs = env.reset()
    assert obs.shape == (4,) and obs.dtype == np.float32
    steps = [env.step(np.int64(0)) for _ in range(3)]
    assert all(isinstance(s, EnvStep) for s in steps)
    last = steps[-1]
    assert last.truncated and not last.terminated and isinstance(last.reward, float)
    assert last.env_info == () and env.info_fields == ()
    # the final observation is the true one (not a reset observation) and the env does not auto-reset
    assert not np.allclose(last.observation, obs)
    env.close()
    env.close()  # idempotent


def test_discrete_action_converted_to_python_int():
    env = GymEnv(MODULE_ID)
    env.reset()
    env.step(np.int64(2))
    env.step(np.array(1))
    assert env.unwrapped.action_types == [int, int]


def test_module_id_dict_obs_and_info_fields():
    env = GymEnv(MODULE_ID)
    assert env.id == MODULE_ID
    obs = env.reset()
    assert is_namedtuple(obs) and obs._fields == ("mask", "pos") and obs.pos.shape == (2,)
    s1 = env.step(0)
    # fields fixed by the first step info: numeric keys only, in order; strings and dicts dropped
    assert env.info_fields == ("count", "vec", "cost")
    assert s1.env_info.count == 1 and s1.env_info.cost == 0.5 and s1.env_info.vec.tolist() == [1, -1]
    s2 = env.step(0)
    assert s2.env_info._fields == ("count", "vec", "cost")  # 'late' (new key) dropped
    assert s2.env_info.cost == 0.0 and s2.env_info.count == 2  # missing key -> zero
    assert s2.observation.pos.tolist() == [2.0, 2.0]
    assert env.action_masks().tolist() == [True, False, True]


def test_action_masks_only_when_env_has_them():
    assert not hasattr(GymEnv("CartPole-v1"), "action_masks")


def test_kwargs_reach_gymnasium_make():
    env = GymEnv(MODULE_ID, size=5)
    assert env.spaces.observation["pos"].shape == (5,) and env.reset().pos.shape == (5,)


def test_seed_on_first_reset_and_box_actions():
    def rollout(seed):
        env = GymEnv("tests.envs.gym_test_envs:RlframeTest/Noisy-v0", seed=seed)
        out = [env.reset()]
        out += [env.step([0.1, 0.2]).observation for _ in range(2)]  # lists become float32 arrays
        out.append(env.reset())  # later resets continue the seeded stream
        return np.stack(out)

    assert np.array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))
    env = GymEnv("tests.envs.gym_test_envs:RlframeTest/Noisy-v0")
    env.seed(3)
    assert np.array_equal(env.reset(), rollout(3)[0])


def test_unknown_id_fails_clearly():
    with pytest.raises(Exception, match="NoSuchEnv"):
        GymEnv("NoSuchEnv-v0")


def test_box_actions_are_clipped_at_the_env_boundary():
    env = GymEnv("Pendulum-v1")
    env.seed(0)
    env.reset()
    seen = []
    original = env.env.step

    def spy(action):
        seen.append(np.array(action))
        return original(action)

    env.env.step = spy
    env.step(np.array([7.5], dtype=np.float32))
    assert seen[0].tolist() == [2.0]  # Pendulum's torque bound
    raw = GymEnv("Pendulum-v1", clip_actions=False)
    raw.reset()
    raw.env.step = lambda a: (seen.append(np.array(a)), original(np.clip(a, -2, 2)))[1]
    raw.step(np.array([7.5], dtype=np.float32))
    assert seen[1].tolist() == [7.5]


def test_unimportable_env_module_is_a_clear_error():
    from rlframe.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_xyz'.*PYTHONPATH"):
        GymEnv("no_such_module_xyz:Env-v0")


def test_env_info_without_numeric_fields_is_one_shared_instance_and_others_are_converted():
    env = GymEnv("CartPole-v1")
    env.reset()
    first, second = env.step(0).env_info, env.step(1).env_info
    assert first is second and first._fields == ()
    timed = GymEnv("CartPole-v1", wrappers=[_info_t])
    timed.reset()
    infos = [timed.step(0).env_info for _ in range(3)]
    assert [i.t for i in infos] == [1, 2, 3]


def _info_t(env):
    return _InfoT(env)


class _InfoT(gym.Wrapper):
    """Adds a numeric ``t`` (steps since reset) to every step info."""

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        self.t += 1
        return obs, r, te, tr, {**info, "t": self.t}


@pytest.mark.parametrize("space_args", [dict(n=2), dict(n=5, start=-2), dict(n=8, start=120, dtype=np.int8),
                                        dict(n=8, start=125, dtype=np.int8)])
def test_fast_discrete_check_answers_as_gymnasium(space_args):
    from rlframe.envs.gym import fast_discrete_check

    class _Env(gym.Env):
        def __init__(self):
            self.action_space = gym.spaces.Discrete(**space_args)

    env, reference = _Env(), gym.spaces.Discrete(**space_args)
    fast_discrete_check(env)
    patched = "contains" in vars(env.action_space)
    assert patched == (space_args.get("start", 0) + space_args["n"] - 1 <= np.iinfo(reference.dtype).max)
    values = [x for v in range(-5, 135) for x in (v, np.int64(v), np.int32(v))] + [
        True, False, 2 ** 70, -(2 ** 70), 1.0, np.float32(1), "1", None, np.array(1), np.array([1]), np.uint8(1)]
    for x in values:
        assert env.action_space.contains(x) == reference.contains(x), x


def test_fast_discrete_check_leaves_other_spaces_alone():
    from rlframe.envs.gym import fast_discrete_check

    class MyDiscrete(gym.spaces.Discrete):
        pass

    class _Env(gym.Env):
        def __init__(self, space):
            self.action_space = space

    for space in (MyDiscrete(3), gym.spaces.Box(-1, 1, (2,)), gym.spaces.MultiDiscrete([2, 3])):
        fast_discrete_check(_Env(space))
        assert "contains" not in vars(space)


def test_gym_env_steps_cartpole_exactly_as_gym_make_and_keeps_the_check_through_a_resume():
    env, raw = GymEnv("CartPole-v1"), gym.make("CartPole-v1")
    assert "contains" in vars(env.unwrapped.action_space)  # the fast Discrete check is in place
    env.seed(7)
    obs = env.reset()
    assert np.array_equal(obs, raw.reset(seed=7)[0])
    actions = np.random.default_rng(0).integers(0, 2, 400).tolist()
    for i, a in enumerate(actions):
        if i == 200:  # resume from a saved state half way
            state = env.get_state()
            env = GymEnv("CartPole-v1")
            env.set_state(state)
            assert "contains" in vars(env.unwrapped.action_space)
        step, (o, r, te, tr, _) = env.step(a), raw.step(a)
        assert np.array_equal(step.observation, o) and (step.reward, step.terminated, step.truncated) == (r, te, tr)
        if te or tr:
            assert np.array_equal(env.reset(), raw.reset()[0])
    with pytest.raises(AssertionError):
        env.step(2)  # an invalid action still fails CartPole's check
