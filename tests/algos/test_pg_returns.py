import numpy as np
import pytest

from rlframe.algos.pg.returns import (discounted_returns, explained_variance, generalized_advantage_estimation,
                                      valid_from_done)


def naive_gae(r, v, bootstrap, term, trunc, timeout_value, gamma, lam):
    """Reference: A_t = sum_k (gamma*lam)^k delta_{t+k}, summed explicitly until the episode ends."""
    T, B = r.shape
    adv = np.zeros((T, B))
    for b in range(B):
        for t in range(T):
            total, coef = 0.0, 1.0
            for k in range(t, T):
                if term[k, b]:
                    nv = 0.0
                elif trunc[k, b]:
                    nv = timeout_value[k, b]
                else:
                    nv = v[k + 1, b] if k + 1 < T else bootstrap[b]
                total += coef * (r[k, b] + gamma * nv - v[k, b])
                if term[k, b] or trunc[k, b]:
                    break
                coef *= gamma * lam
            adv[t, b] = total
    return adv


def test_gae_hand_computed_example():
    # One env, 3 steps, no episode end: gamma 0.5, lambda 0.5.
    r = np.array([[1.0], [2.0], [3.0]])
    v = np.array([[0.5], [1.0], [2.0]])
    f = np.zeros((3, 1), bool)
    adv, ret = generalized_advantage_estimation(r, v, np.array([4.0]), f, f, np.zeros((3, 1)), 0.5, 0.5)
    d2 = 3 + 0.5 * 4 - 2      # 3.0
    d1 = 2 + 0.5 * 2 - 1      # 2.0
    d0 = 1 + 0.5 * 1 - 0.5    # 1.0
    a2 = d2
    a1 = d1 + 0.25 * a2       # 2.75
    a0 = d0 + 0.25 * a1       # 1.6875
    assert adv[:, 0] == pytest.approx([a0, a1, a2])
    assert ret[:, 0] == pytest.approx([a0 + 0.5, a1 + 1.0, a2 + 2.0])


def test_gae_matches_naive_reference_with_ends():
    rng = np.random.default_rng(0)
    T, B = 20, 6
    r = rng.normal(size=(T, B)).astype(np.float32)
    v = rng.normal(size=(T, B)).astype(np.float32)
    tv = rng.normal(size=(T, B)).astype(np.float32)
    boot = rng.normal(size=B).astype(np.float32)
    term = rng.random((T, B)) < 0.1
    trunc = rng.random((T, B)) < 0.1
    trunc[3, 0] = term[3, 0] = True  # both set: termination wins
    for gamma, lam in [(0.99, 0.95), (0.9, 1.0), (0.98, 0.0)]:
        adv, ret = generalized_advantage_estimation(r, v, boot[None], term, trunc, tv, gamma, lam)
        ref = naive_gae(r, v, boot, term, trunc, tv, gamma, lam)
        np.testing.assert_allclose(adv, ref, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ret, ref + v, rtol=1e-4, atol=1e-4)
        assert adv.dtype == np.float32


def test_truncation_bootstraps_true_final_value():
    # Constant reward 1, gamma 0.9, episodes truncated every 5 steps, V = 10 everywhere (the true value of
    # the never-ending task): every return target must be exactly 10, for any lambda.
    T, B, gamma = 12, 1, 0.9
    r = np.ones((T, B), np.float32)
    v = np.full((T, B), 10.0, np.float32)
    trunc = np.zeros((T, B), bool)
    trunc[[4, 9]] = True
    tv = np.where(trunc, 10.0, 0.0).astype(np.float32)
    term = np.zeros((T, B), bool)
    for lam in (0.0, 0.8, 1.0):
        adv, ret = generalized_advantage_estimation(r, v, np.array([10.0]), term, trunc, tv, gamma, lam)
        np.testing.assert_allclose(ret, 10.0, rtol=1e-6)
        np.testing.assert_allclose(adv, 0.0, atol=1e-5)
    # Treating the truncation as a termination (no timeout_value) is visibly wrong: 1 + 0.9 * 0 = 1 at t=4.
    _, wrong = generalized_advantage_estimation(r, v, np.array([10.0]), term, trunc, None, gamma, 0.0)
    assert wrong[4, 0] == pytest.approx(1.0)
    # Monte-Carlo returns (lambda 1, no baseline) inside the first 5-step episode: sum of gamma^k + gamma^(5-t)*10.
    mc = discounted_returns(r, np.array([10.0]), term, trunc, tv, gamma)
    for t in range(5):
        expected = sum(gamma ** k for k in range(5 - t)) + gamma ** (5 - t) * 10.0
        assert mc[t, 0] == pytest.approx(expected, rel=1e-6)
        assert expected == pytest.approx(10.0)


def test_valid_from_done_and_explained_variance():
    done = np.array([[0, 0], [1, 0], [1, 0], [0, 1]], bool)
    np.testing.assert_array_equal(valid_from_done(done), [[1, 1], [1, 1], [0, 1], [0, 1]])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == pytest.approx(1.0)
    assert explained_variance(np.zeros(4), y) == pytest.approx(1.0 - np.var(y) / np.var(y))
    assert np.isnan(explained_variance(y, np.ones(4)))
