"""TanhGaussian: the log-prob correction against a numerical density, sampling, mode, stability."""
import math

import torch

from rlframe.distributions import DistInfoStd, TanhGaussian
from rlframe.distributions.tanh_gaussian import log_tanh_jacobian


def test_log_likelihood_matches_numerical_density_1d():
    # P(a <= x) = Phi((atanh(x) - mu) / sigma); its numerical derivative is the density of a = tanh(u).
    mu, sigma = 0.3, 0.8
    dist = TanhGaussian(1)
    info = DistInfoStd(mean=torch.tensor([[mu]], dtype=torch.float64),
                       log_std=torch.tensor([[math.log(sigma)]], dtype=torch.float64))
    normal = torch.distributions.Normal(torch.tensor(mu, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64))
    for x in (-0.95, -0.5, 0.0, 0.4, 0.9, 0.99):
        h = 1e-6
        cdf = lambda v: normal.cdf(torch.atanh(torch.tensor(v, dtype=torch.float64)))  # noqa: E731
        numeric = (cdf(x + h) - cdf(x - h)) / (2 * h)
        logp = dist.log_likelihood(torch.tensor([[x]], dtype=torch.float64), info)
        assert torch.allclose(logp.exp(), numeric, rtol=1e-5), (x, float(logp.exp()), float(numeric))


def test_sample_loglikelihood_agrees_with_log_likelihood_and_sums_dims():
    torch.manual_seed(0)
    dist = TanhGaussian(3)
    info = DistInfoStd(mean=torch.randn(64, 3, dtype=torch.float64), log_std=torch.randn(64, 3, dtype=torch.float64) * 0.3)
    a, logp = dist.sample_loglikelihood(info)
    assert a.shape == (64, 3) and logp.shape == (64,)
    assert a.abs().max() < 1
    assert torch.allclose(logp, dist.log_likelihood(a, info), atol=1e-6)


def test_reparameterised_gradients_flow_to_mean_and_log_std():
    mean = torch.zeros(8, 2, requires_grad=True)
    log_std = torch.zeros(8, 2, requires_grad=True)
    a, logp = TanhGaussian(2).sample_loglikelihood(DistInfoStd(mean, log_std))
    (a.sum() + logp.sum()).backward()
    assert mean.grad.abs().sum() > 0 and log_std.grad.abs().sum() > 0


def test_jacobian_term_is_stable_where_tanh_saturates():
    u = torch.tensor([-30.0, -5.0, 0.0, 5.0, 30.0])
    got = log_tanh_jacobian(u)
    assert torch.isfinite(got).all()
    assert torch.allclose(got[1:4], torch.log(1 - torch.tanh(u[1:4]) ** 2), atol=1e-4)
    # log(1 - tanh(u)^2) ~ log 4 - 2|u| for large |u|
    assert torch.allclose(got[[0, 4]], torch.tensor([math.log(4) - 60.0] * 2), atol=1e-4)


def test_mode_is_tanh_of_mean_and_samples_concentrate_there():
    torch.manual_seed(1)
    info = DistInfoStd(mean=torch.full((4000, 1), 0.7), log_std=torch.full((4000, 1), math.log(0.01)))
    dist = TanhGaussian(1)
    assert torch.allclose(dist.mode(info), torch.tanh(torch.tensor(0.7)).expand(4000, 1))
    assert abs(float(dist.sample(info).mean()) - math.tanh(0.7)) < 1e-3
