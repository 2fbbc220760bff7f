"""Placement cost tags average only the episodes that placed every macro."""
import math

from rlframe.logging.metrics import traj_stats


def test_placement_costs_skip_incomplete_episodes():
    done = dict(Return=-0.8, Length=10, proxy_cost=0.8, hpwl=100.0, dead_end=0.0, placed=10.0)
    dead = dict(Return=-2.0, Length=4, proxy_cost=0.0, hpwl=0.0, dead_end=1.0, placed=4.0)
    out = traj_stats([done, dead], "rollout")
    assert out["placement/proxy_cost"] == 0.8 and out["placement/hpwl"] == 100.0
    assert out["rollout/placed"] == 7.0 and out["rollout/dead_end"] == 0.5  # other fields: every episode
    assert out["rollout/return_mean"] == -1.4
    assert traj_stats([dict(done, proxy_cost=0.6)], "eval")["eval/proxy_cost"] == 0.6
    assert math.isnan(traj_stats([dead], "rollout")["placement/proxy_cost"])  # nothing complete: NaN (not logged)
