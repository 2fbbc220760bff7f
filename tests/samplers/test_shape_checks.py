"""Shape checking (DESIGN.md items 1, 2, 5, 6): every scenario fails early with a named, actionable error.

The messages asserted here are the ones quoted in docs/shape_checking.md.
"""
import itertools

import numpy as np
import pytest

from rlframe.errors import ShapeMismatchError
from rlframe.samplers import SerialSampler
from tests.helpers import CounterEnv, LinearAgent, RandomAgent


def init(env_kwargs, agent=None, **kw):
    args = dict(EnvCls=CounterEnv, env_kwargs=env_kwargs, batch_T=5, batch_B=2, max_decorrelation_steps=0)
    args.update(kw)
    sampler = SerialSampler(**args)
    try:
        sampler.initialize(agent or RandomAgent(), seed=0)
    except Exception:
        sampler.shutdown()
        raise
    return sampler


def error(fn, *args, **kwargs) -> str:
    with pytest.raises(ShapeMismatchError) as e:
        fn(*args, **kwargs)
    print(e.value)  # pytest -s shows the message (docs/shape_checking.md quotes them)
    return str(e.value)


def test_env_declares_461_emits_365():
    msg = error(init, dict(id="ChipPlacement-v0", obs_size=461, emit_size=365))
    assert "train env 'ChipPlacement-v0'" in msg and "'observation'" in msg
    assert "shape (461,)" in msg and "shape (365,)" in msg and "reset()" in msg and "observation_space" in msg


def test_eval_env_spaces_must_equal_train_spaces():
    msg = error(init, dict(id="Train-v0"), eval_n_envs=1, eval_max_steps=10,
                eval_env_kwargs=dict(id="Eval-v0", obs_size=4))
    assert "eval env 'Eval-v0'" in msg and "observation space" in msg
    assert "shape (3,)" in msg and "shape (4,)" in msg and "eval_env_kwargs" in msg


def test_eval_env_emitting_other_shape_is_probed():
    msg = error(init, dict(id="Train-v0"), eval_n_envs=1, eval_max_steps=10,
                eval_env_kwargs=dict(id="Eval-v0", emit_size=2))
    assert "eval env 'Eval-v0'" in msg and "shape (3,)" in msg and "shape (2,)" in msg


def test_action_outside_discrete_space():
    msg = error(init, dict(id="Counter-v0", n_actions=2), agent=RandomAgent(action_override=5))
    assert "agent RandomAgent" in msg and "Counter-v0" in msg and "'action'" in msg
    assert "an action in [0, 1]" in msg and "got 5" in msg


def test_action_of_wrong_shape():
    msg = error(init, dict(id="Counter-v0"), agent=RandomAgent(action_override=[0, 1]))
    assert "'action'" in msg and "shape ()" in msg and "shape (2,)" in msg


def test_non_scalar_reward():
    msg = error(init, dict(id="VecReward-v0", reward_shape=(2,)))
    assert "train env 'VecReward-v0'" in msg and "'reward'" in msg and "shape ()" in msg and "shape (2,)" in msg
    assert "scalar reward" in msg


def test_model_built_for_461_fed_365():
    msg = error(init, dict(id="Counter-v0", obs_size=365), agent=LinearAgent(input_size=461))
    assert "LinearModel" in msg and "shape (461,)" in msg and "shape (365,)" in msg and "pre-flight" in msg


def test_unchecked_model_size_mismatch_becomes_shape_error():
    msg = error(init, dict(id="Counter-v0", obs_size=365), agent=LinearAgent(input_size=461, check_inputs=False))
    assert "_UncheckedLinear" in msg and "(365,)" in msg and "mat1 and mat2" in msg


def test_check_does_not_mask_other_errors():
    class Broken(RandomAgent):
        def step(self, *args):
            raise RuntimeError("unrelated failure")

    with pytest.raises(RuntimeError, match="unrelated failure"):
        init(dict(), agent=Broken())


def _factory(bad_index, **bad_kwargs):
    counter = itertools.count()

    def make_env(**kwargs):
        i = next(counter)
        return CounterEnv(**kwargs, **(bad_kwargs if i == bad_index else {}))

    return make_env


@pytest.mark.parametrize("value,word", [(np.nan, "NaN"), (np.inf, "inf")])
def test_debug_names_env_index_and_step(value, word):
    sampler = init(dict(id="Counter-v0", truncate_at=None), EnvCls=_factory(1, bad_at=(3, value)), debug=True)
    msg = error(sampler.obtain_samples, 0)
    assert "env 'Counter-v0'" in msg and word in msg and "finite values" in msg
    assert "env index 1" in msg and "step 2 of iteration 0" in msg
    sampler.shutdown()


def test_without_debug_nan_passes_silently():
    sampler = init(dict(truncate_at=None), EnvCls=_factory(1, bad_at=(3, np.nan)))
    samples, _ = sampler.obtain_samples(0)
    assert np.isnan(samples.env.observation).any()
    sampler.shutdown()


def test_debug_catches_bad_action_mid_run():
    class LateBadAgent(RandomAgent):
        calls = 0

        def step(self, *args):
            self.calls += 1
            self.action_override = 7 if self.calls > 3 else None
            return super().step(*args)

    sampler = init(dict(id="Counter-v0"), agent=LateBadAgent(), debug=True)
    msg = error(sampler.obtain_samples, 0)
    assert "LateBadAgent" in msg and "an action in [0, 1]" in msg and "got 7" in msg and "env index 0" in msg
    sampler.shutdown()


def test_shape_change_mid_run_is_named_even_without_debug():
    sampler = init(dict(id="Counter-v0", truncate_at=None), EnvCls=_factory(1, change_at=(3, 4)))
    msg = error(sampler.obtain_samples, 0)
    assert "env 'Counter-v0'" in msg and "shape (3,)" in msg and "shape (4,)" in msg
    assert "env index 1" in msg and "step 2 of iteration 0" in msg
    sampler.shutdown()


def test_env_info_fields_differing_between_envs_are_named():
    from rlframe.core.namedarraytuple import namedarraytuple
    from rlframe.envs.base import EnvStep

    class OtherInfoEnv(CounterEnv):
        def step(self, action):
            step = super().step(action)
            return EnvStep(*step[:4], namedarraytuple("CounterInfo", ["hpwl"])(1.0))

    counter = itertools.count()

    def make_env(**kwargs):
        return (OtherInfoEnv if next(counter) == 1 else CounterEnv)(**kwargs)

    sampler = init(dict(id="Counter-v0"), EnvCls=make_env)
    msg = error(sampler.obtain_samples, 0)
    assert "env 'Counter-v0'" in msg and "env index 1" in msg and "('t',)" in msg and "('hpwl',)" in msg
    sampler.shutdown()
