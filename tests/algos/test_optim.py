"""rlframe/algos/optim.py: FastAdam takes torch.optim.Adam's steps, also across a state_dict round trip."""
import io

import torch

from rlframe.algos.optim import FastAdam, clip_grad_norm


def test_fast_adam_equals_adam_across_a_state_dict_roundtrip():
    torch.manual_seed(0)
    ref = [torch.nn.Parameter(torch.randn(3, 4)) for _ in range(3)]
    fast = [torch.nn.Parameter(p.detach().clone()) for p in ref]
    opt_ref, opt_fast = torch.optim.Adam(ref, lr=1e-2, eps=1e-5), FastAdam(fast, lr=1e-2, eps=1e-5)
    for i in range(6):
        for p, q in zip(ref, fast):
            p.grad = torch.randn(3, 4)
            q.grad = p.grad.clone()
        opt_ref.step()
        opt_fast.step()
        if i == 3:  # a checkpoint and resume in the middle
            buf = io.BytesIO()
            torch.save(opt_fast.state_dict(), buf)
            buf.seek(0)
            opt_fast.load_state_dict(torch.load(buf))
    for p, q in zip(ref, fast):
        torch.testing.assert_close(q, p, rtol=0, atol=1e-7)
        assert float(opt_fast.state[q]["step"]) == float(opt_ref.state[p]["step"]) == 6.0


def test_clip_grad_norm_equals_torch():
    torch.manual_seed(1)
    a = [torch.nn.Parameter(torch.randn(5)) for _ in range(2)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b):
        p.grad = torch.randn(5) * 3
        q.grad = p.grad.clone()
    norm = clip_grad_norm(a, 0.5)
    ref = torch.nn.utils.clip_grad_norm_(b, 0.5)
    torch.testing.assert_close(norm, ref)
    for p, q in zip(a, b):
        torch.testing.assert_close(p.grad, q.grad)


def test_flat_gradients_clip_equals_per_tensor_clip_and_falls_back_when_a_grad_is_replaced():
    from rlframe.algos.optim import FlatGradients

    torch.manual_seed(2)
    a = [torch.nn.Parameter(torch.randn(s)) for s in ((3, 4), (4,), (2, 1, 5))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    flat = FlatGradients(a)
    assert flat.intact() and all(p.grad.data_ptr() == v.data_ptr() for p, v in zip(a, flat.views))
    for round_ in range(2):
        for p, q in zip(a, b):
            q.grad = torch.randn_like(q) * 3
            p.grad.copy_(q.grad)  # written in place: stays in the buffer
        assert flat.intact()
        scale = 0.5 if round_ == 0 else 1e3  # clipped, then under the limit
        norm = clip_grad_norm(a, scale, flat)
        ref = clip_grad_norm(b, scale)  # the per-tensor path: the same bits
        assert torch.equal(norm, ref)
        for p, q in zip(a, b):
            assert torch.equal(p.grad, q.grad)
        torch.testing.assert_close(norm, torch.linalg.vector_norm(torch.cat([q.grad.flatten() for q in b]))
                                   if round_ else norm)
    a[1].grad = torch.ones(4)  # replaced: the per-tensor path, same answer
    b[1].grad = torch.ones(4)
    assert not flat.intact()
    torch.testing.assert_close(clip_grad_norm(a, 0.5, flat), torch.nn.utils.clip_grad_norm_(b, 0.5))
    flat.attach()
    assert flat.intact()
    assert FlatGradients.maybe([]) is None
    mixed = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2).double())]
    assert FlatGradients.maybe(mixed) is None


def test_fast_adam_runs_step_hooks_and_shows_in_the_profiler():
    """FastAdam's step skips torch's step wrapper only while it has nothing to do: hooks and profiling still work."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.manual_seed(3)
    ref = [torch.nn.Parameter(torch.randn(4))]
    fast = [torch.nn.Parameter(ref[0].detach().clone())]
    opt_ref, opt_fast = torch.optim.Adam(ref, lr=1e-2), FastAdam(fast, lr=1e-2)
    calls = []
    opt_fast.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    opt_fast.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: calls.append("global"))
    try:
        for _ in range(3):
            ref[0].grad = torch.randn(4)
            fast[0].grad = ref[0].grad.clone()
            opt_ref.step()
            opt_fast.step()
    finally:
        handle.remove()
    torch.testing.assert_close(fast[0].detach(), ref[0].detach(), rtol=0, atol=1e-7)
    assert calls.count("pre") == calls.count("post") >= 3 and calls.count("global") >= 3
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fast[0].grad = torch.randn(4)
        opt_fast.step()
    assert any(e.name == "Optimizer.step#FastAdam.step" for e in prof.events())
    assert FastAdam.step.hooked and not hasattr(FastAdam.step, "__wrapped__")  # not wrapped a second time


def test_clip_coefficient_in_python_equals_the_float32_tensor_expression():
    from rlframe.algos.optim import _clip_coefficient

    torch.manual_seed(4)
    norms = torch.cat([torch.rand(3000) * 3, torch.rand(1000) * 1e-3, torch.rand(1000) * 1e4,
                       torch.rand(1000) * 0.01 + 0.495, torch.tensor([0.0, 0.5, 1e-6, 1e30])])
    for max_norm in (0.5, 0.7, 10.0, 1e-3):
        ref = (norms + 1e-6).reciprocal_().mul_(max_norm).clamp_(max=1.0)
        got = torch.tensor([_clip_coefficient(n, max_norm) for n in norms.tolist()])
        assert torch.equal(got, ref), max_norm
