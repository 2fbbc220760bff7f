import math

import pytest
import torch

from rlframe.distributions import (MASK_VALUE, Categorical, DistInfo, DistInfoStd, EpsilonGreedy, Gaussian,
                                   mask_logits, valid_mean)


def test_categorical_matches_torch():
    torch.manual_seed(0)
    logits = torch.randn(5, 3, 4)
    d = Categorical(4)
    info = DistInfo(logits)
    ref = torch.distributions.Categorical(logits=logits)
    x = d.sample(info)
    assert x.shape == (5, 3) and x.dtype == torch.long
    assert torch.allclose(d.log_likelihood(x, info), ref.log_prob(x), atol=1e-6)
    assert torch.allclose(d.entropy(info), ref.entropy(), atol=1e-6)
    other = DistInfo(torch.randn(5, 3, 4))
    ref_kl = torch.distributions.kl_divergence(ref, torch.distributions.Categorical(logits=other.logits))
    assert torch.allclose(d.kl(info, other), ref_kl, atol=1e-6)
    assert torch.equal(d.mode(info), logits.argmax(-1))
    assert torch.allclose(d.likelihood_ratio(x, info, info), torch.ones(5, 3))


def test_masked_categorical_never_samples_masked_actions():
    torch.manual_seed(1)
    n = 6
    logits = torch.randn(1000, n) * 3
    mask = torch.rand(1000, n) > 0.5
    mask[:, 0] |= ~mask.any(-1)  # at least one feasible action per row
    d = Categorical(n)
    info = DistInfo(mask_logits(logits, mask))
    for _ in range(5):
        x = d.sample(info)
        assert mask.gather(-1, x.unsqueeze(-1)).all()
    assert mask.gather(-1, d.mode(info).unsqueeze(-1)).all()
    # Entropy / KL equal those of the renormalised distribution over feasible actions, and are finite.
    ent = d.entropy(info)
    assert torch.isfinite(ent).all()
    row = 3
    feas = logits[row][mask[row]]
    assert ent[row].item() == pytest.approx(torch.distributions.Categorical(logits=feas).entropy().item(), abs=1e-5)
    info2 = DistInfo(mask_logits(torch.randn(1000, n), mask))
    kl = d.kl(info, info2)
    assert torch.isfinite(kl).all() and (kl > -1e-6).all()
    # A single feasible action: zero entropy, log-likelihood 0.
    one = torch.zeros(1, n, dtype=torch.bool)
    one[0, 2] = True
    single = DistInfo(mask_logits(torch.randn(1, n), one))
    assert d.entropy(single).item() == pytest.approx(0.0, abs=1e-6)
    assert d.sample(single).item() == 2
    assert d.log_likelihood(torch.tensor([2]), single).item() == pytest.approx(0.0, abs=1e-6)


def test_mask_logits_accepts_numeric_masks():
    logits = torch.zeros(2, 3)
    m = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.int8)
    out = mask_logits(logits, m)
    assert out[0, 1] == MASK_VALUE and out[1, 2] == 0
    assert mask_logits(logits, None) is logits


def test_gaussian_matches_torch():
    torch.manual_seed(0)
    mean, log_std = torch.randn(7, 3), torch.randn(3) * 0.3
    info = DistInfoStd(mean, log_std.expand(7, 3))
    d = Gaussian(3)
    ref = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp().expand(7, 3)), 1)
    x = d.sample(info)
    assert x.shape == (7, 3)
    assert torch.allclose(d.log_likelihood(x, info), ref.log_prob(x), atol=1e-5)
    assert torch.allclose(d.entropy(info), ref.entropy(), atol=1e-5)
    other = DistInfoStd(torch.randn(7, 3), torch.randn(7, 3) * 0.3)
    ref2 = torch.distributions.Independent(torch.distributions.Normal(other.mean, other.log_std.exp()), 1)
    assert torch.allclose(d.kl(info, other), torch.distributions.kl_divergence(ref, ref2), atol=1e-4)
    assert torch.equal(d.mode(info), mean)


def test_gaussian_std_clamp_and_sample_statistics():
    torch.manual_seed(0)
    d = Gaussian(1, min_std=0.5)
    info = DistInfoStd(torch.full((20000, 1), 2.0), torch.full((20000, 1), math.log(0.01)))
    x = d.sample(info)
    assert x.mean().item() == pytest.approx(2.0, abs=0.02)
    assert x.std().item() == pytest.approx(0.5, abs=0.02)


def test_epsilon_greedy():
    torch.manual_seed(0)
    q = torch.tensor([[0.0, 1.0, 0.5]]).repeat(4000, 1)
    d = EpsilonGreedy(3, epsilon=0.0)
    assert (d.sample(q) == 1).all()
    d.set_epsilon(1.0)
    counts = torch.bincount(d.sample(q), minlength=3).float() / 4000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)
    mask = torch.tensor([[True, False, True]]).repeat(4000, 1)
    assert (d.sample(q, mask) != 1).all()
    assert (d.mode(q, mask) == 2).all()
    d.set_epsilon(torch.tensor([0.0, 1.0]).repeat(2000))  # per-env epsilons
    x = d.sample(q)
    assert (x[0::2] == 1).all()


def test_valid_mean():
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    assert valid_mean(x, torch.tensor([1, 1, 1, 0])).item() == pytest.approx(2.0)
    assert valid_mean(x).item() == pytest.approx(26.5)
