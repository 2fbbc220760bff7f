import pytest
import torch

from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ShapeMismatchError
from rlframe.models.dqn import CatDqnConvModel, CatDqnMlpModel, DqnConvModel, DqnMlpModel, QHead


@pytest.mark.parametrize("dueling", [False, True])
def test_mlp_q_model_leading_dims(dueling):
    m = DqnMlpModel((4,), 3, hidden_sizes=(16, 16), dueling=dueling)
    for lead in [(), (5,), (6, 5)]:
        assert m(torch.randn(*lead, 4)).shape == lead + (3,)
    n_params = sum(p.numel() for p in m.parameters())
    stream = lambda out: 4 * 16 + 16 + 16 * 16 + 16 + 16 * out + out  # noqa: E731
    assert n_params == stream(3) + (stream(1) if dueling else 0)


def test_dueling_head_combines_value_and_centred_advantage():
    torch.manual_seed(0)
    head = QHead(5, 4, hidden_sizes=(8,), dueling=True)
    x = torch.randn(7, 5)
    adv, v = head.advantage(x), head.value(x)
    expected = v + adv - adv.mean(-1, keepdim=True)
    assert torch.allclose(head(x).squeeze(-1), expected, atol=1e-6)
    # The advantage stream is identifiable: the mean over actions of Q is V.
    assert torch.allclose(head(x).squeeze(-1).mean(-1), v.squeeze(-1), atol=1e-6)


@pytest.mark.parametrize("dueling", [False, True])
def test_cat_model_outputs_log_probabilities(dueling):
    m = CatDqnMlpModel((4,), 3, n_atoms=11, hidden_sizes=(16,), dueling=dueling)
    log_p = m(torch.randn(6, 5, 4))
    assert log_p.shape == (6, 5, 3, 11)
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(6, 5, 3), atol=1e-5)


def test_conv_models_nature_torso_on_atari_frames():
    m = DqnConvModel((4, 84, 84), 6)
    assert m.encoder.output_size == 64 * 7 * 7
    assert m.head.dueling
    x = torch.randint(0, 256, (2, 3, 4, 84, 84), dtype=torch.uint8)
    assert m(x).shape == (2, 3, 6)
    c = CatDqnConvModel((4, 84, 84), 6, n_atoms=5)
    assert c(x[0]).shape == (3, 6, 5)


def test_q_model_shape_mismatch_names_model_and_shapes():
    m = DqnMlpModel((461,), 2)
    with pytest.raises(ShapeMismatchError) as e:
        m(torch.zeros(1, 365))
    msg = str(e.value)
    assert "DqnMlpModel" in msg and "(461,)" in msg and "(365,)" in msg
    with pytest.raises(ShapeMismatchError, match="CatDqnConvModel"):
        CatDqnConvModel((4, 84, 84), 6)(torch.zeros(1, 4, 64, 64))


def test_dict_observations_are_flattened_and_concatenated():
    Obs = namedarraytuple("Obs", ["position", "action_mask"])
    m = DqnMlpModel({"position": (3,), "action_mask": (5,)}, 5, hidden_sizes=(8,))
    obs = Obs(position=torch.zeros(2, 3), action_mask=torch.ones(2, 5))
    assert m(obs).shape == (2, 5)


def test_cat_model_needs_two_atoms():
    with pytest.raises(ValueError, match="n_atoms"):
        CatDqnMlpModel((4,), 2, n_atoms=1)
