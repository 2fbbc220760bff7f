"""Specs from gymnasium spaces; validation; structured conversion."""
import gymnasium as gym
import numpy as np
import pytest

from rlframe.core.specs import (
    Spec, example_from_spec, spec_from_space, spec_to_json, specs_equal, to_structured, validate,
)
from rlframe.errors import ShapeMismatchError

S = gym.spaces


def test_leaf_spaces():
    box = spec_from_space(S.Box(-1, 1, (3, 2), np.float32))
    assert box.shape == (3, 2) and box.dtype == np.float32 and box.kind == "box"
    d = spec_from_space(S.Discrete(5, start=1))
    assert d.shape == () and d.n == 5 and d.start == 1 and d.dtype == np.int64
    md = spec_from_space(S.MultiDiscrete([3, 4]))
    assert md.shape == (2,) and md.kind == "multi_discrete"
    mb = spec_from_space(S.MultiBinary(6))
    assert mb.shape == (6,) and mb.dtype == np.int8


def test_dict_and_tuple_spaces():
    space = S.Dict({"pos-x": S.Box(0, 1, (2,)), "mask": S.MultiBinary(4),
                    "nested": S.Tuple((S.Discrete(2), S.Box(0, 1, (1,))))})
    spec = spec_from_space(space)
    assert spec._fields == ("mask", "nested", "pos_x")  # gymnasium sorts Dict keys
    assert spec.nested._fields == ("f0", "f1")
    value = space.sample()
    st = to_structured(value, spec)
    assert st._fields == spec._fields and st.nested.f1.shape == (1,)
    validate(st, spec, "env 'X'")
    validate(value, spec, "env 'X'")  # dicts are converted
    ex = example_from_spec(spec)
    assert ex.mask.shape == (4,) and ex.nested.f0.shape == ()
    assert spec_to_json(spec)["nested"]["f0"]["kind"] == "discrete"


def test_validate_shape_error_names_component_and_shapes():
    spec = spec_from_space(S.Box(-1, 1, (461,)))
    with pytest.raises(ShapeMismatchError) as e:
        validate(np.zeros(365), spec, "env 'Chip-v0'")
    msg = str(e.value)
    assert "Chip-v0" in msg and "(461,)" in msg and "(365,)" in msg and "observation_space" in msg


def test_validate_bounds_and_finite():
    d = spec_from_space(S.Discrete(2))
    validate(1, d, "agent", "action", check_bounds=True)
    with pytest.raises(ShapeMismatchError, match=r"\[0, 1\]"):
        validate(5, d, "agent", "action", check_bounds=True)
    md = spec_from_space(S.MultiDiscrete([2, 3]))
    with pytest.raises(ShapeMismatchError, match="multi discrete"):
        validate(np.array([1, 3]), md, "agent", "action", check_bounds=True)
    box = spec_from_space(S.Box(-1, 1, (2,)))
    with pytest.raises(ShapeMismatchError, match="NaN"):
        validate(np.array([0.0, np.nan]), box, "env", check_finite=True)
    with pytest.raises(ShapeMismatchError, match="inf"):
        validate(np.array([np.inf, 0.0]), box, "env", check_finite=True)


def test_structure_mismatch_and_equality():
    spec = spec_from_space(S.Dict({"a": S.Box(0, 1, (2,))}))
    with pytest.raises(ShapeMismatchError, match="fields"):
        validate(np.zeros(2), spec, "env")
    assert specs_equal(spec_from_space(S.Box(0, 1, (2,))), spec_from_space(S.Box(-5, 5, (2,))))
    assert not specs_equal(spec_from_space(S.Box(0, 1, (2,))), spec_from_space(S.Box(0, 1, (3,))))
    assert not specs_equal(spec_from_space(S.Discrete(2)), spec_from_space(S.Discrete(3)))
    with pytest.raises(TypeError, match="no spec"):
        spec_from_space(S.Text(5))
    assert isinstance(spec_from_space(S.Discrete(3)), Spec)
