"""GuardedEnv: the heartbeat a worker writes around every env call, and the env index on exceptions."""
import numpy as np
import pytest

from rlframe.samplers.parallel.worker import GuardedEnv


class _Env:
    def __init__(self):
        self.calls = []

    def step(self, action):
        self.calls.append(("step", action))
        return ("obs", action)

    def reset(self):
        self.calls.append(("reset",))
        return "first"


def test_heartbeat_around_steps_and_resets():
    hb, counter = np.zeros(8, np.int64), [0]
    envs = [GuardedEnv(_Env(), i, hb, counter) for i in (3, 4)]
    assert envs[0].reset() == "first" and envs[0].step(7) == ("obs", 7)
    assert hb[:3].tolist() == [2, 3, 1]  # two calls, env 3 last, call kind "step" after a reset
    assert envs[1].step(1) == ("obs", 1)
    assert hb[:2].tolist() == [3, 4] and counter == [3]  # the count is shared by the worker's envs


def test_step_sees_a_patched_env_and_forwards_attributes():
    env = _Env()
    guarded = GuardedEnv(env, 0, np.zeros(8, np.int64))
    env.step = lambda a: "patched"
    env.spaces = "spaces"
    assert guarded.step(0) == "patched" and guarded.spaces == "spaces"


def test_an_exception_carries_the_env_index_and_leaves_the_count():
    env = _Env()
    env.step = lambda a: 1 / 0
    hb = np.zeros(8, np.int64)
    guarded = GuardedEnv(env, 5, hb)
    with pytest.raises(ZeroDivisionError) as info:
        guarded.step(0)
    assert info.value.rlframe_env_index == 5
    assert hb[:2].tolist() == [0, 5]  # the env in progress is named; no call counted
