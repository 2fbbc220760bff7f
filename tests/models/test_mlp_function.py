"""rlframe/models/mlp_function.py: the MLP as one autograd node gives autograd's gradients (fp32: to float
rounding; bf16 hidden matmuls: close), only the gradients that are needed, and the models' ``compute_dtype``
knob routes through it."""
import pytest
import torch
from torch import nn

from rlframe.models.mlp import MlpModel
from rlframe.models.mlp_function import mlp_forward
from rlframe.models.qpg import MuMlpModel, PiMlpModel, QMlpModel


def _reference(x, params, activation):
    """The same MLP layer by layer under autograd (either weight layout)."""
    h = x
    n = len(params) // 2
    for i in range(n):
        w, b = params[2 * i], params[2 * i + 1]
        h = torch.baddbmm(b, h, w) if w.dim() == 3 else torch.addmm(b, h, w.t())
        if i < n - 1:
            h = torch.relu(h) if activation == "relu" else torch.tanh(h)
    return h


def _stacked_params(k=2, sizes=(5, 8, 6, 3)):
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        params += [torch.randn(k, i, o, dtype=torch.float64) / i ** 0.5, torch.randn(k, 1, o, dtype=torch.float64)]
    return [p.requires_grad_() for p in params]


def _linear_params(sizes=(5, 8, 6, 3)):
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        params += [torch.randn(o, i, dtype=torch.float64) / i ** 0.5, torch.randn(o, dtype=torch.float64)]
    return [p.requires_grad_() for p in params]


def _grads(fn, x, params):
    out = fn(x, params)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    tensors = [t for t in [x] + params if t.requires_grad]
    return out.detach(), torch.autograd.grad((out * weights).sum(), tensors, allow_unused=True)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("layout", ["stacked", "linear"])
def test_gradients_match_autograd(activation, layout):
    torch.manual_seed(0)
    params = _stacked_params() if layout == "stacked" else _linear_params()
    x = torch.randn(*((2,) if layout == "stacked" else ()), 7, 5, dtype=torch.float64, requires_grad=True)
    out_ref, g_ref = _grads(lambda x, p: _reference(x, p, activation), x, params)
    out, g = _grads(lambda x, p: mlp_forward(x, p, activation), x, params)
    torch.testing.assert_close(out, out_ref)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)
    # gradcheck: the written-out backward is the derivative of the forward
    assert torch.autograd.gradcheck(lambda x, *p: mlp_forward(x, list(p), activation), (x, *params))


def test_expanded_input_and_detached_weights_get_what_they_need():
    """The critics in an actor loss: input [k, N, in] expanded from [N, in], weights detached; only the
    input gets a gradient (summed over the critics by the expand), equal to autograd's."""
    torch.manual_seed(1)
    params = _stacked_params()
    x0 = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    detached = [p.detach() for p in params]
    out = mlp_forward(x0.unsqueeze(0).expand(2, 7, 5), detached, "relu")
    (g,) = torch.autograd.grad(out.sum(), x0)
    (g_ref,) = torch.autograd.grad(_reference(x0.unsqueeze(0).expand(2, 7, 5), detached, "relu").sum(), x0)
    torch.testing.assert_close(g, g_ref)
    # no input gradient wanted, first layer frozen: the others still get theirs
    params[0].requires_grad_(False)
    params[1].requires_grad_(False)
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    out = mlp_forward(x, params, "relu")
    out.sum().backward()
    assert params[0].grad is None and params[1].grad is None
    assert all(p.grad is not None for p in params[2:])


def test_no_graph_without_gradients():
    params = _stacked_params()
    with torch.no_grad():
        out = mlp_forward(torch.randn(2, 7, 5, dtype=torch.float64), params, "tanh")
    assert out.grad_fn is None and out.shape == (2, 7, 3)
    with pytest.raises(ValueError, match="activation"):
        mlp_forward(torch.randn(2, 7, 5), params, "gelu")


@pytest.mark.parametrize("layout", ["stacked", "linear"])
def test_bf16_hidden_layers_close_to_fp32_with_fp32_outputs_and_gradients(layout):
    torch.manual_seed(2)
    params = [p.detach().float().requires_grad_() for p in (_stacked_params() if layout == "stacked"
                                                             else _linear_params())]
    x = torch.randn(*((2,) if layout == "stacked" else ()), 64, 5)
    # tanh: smooth, so rounding moves gradients a little (a ReLU may flip a unit's mask for a sample instead)
    out_ref, g_ref = _grads(lambda x, p: _reference(x, p, "tanh"), x, params)
    out, g = _grads(lambda x, p: mlp_forward(x, p, "tanh", torch.bfloat16), x, params)
    assert out.dtype == torch.float32 and all(t.dtype == torch.float32 for t in g)
    scale = out_ref.abs().max()
    assert (out - out_ref).abs().max() < 0.03 * scale
    for a, b in zip(g, g_ref):
        assert torch.linalg.vector_norm(a - b) < 0.03 * torch.linalg.vector_norm(b)


def test_models_compute_dtype_knob():
    """None (default) keeps the layer-by-layer autograd path; bfloat16 routes through mlp_forward, with fp32
    outputs close to the fp32 model's and fp32 gradients on the fp32 weights."""
    torch.manual_seed(3)
    obs, act = torch.randn(32, 3), torch.rand(32, 1) * 2 - 1
    for Model, call in ((QMlpModel, lambda m: m(obs, act)), (MuMlpModel, lambda m: m(obs)),
                        (PiMlpModel, lambda m: m(obs)[0])):
        fp32 = Model((3,), 1, hidden_sizes=(64, 64))
        mixed = Model((3,), 1, hidden_sizes=(64, 64), compute_dtype=torch.bfloat16)
        mixed.load_state_dict(fp32.state_dict())
        ref, out = call(fp32), call(mixed)
        assert "MlpFunction" not in type(ref.grad_fn).__name__
        assert out.dtype == torch.float32
        assert (out - ref).abs().max() < 0.03 * ref.abs().max() + 1e-3, Model.__name__
        out.sum().backward()
        assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in mixed.parameters())
    # an MLP it cannot write out (no output layer / other nonlinearity) keeps its plain layers
    plain = MlpModel(3, (8,), None, nn.ReLU, compute_dtype=torch.bfloat16)
    assert plain(torch.randn(4, 3)).dtype == torch.float32
