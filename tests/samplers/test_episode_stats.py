"""EpisodeStats (rlframe.samplers.base) gives exactly what TrajInfo.step gives env by env, whatever the mix of
discounts, carried sums and episode ends (the batched collector relies on it)."""
import numpy as np
import pytest

from rlframe.samplers.base import EpisodeStats, TrajInfo


@pytest.mark.parametrize("carried", [False, True])
@pytest.mark.parametrize("discounts", [(1.0, 1.0, 1.0), (0.9, 1.0, 0.99), (1.0, 1.0, 0.5)])
def test_same_figures_as_trajinfo_step(discounts, carried):
    rng = np.random.default_rng(0)
    B = len(discounts)
    ref = [TrajInfo(discount=d) for d in discounts]
    ours = [TrajInfo(discount=d) for d in discounts]
    # a carried episode whose DiscountedReturn already differs from its Return (e.g. from a previous batch)
    for trajs in (ref, ours) if carried else ():
        trajs[1].Return, trajs[1].DiscountedReturn, trajs[1].Length = 3.25, 1.5, 7
    stats = EpisodeStats(ours)
    for t in range(200):
        rewards = rng.choice([0.0, 1.0, -0.3, 0.1], size=B).astype(np.float32)
        stats.step(rewards)
        for b in range(B):
            ref[b].step(None, 0, rewards[b], False, False, None, None)
        for b in np.flatnonzero(rng.random(B) < 0.05):  # episode ends: store, compare, start a fresh one
            stats.store(b, ours[b])
            assert vars(ours[b]) == vars(ref[b])
            ref[b], ours[b] = TrajInfo(discount=discounts[b]), TrajInfo(discount=discounts[b])
            stats.load(b, ours[b])
    for b in range(B):
        stats.store(b, ours[b])
        assert vars(ours[b]) == vars(ref[b])
