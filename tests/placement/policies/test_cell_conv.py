import pytest
import torch

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ShapeMismatchError
from rlframe.placement.policies import CellConvPolicy


def test_cell_conv_policy_one_logit_per_cell_and_named_errors():
    Obs = namedarraytuple("PlacementObsTest", ["image", "macro"])
    model = CellConvPolicy({"image": (3, 4, 5), "macro": (4,)}, action_size=20)
    logits, value = model(Obs(torch.zeros(7, 2, 3, 4, 5), torch.zeros(7, 2, 4)))
    assert logits.shape == (7, 2, 20) and value.shape == (7, 2)
    with pytest.raises(ShapeMismatchError, match="CellConvPolicy"):
        model(Obs(torch.zeros(2, 3, 5, 5), torch.zeros(2, 4)))
    with pytest.raises(ShapeMismatchError, match="one action per grid cell"):
        CellConvPolicy({"image": (3, 4, 5), "macro": (4,)}, action_size=21)
