"""Leading dims (with the model-shape check) and seeding."""
import numpy as np
import pytest
import torch

from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.core.seeding import env_seeds, make_seed, set_global_seeds, worker_seed
from rlframe.errors import ShapeMismatchError


@pytest.mark.parametrize("shape,lead,T,B", [((4,), 0, 1, 1), ((3, 4), 1, 1, 3), ((2, 3, 4), 2, 2, 3)])
def test_infer_and_restore(shape, lead, T, B):
    x = torch.zeros(shape)
    lead_dim, T_, B_, obs_shape = infer_leading_dims(x, (4,))
    assert (lead_dim, T_, B_, obs_shape) == (lead, T, B, (4,))
    out = torch.zeros(T * B, 7)
    assert tuple(restore_leading_dims(out, lead_dim, T, B).shape) == shape[:-1] + (7,)


def test_infer_names_model_and_shapes():
    with pytest.raises(ShapeMismatchError) as e:
        infer_leading_dims(torch.zeros(1, 365), (461,), component="MyMlpModel")
    msg = str(e.value)
    assert "MyMlpModel" in msg and "(461,)" in msg and "(365,)" in msg
    with pytest.raises(ShapeMismatchError):
        infer_leading_dims(torch.zeros(2, 2, 2, 4), (4,))


def test_env_seeds_distinct_and_reproducible():
    train, evals = env_seeds(123, 64, 16)
    assert len(set(train + evals)) == 80
    assert env_seeds(123, 64, 16) == (train, evals)
    assert env_seeds(124, 64, 16)[0] != train
    assert env_seeds(123, 8)[0] == train[:8]  # a prefix does not depend on the count
    assert worker_seed(1, 0) != worker_seed(1, 1)
    assert make_seed(5) == 5 and isinstance(make_seed(None), int)


def test_set_global_seeds():
    set_global_seeds(3)
    a = (np.random.rand(), torch.rand(1).item())
    set_global_seeds(3)
    assert (np.random.rand(), torch.rand(1).item()) == a
