"""QPG models: fused critics equal independent MLPs, detached weights, leading dims, shape errors, soft updates."""
import pytest
import torch
from torch import nn

from rlframe.errors import ShapeMismatchError
from rlframe.models.qpg import MuMlpModel, PiMlpModel, QMlpModel, soft_update_


def _critic_as_mlp(model: QMlpModel, i: int, x: torch.Tensor) -> torch.Tensor:
    """Critic ``i`` evaluated as a plain MLP (Linear layers built from its weight slices)."""
    h = x
    ws, bs = model.critics.weights, model.critics.biases
    for n, (w, b) in enumerate(zip(ws, bs)):
        h = nn.functional.linear(h, w[i].T, b[i, 0])
        if n < len(ws) - 1:
            h = torch.relu(h)
    return h.squeeze(-1)


def test_fused_twin_critics_equal_independent_mlps_and_differ_from_each_other():
    torch.manual_seed(0)
    q = QMlpModel((3,), 2, hidden_sizes=(32, 16), n_critics=2)
    obs, act = torch.randn(10, 3), torch.rand(10, 2) * 2 - 1
    out = q(obs, act)
    assert out.shape == (2, 10)
    x = torch.cat([obs, act], -1)
    for i in range(2):
        assert torch.allclose(out[i], _critic_as_mlp(q, i, x), atol=1e-5)
    assert not torch.allclose(out[0], out[1])
    assert torch.allclose(q(obs, act, n_critics=1)[0], out[0])


def test_detached_params_give_action_gradients_only():
    torch.manual_seed(0)
    q = QMlpModel((3,), 1, hidden_sizes=(16,), n_critics=2)
    act = torch.zeros(5, 1, requires_grad=True)
    q(torch.randn(5, 3), act, detach_params=True).sum().backward()
    assert act.grad is not None and act.grad.abs().sum() > 0
    assert all(p.grad is None for p in q.parameters())
    q(torch.randn(5, 3), act).sum().backward()
    assert all(p.grad is not None for p in q.parameters())


def test_leading_dims_are_kept():
    q = QMlpModel((3,), 1, hidden_sizes=(8,))
    assert q(torch.zeros(3), torch.zeros(1)).shape == (2,)
    assert q(torch.zeros(4, 5, 3), torch.zeros(4, 5, 1)).shape == (2, 4, 5)
    mu = MuMlpModel((3,), 2, hidden_sizes=(8,))
    assert mu(torch.zeros(4, 5, 3)).shape == (4, 5, 2)
    assert mu(torch.randn(7, 3) * 100).abs().max() <= 1
    mean, log_std = PiMlpModel((3,), 2, hidden_sizes=(8,), log_std_bounds=(-5, 1))(torch.randn(6, 3) * 1e3)
    assert mean.shape == log_std.shape == (6, 2)
    assert log_std.min() >= -5 and log_std.max() <= 1


def test_shape_mismatches_name_the_model():
    q = QMlpModel((3,), 2, hidden_sizes=(8,))
    with pytest.raises(ShapeMismatchError, match="QMlpModel.*observation"):
        q(torch.zeros(4, 5), torch.zeros(4, 2))
    with pytest.raises(ShapeMismatchError, match="QMlpModel.*action"):
        q(torch.zeros(4, 3), torch.zeros(4, 3))
    with pytest.raises(ShapeMismatchError, match="MuMlpModel"):
        MuMlpModel((3,), 1, hidden_sizes=(8,))(torch.zeros(2, 4))


def test_default_init_matches_nn_linear_scale():
    q = QMlpModel((3,), 1, hidden_sizes=(256, 256))
    w1 = q.critics.weights[1].detach()  # [2, 256, 256], fan_in 256: U(-1/16, 1/16)
    assert float(w1.abs().max()) <= 1 / 16 + 1e-6 and float(w1.abs().max()) > 0.05


def test_soft_update_moves_targets_by_tau_and_copies_at_one():
    a, b = [torch.zeros(3), torch.ones(2)], [torch.ones(3), torch.zeros(2)]
    soft_update_(a, b, 0.25)
    assert torch.allclose(a[0], torch.full((3,), 0.25)) and torch.allclose(a[1], torch.full((2,), 0.75))
    soft_update_(a, b, 1.0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
