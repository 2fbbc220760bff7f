"""The placement env's episode-metrics hook: cost tags of complete episodes, the layout image, resolution."""
import math

import numpy as np

from rlframe.envs.gym import GymEnv, episode_metrics_for
from rlframe.logging.metrics import traj_stats
from rlframe.placement.env.metrics import PlacementEpisodeMetrics
from rlframe.samplers.base import TrajInfo


def test_placement_costs_skip_incomplete_episodes():
    hook = PlacementEpisodeMetrics()
    done = dict(Return=-0.8, Length=10, proxy_cost=0.8, hpwl=100.0, dead_end=0.0, placed=10.0)
    dead = dict(Return=-2.0, Length=4, proxy_cost=0.0, hpwl=0.0, dead_end=1.0, placed=4.0)
    out = traj_stats([done, dead], "rollout", hook)
    assert out["placement/proxy_cost"] == 0.8 and out["placement/hpwl"] == 100.0
    assert "rollout/proxy_cost" not in out and "rollout/hpwl" not in out
    assert out["rollout/placed"] == 7.0 and out["rollout/dead_end"] == 0.5  # other fields: every episode
    assert out["rollout/return_mean"] == -1.4
    assert traj_stats([dict(done, proxy_cost=0.6)], "eval", hook)["eval/proxy_cost"] == 0.6
    assert math.isnan(traj_stats([dead], "rollout", hook)["placement/proxy_cost"])  # nothing complete: NaN


def test_trajinfo_objects_map_to_placement_tags():
    t1, t2 = TrajInfo(), TrajInfo()
    t1.Return, t1.Length, t1.proxy_cost, t1.hpwl, t1.other = 1.0, 10, 0.8, 5.0, 1.0
    t2.Return, t2.Length, t2.proxy_cost, t2.hpwl, t2.other = 3.0, 20, 1.0, 7.0, 3.0
    s = traj_stats([t1, t2], "rollout", PlacementEpisodeMetrics())
    assert abs(s["placement/proxy_cost"] - 0.9) < 1e-12 and s["placement/hpwl"] == 6.0
    assert s["rollout/other"] == 2.0


def test_env_names_its_hook_and_hook_renders_layout():
    kwargs = dict(id="rlframe/MacroPlacement-v0", design="macro_tiles_10x10")
    hook = episode_metrics_for(GymEnv, kwargs)
    assert isinstance(hook, PlacementEpisodeMetrics) and hook.env_kwargs == kwargs

    class FirstFeasible:  # an agent placing every macro on its first feasible cell
        def eval_mode(self, itr):
            self.itr = itr

        def step(self, obs, prev_action, prev_reward):
            import torch
            from collections import namedtuple
            a = int(np.flatnonzero(np.asarray(obs.action_mask[0]))[0])
            return namedtuple("A", "action")(torch.tensor([a]))

    images = hook.images(FirstFeasible(), 3)
    img = images["placement/layout"]
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    hook.close()
