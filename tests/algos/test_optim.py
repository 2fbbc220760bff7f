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
