import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.algos.optim import FlatGradients
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ShapeMismatchError
from rlframe.models import (CategoricalPgConvModel, CategoricalPgMlpModel, Conv2dModel, GaussianPgMlpModel,
                            MlpModel, observation_shape_from_space)


def test_mlp_model():
    m = MlpModel(5, (8, 8), 3)
    assert m(torch.zeros(2, 4, 5)).shape == (2, 4, 3)
    assert m.output_size == 3
    assert MlpModel(5, (8,), None).output_size == 8


@pytest.mark.parametrize("shared", [False, True])
def test_categorical_model_leading_dims(shared):
    m = CategoricalPgMlpModel((4,), 3, hidden_sizes=(16, 16), shared=shared)
    for lead in [(), (5,), (6, 5)]:
        logits, v = m(torch.randn(*lead, 4))
        assert logits.shape == lead + (3,) and v.shape == lead
        assert m.value(torch.randn(*lead, 4)).shape == lead
    x = torch.randn(6, 5, 4)
    assert torch.allclose(m(x)[1], m.value(x), atol=1e-6)
    n_params = sum(p.numel() for p in m.parameters())
    trunks = (16 * 4 + 16 + 16 * 16 + 16) * (1 if shared else 2)
    heads = (16 * 3 + 3) + (16 + 1) if shared else 2 * (16 * 3 + 3)  # fused heads are stored padded to 3 columns
    assert n_params == trunks + heads


def test_twin_trunks_equal_two_independent_mlps():
    """The fused (batched-matmul) separate trunks compute exactly two independent MLPs."""
    torch.manual_seed(0)
    m = CategoricalPgMlpModel((4,), 3, hidden_sizes=(16, 8), shared=False)
    w, b = m.trunk.weights, m.trunk.biases
    x = torch.randn(10, 4)

    def mlp(i, n_out):
        h = torch.tanh(x @ w[0][i] + b[0][i])
        h = torch.tanh(h @ w[1][i] + b[1][i])
        return h @ w[2][i][:, :n_out] + b[2][i][:, :n_out]

    logits, v = m(x)
    assert torch.allclose(logits, mlp(0, 3), atol=1e-6)
    assert torch.allclose(v, mlp(1, 1).squeeze(-1), atol=1e-6)
    # Gradients of the value loss do not reach the policy trunk, and vice versa.
    v.sum().backward()
    assert all(p.grad[0].abs().max() == 0 for p in m.trunk.weights)
    assert all(p.grad[1].abs().max() > 0 for p in m.trunk.weights)
    # Wide action spaces keep separate (unpadded) heads on the twin trunks.
    wide = CategoricalPgMlpModel((4,), 100, hidden_sizes=(16,))
    assert not wide.fused_heads and wide.pi_head.out_features == 100
    lg, vv = wide(torch.randn(2, 7, 4))
    assert lg.shape == (2, 7, 100) and torch.allclose(vv, wide.value(torch.randn(2, 7, 4)) * 0 + vv)


def test_model_shape_mismatch_names_model_and_shapes():
    m = CategoricalPgMlpModel((461,), 4)
    with pytest.raises(ShapeMismatchError) as err:
        m(torch.zeros(1, 365))
    msg = str(err.value)
    assert "CategoricalPgMlpModel" in msg and "461" in msg and "365" in msg
    assert "m1" not in msg  # not torch's matmul message
    with pytest.raises(ShapeMismatchError):
        m.value(torch.zeros(2, 3, 4, 461))  # too many leading dims
    g = GaussianPgMlpModel((3,), 1)
    with pytest.raises(ShapeMismatchError, match="GaussianPgMlpModel"):
        g(torch.zeros(8, 2))


def test_orthogonal_init_gains():
    m = CategoricalPgMlpModel((4,), 2, hidden_sizes=(64, 64), shared=True)
    w = m.pi_head.weight
    assert w.abs().max().item() < 0.05  # gain 0.01
    assert torch.count_nonzero(m.pi_head.bias) == 0
    w1 = m.trunk.model[0].weight  # 64 x 4, orthogonal columns scaled by sqrt(2)
    assert torch.allclose(w1.T @ w1, 2 * torch.eye(4), atol=1e-4)
    t = CategoricalPgMlpModel((4,), 2, hidden_sizes=(64, 64)).trunk
    for i in range(2):
        w1 = t.weights[0][i]  # [in, out] = 4 x 64
        assert torch.allclose(w1 @ w1.T, 2 * torch.eye(4), atol=1e-4)
    assert t.weights[-1][0].abs().max().item() < 0.05           # policy head, gain 0.01
    v_head = t.weights[-1][1][:, :1]                             # value head, gain 1
    assert (v_head.T @ v_head).item() == pytest.approx(1.0, abs=1e-4)
    assert torch.count_nonzero(t.weights[-1][1][:, 1:]) == 0     # padding


def test_gaussian_model_std_modes():
    g = GaussianPgMlpModel((3,), 2, init_log_std=-0.5)
    mu, log_std, v = g(torch.randn(7, 5, 3))
    assert mu.shape == log_std.shape == (7, 5, 2) and v.shape == (7, 5)
    assert torch.allclose(log_std, torch.full_like(log_std, -0.5))
    assert g.log_std.requires_grad
    for shared in (False, True):
        gs = GaussianPgMlpModel((3,), 2, init_log_std=-1.0, state_dependent_std=True, shared=shared)
        mu, log_std, v = gs(torch.zeros(4, 3))
        assert mu.shape == log_std.shape == (4, 2)
        assert torch.allclose(log_std, torch.full_like(log_std, -1.0), atol=1e-5)


def test_dict_observation_model():
    space = gym.spaces.Dict({
        "image": gym.spaces.Box(0, 1, (2, 4, 4), np.float32),
        "action_mask": gym.spaces.MultiBinary(16),
        "step": gym.spaces.Box(0, 1, (1,), np.float32),
    })
    shape = observation_shape_from_space(space)
    assert shape == {"image": (2, 4, 4), "action_mask": (16,), "step": (1,)}  # (gymnasium sorts Dict keys)
    Obs = namedarraytuple("Obs", list(shape))
    m = CategoricalPgMlpModel(shape, 16, hidden_sizes=(32,))
    assert m.encoder.output_size == 32 + 16 + 1
    obs = Obs(image=torch.rand(3, 5, 2, 4, 4), action_mask=torch.ones(3, 5, 16, dtype=torch.int8), step=torch.rand(3, 5, 1))
    logits, v = m(obs)
    assert logits.shape == (3, 5, 16) and v.shape == (3, 5)
    bad = Obs(image=torch.rand(5, 2, 4, 3), action_mask=torch.ones(5, 16, dtype=torch.int8), step=torch.rand(5, 1))
    with pytest.raises(ShapeMismatchError, match=r"observation\.image"):
        m(bad)
    sub = CategoricalPgMlpModel(shape, 16, fields=["image"])
    assert sub.encoder.output_size == 32
    # A flat model fed a structure says so.
    with pytest.raises(ShapeMismatchError):
        CategoricalPgMlpModel((4,), 2)(obs)


def test_conv_model():
    m = CategoricalPgConvModel((3, 8, 8), 64, obs_scale=1 / 255)
    logits, v = m(torch.zeros(2, 4, 3, 8, 8, dtype=torch.uint8))
    assert logits.shape == (2, 4, 64) and v.shape == (2, 4)
    with pytest.raises(ShapeMismatchError, match="CategoricalPgConvModel"):
        m(torch.zeros(4, 3, 8, 9))
    c = Conv2dModel(3, (4, 8), (3, 3), (2, 1))
    assert c.conv_out_size(8, 8) == 8 * 4 * 4
    with pytest.raises(ValueError):
        Conv2dModel(3, (4, 8), (3,), (1, 1))


@pytest.mark.parametrize("Model,kwargs", [
    (CategoricalPgMlpModel, dict(nonlinearity=torch.nn.Tanh)),
    (CategoricalPgMlpModel, dict(nonlinearity=torch.nn.ReLU, hidden_sizes=(8, 8, 8))),
    (GaussianPgMlpModel, dict(nonlinearity=torch.nn.ReLU)),
    (GaussianPgMlpModel, dict(nonlinearity=torch.nn.Tanh, state_dependent_std=True)),
])
def test_backward_from_equals_autograd(Model, kwargs):
    """forward_saving + backward_from (the backward pass written out, used by PPO's closed-form path) give
    forward's outputs and autograd's parameter gradients for any output gradients."""
    torch.manual_seed(0)
    m = Model((5,), 3, **{"hidden_sizes": (16, 16), **kwargs})
    assert m.supports_manual_gradients
    x = torch.randn(40, 5)
    *pi, value = m(x)
    pi_grads = tuple(torch.randn_like(p) for p in pi)
    g_value = torch.randn_like(value)
    torch.autograd.backward(tuple(pi) + (value,), pi_grads + (g_value,))
    reference = {n: p.grad.clone() for n, p in m.named_parameters()}
    for existing in (None, "stale", "flat"):
        if existing == "flat":  # written into the views of one buffer, which stay the gradients
            flat = FlatGradients(list(m.parameters()))
            flat.flat.fill_(7.0)
        for p in m.parameters():
            if existing == "stale":
                p.grad = torch.full_like(p, 7.0)  # overwritten, not accumulated
            elif existing is None:
                p.grad = None
        pi2, value2, saved = m.forward_saving(x)
        for a, b in zip(pi2, pi):
            torch.testing.assert_close(a, b.detach())
        torch.testing.assert_close(value2, value.detach())
        m.backward_from(saved, pi_grads, g_value)
        for n, p in m.named_parameters():
            torch.testing.assert_close(p.grad, reference[n], rtol=1e-5, atol=1e-6, msg=n)
        if existing == "flat":
            assert flat.intact()


def test_manual_gradients_only_for_fused_twin_trunks():
    """Shared trunks, wide policy heads (not fused) and other nonlinearities fall back to autograd."""
    assert not CategoricalPgMlpModel((5,), 3, shared=True).supports_manual_gradients
    assert not CategoricalPgMlpModel((5,), 64).supports_manual_gradients
    assert not CategoricalPgMlpModel((5,), 3, nonlinearity=torch.nn.ELU).supports_manual_gradients
    assert CategoricalPgMlpModel((5,), 3).supports_manual_gradients


@pytest.mark.parametrize("Model, kwargs", [
    (GaussianPgMlpModel, dict(observation_shape=(5,), action_size=3)),                    # fused twin heads
    (GaussianPgMlpModel, dict(observation_shape=(5,), action_size=3, shared=True)),       # shared trunk
    (CategoricalPgMlpModel, dict(observation_shape=(5,), action_size=40)),                # twin trunks, own heads
])
def test_ortho_init_false_is_torch_default_linear_init(Model, kwargs):
    torch.manual_seed(0)
    ortho = Model(**kwargs, hidden_sizes=(64, 64), nonlinearity=torch.nn.ReLU)
    torch.manual_seed(0)
    plain = Model(**kwargs, hidden_sizes=(64, 64), nonlinearity=torch.nn.ReLU, ortho_init=False)
    assert ortho.ortho_init and not plain.ortho_init
    obs = torch.randn(7, 5)
    assert not torch.allclose(ortho(obs)[0], plain(obs)[0])
    # default nn.Linear init: weights within +-1/sqrt(in) (Kaiming-uniform, a=sqrt(5)), non-zero biases
    # in the same range; the orthogonal policy head (gain 0.01) has zero biases.
    for (name, p), (_, q) in zip(plain.named_parameters(), ortho.named_parameters()):
        if name == "log_std":
            assert torch.equal(p, q)
            continue
        fan_in = p.shape[-2] if p.dim() == 3 and "weight" in name else None
        if name.endswith("weight") and p.dim() == 2:
            fan_in = p.shape[1]
        if fan_in is not None:
            nz = p[p != 0]  # (a fused last layer's padding columns stay zero)
            assert nz.abs().max() <= 1 / fan_in ** 0.5 + 1e-6
            assert nz.abs().max() > 0.5 / fan_in ** 0.5  # not the orthogonal 0.01-gain head nor zeros
    biases = [p for n, p in plain.named_parameters() if "bias" in n]
    assert all(torch.count_nonzero(b) > 0 for b in biases)
    assert all(torch.count_nonzero(b) == 0 for n, b in ortho.named_parameters() if "bias" in n)
    # the twin trunk's padding columns stay zero with the default init too
    if getattr(plain, "fused_heads", False):
        w, b = plain.trunk.weights[-1], plain.trunk.biases[-1]
        assert torch.count_nonzero(w[1][:, 1:]) == 0 and torch.count_nonzero(b[1][:, 1:]) == 0



def test_backward_from_reuses_its_output_gradient_buffer_across_batch_sizes():
    """backward_from keeps its [2, N, width] output-gradient buffer between calls (the value row's padding stays
    zero): batches of different sizes, one after the other, still give autograd's gradients."""
    torch.manual_seed(1)
    m = CategoricalPgMlpModel((5,), 3, hidden_sizes=(16, 16))
    for n in (40, 7, 40, 40):
        x = torch.randn(n, 5)
        logits, value = m(x)
        g_pi, g_v = torch.randn_like(logits), torch.randn_like(value)
        m.zero_grad(set_to_none=True)
        torch.autograd.backward((logits, value), (g_pi, g_v))
        reference = {k: p.grad.clone() for k, p in m.named_parameters()}
        (logits2,), value2, saved = m.forward_saving(x)
        m.backward_from(saved, (g_pi,), g_v)
        for k, p in m.named_parameters():
            torch.testing.assert_close(p.grad, reference[k], rtol=1e-5, atol=1e-6, msg=k)


def test_forward_saving_reuse_keeps_buffers_with_the_same_results():
    """TwinMlpModel.forward_saving(reuse=True) (PPO's closed-form steps) puts the hidden activations in buffers kept
    between calls: the same outputs and gradients as without, no new buffer on the next call of the same size,
    none kept through a copy or pickle, and made again after the model is cast (_apply)."""
    import copy
    import pickle

    torch.manual_seed(0)
    m = CategoricalPgMlpModel((5,), 3, hidden_sizes=(16, 16))
    x = torch.randn(40, 5)
    (pi_a,), v_a, saved_a = m.forward_saving_features(x)
    pi_g, v_g = torch.randn_like(pi_a), torch.randn_like(v_a)
    m.backward_from(saved_a, (pi_g,), v_g)
    grads = [p.grad.clone() for p in m.parameters()]
    (pi_b,), v_b, saved_b = m.forward_saving_features(x, reuse=True)
    assert torch.equal(pi_a, pi_b) and torch.equal(v_a, v_b)
    m.backward_from(saved_b, (pi_g,), v_g)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, m.parameters()))
    kept = dict(m.trunk._workspace)
    assert kept and any(saved_b[1] is t for t in kept.values())
    m.forward_saving_features(x, reuse=True)
    assert all(m.trunk._workspace[k] is t for k, t in kept.items())
    assert copy.deepcopy(m).trunk._workspace == {} and pickle.loads(pickle.dumps(m)).trunk._workspace == {}
    m.double()
    assert m.trunk._workspace == {}
    (pi_d,), _, _ = m.forward_saving_features(x.double(), reuse=True)
    assert pi_d.dtype == torch.float64 and all(t.dtype == torch.float64 for t in m.trunk._workspace.values())
