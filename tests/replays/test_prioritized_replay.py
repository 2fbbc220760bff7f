"""PrioritizedReplayBuffer: sampling frequencies follow p^alpha, IS weights, priority upkeep."""
import math

import numpy as np
import pytest

from rlframe.replays import PrioritizedReplayBuffer
from tests.replays.replay_streams import BLANK, decode, examples, make_stream
from tests.replays.test_replay_base import check_batch


def chi2_quantile(df: int, z: float) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile at standard-normal quantile ``z``."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3


def filled(B=2, rows=21, n=1, alpha=0.6, seed=0, **kw):
    stream = make_stream(rows, B, p_term=0.0, p_trunc=0.0)
    replay = PrioritizedReplayBuffer(examples(), size=40 * B, B=B, n_step_return=n, alpha=alpha, seed=seed, **kw)
    replay.append_samples(stream.batch(0, rows))
    return replay, stream


@pytest.mark.parametrize("alpha", [0.6, 1.0])
def test_sampling_frequencies_follow_p_to_the_alpha(alpha):
    replay, _ = filled(alpha=alpha)
    lo, hi = replay.sampleable_range()
    cells = np.arange(lo * replay.B, hi * replay.B)  # flat indices of every sampleable cell
    raw = 0.5 + (cells % 7) * 1.3
    replay.update_batch_priorities(raw - replay.eps, idxs=cells)
    expected = raw ** alpha / (raw ** alpha).sum()
    counts = np.zeros(replay.size, np.int64)
    draws = 0
    for _ in range(100):
        batch = replay.sample_batch(500)
        np.add.at(counts, batch.idxs.numpy(), 1)
        draws += 500
    assert counts.sum() == counts[cells].sum()  # nothing outside the sampleable cells
    obs = counts[cells]
    chi2 = float((((obs - draws * expected) ** 2) / (draws * expected)).sum())
    df = cells.size - 1
    assert chi2 < chi2_quantile(df, 3.09)  # p = 0.001 critical value
    # the test can tell: the same counts are far from proportional-to-p (alpha ignored) when alpha != 1
    wrong = raw / raw.sum()
    chi2_wrong = float((((obs - draws * wrong) ** 2) / (draws * wrong)).sum())
    if alpha != 1.0:
        assert chi2_wrong > 10 * chi2_quantile(df, 3.09)


def test_importance_weights_and_beta():
    replay, _ = filled(alpha=0.7, beta=0.4)
    lo, hi = replay.sampleable_range()
    cells = np.arange(lo * replay.B, hi * replay.B)
    raw = 1.0 + cells.astype(float)
    replay.update_batch_priorities(raw, idxs=cells)
    p = ((raw + replay.eps) ** 0.7)
    for beta in (0.4, 1.0):
        replay.set_beta(beta)
        batch = replay.sample_batch(64)
        pi = p[batch.idxs.numpy() - cells[0]]
        np.testing.assert_allclose(batch.is_weights.numpy(), (pi / pi.min()) ** -beta, rtol=1e-5)
        assert batch.is_weights.max().item() == pytest.approx(1.0)


def test_update_uses_the_last_batch_and_tracks_the_max_priority():
    replay, _ = filled(alpha=1.0)
    batch = replay.sample_batch(8)
    replay.update_batch_priorities(np.full(8, 5.0))
    leaves = replay.tree.leaves
    np.testing.assert_allclose(leaves[batch.idxs.numpy()], 5.0 + replay.eps)
    assert replay.max_priority == pytest.approx(5.0 + replay.eps)


def test_new_rows_get_max_priority_and_unsampleable_cells_zero():
    B, T, n = 3, 6, 3
    stream = make_stream(200, B, seed=5, p_term=0.15, p_trunc=0.1, wait_reset_T=T)
    replay = PrioritizedReplayBuffer(examples(), size=20 * B, B=B, n_step_return=n, alpha=1.0, seed=0)
    replay.append_samples(stream.batch(0, T))
    replay.update_batch_priorities(np.full(4, 9.0), idxs=np.array([0, 1, 2, 3]))
    for i in range(1, 25):
        replay.append_samples(stream.batch(i * T, T))
        total = (i + 1) * T
        pri = replay.priorities()
        newest = np.arange(total - n, total) % replay.T
        assert (pri[newest] == 0).all()
        assert (pri[~replay.valid] == 0).all()
        lo, hi = replay.sampleable_range()
        fresh = np.arange(max(lo, total - T - n), hi) % replay.T
        assert np.allclose(pri[fresh][replay.valid[fresh]], replay.max_priority)
        batch = replay.sample_batch(128)
        assert (batch.agent_inputs.observation[:, 0] != BLANK).all()
        check_batch_weights = batch.is_weights.numpy()
        assert (check_batch_weights > 0).all() and (check_batch_weights <= 1).all()
        b = batch.idxs.numpy() % B
        tau = decode(batch.agent_inputs.observation.numpy(), b)
        assert (tau < total - n).all() and (tau >= total - replay.T).all()


def test_targets_are_the_base_replay_targets():
    B, T = 2, 5
    stream = make_stream(100, B, seed=9)
    replay = PrioritizedReplayBuffer(examples(), size=12 * B, B=B, discount=0.9, n_step_return=2, seed=0)
    for i in range(15):
        replay.append_samples(stream.batch(i * T, T))
        batch = replay.sample_batch(32)
        replay.update_batch_priorities(np.abs(batch.return_.numpy()))
        check_batch(batch._replace(is_weights=batch.is_weights * 0 + 1), stream, (i + 1) * T, replay.T, 2)


def test_state_dict_restores_priorities():
    replay, stream = filled(alpha=1.0)
    replay.sample_batch(8)
    replay.update_batch_priorities(np.arange(8.0))
    other = PrioritizedReplayBuffer(examples(), size=80, B=2, n_step_return=1, alpha=1.0)
    other.load_state_dict(replay.state_dict())
    expected = replay.priorities()
    expected[(replay.total - 1) % replay.T] = 0  # the newest row was cut
    np.testing.assert_array_equal(other.priorities(), expected)
    assert other.max_priority == replay.max_priority
