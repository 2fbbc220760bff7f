"""namedarraytuple: nested indexing, assignment, slicing over [T, B], None fields, errors, pickling."""
import multiprocessing as mp
import pickle

import numpy as np
import pytest
import torch

from rlframe.core.namedarraytuple import iter_leaves, map_leaves, namedarraytuple
from rlframe.errors import ShapeMismatchError

Inner = namedarraytuple("Inner", ["a", "b"])
Outer = namedarraytuple("Outer", ["obs", "inner", "missing"])


def make(T=5, B=3):
    return Outer(np.zeros((T, B, 4), np.float32), Inner(np.zeros((T, B)), torch.zeros(T, B, 2)), None)


def test_index_slice_nested():
    x = make()
    x.obs[2, 1] = 7
    x.inner.b[2, 1] = 3
    y = x[2, 1]
    assert isinstance(y, Outer) and isinstance(y.inner, Inner)
    assert y.obs.shape == (4,) and float(y.obs[0]) == 7 and y.inner.b.tolist() == [3, 3]
    assert y.missing is None
    s = x[1:3]
    assert s.obs.shape == (2, 3, 4) and s.inner.a.shape == (2, 3) and tuple(s.inner.b.shape) == (2, 3, 2)
    assert x[:, 1:].obs.shape == (5, 2, 4)
    assert x["obs"] is x.obs


def test_assign_whole_structure_and_scalar_broadcast():
    x = make()
    x[0] = Outer(np.ones((3, 4)), Inner(np.full(3, 2.0), torch.full((3, 2), 5.0)), None)
    assert x.obs[0].sum() == 12 and x.inner.a[0].tolist() == [2, 2, 2] and x.inner.b[0].sum() == 30
    x[1, 2] = 9  # a scalar goes to every leaf
    assert x.obs[1, 2].tolist() == [9] * 4 and x.inner.a[1, 2] == 9 and x.inner.b[1, 2].tolist() == [9, 9]
    view = x[3]
    view.inner.a[:] = 4  # slices are views: writes land in the buffer
    assert x.inner.a[3].tolist() == [4, 4, 4]


def test_write_that_does_not_fit_names_field_and_index():
    x = make()
    bad = Outer(np.ones((3, 5)), Inner(np.zeros(3), torch.zeros(3, 2)), None)
    with pytest.raises(ShapeMismatchError) as e:
        x[2] = bad
    msg = str(e.value)
    assert "'obs'" in msg and "shape (3, 4)" in msg and "shape (3, 5)" in msg and "index 2" in msg
    with pytest.raises(ShapeMismatchError) as e:
        x[1, 0] = Outer(np.ones(4), Inner(0.0, torch.zeros(3)), None)
    assert "'inner.b'" in str(e.value) and "(1, 0)" in str(e.value)
    Other = namedarraytuple("Other", ["obs"])
    with pytest.raises(ShapeMismatchError, match="fields"):
        x[0] = Other(np.zeros((3, 4)))


def test_bad_index_names_field():
    x = make()
    with pytest.raises(IndexError, match="Outer.obs"):
        x[7]


def test_map_and_iter_leaves():
    x = make(2, 2)
    y = map_leaves(lambda v: v + 1, x)
    assert float(y.obs.sum()) == 16 and y.missing is None
    names = [k for k, _ in iter_leaves(x)]
    assert names == ["obs", "inner.a", "inner.b"]


def test_same_class_per_name_and_fields():
    assert namedarraytuple("Inner", ["a", "b"]) is Inner
    assert namedarraytuple("Inner", ["a", "c"]) is not Inner
    with pytest.raises(ValueError, match="reserved"):
        namedarraytuple("Bad", ["items"])


def test_pickle_roundtrip_runtime_class():
    Dyn = namedarraytuple("DynamicObs_pickle", ["pixels", "mask"])
    d = Dyn(np.arange(6).reshape(2, 3), np.ones(2, bool))
    d2 = pickle.loads(pickle.dumps(d))
    assert type(d2) is Dyn and np.array_equal(d2.pixels, d.pixels)


def _child(q, value):
    q.put((type(value).__name__, value._fields, value.pixels.sum().item(), value.inner.a.tolist(),
           type(value.inner).__name__))


def test_pickles_to_spawned_process():
    """A class created at run time travels to a ``spawn`` process (rlpyt's did not)."""
    Dyn = namedarraytuple("SpawnObs_" + str(np.random.randint(1 << 30)), ["pixels", "inner"])
    value = Dyn(np.arange(4.0), Inner(np.array([1, 2]), None))
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, value))
    p.start()
    try:
        name, fields, total, inner_a, inner_name = q.get(timeout=60)
    finally:
        p.join(timeout=30)
        if p.is_alive():  # pragma: no cover
            p.kill()
    assert name == type(value).__name__ and fields == ("pixels", "inner")
    assert total == 6.0 and inner_a == [1, 2] and inner_name == "Inner"
    assert p.exitcode == 0
