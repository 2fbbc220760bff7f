"""The placement env's episode metrics: its cost terms under ``placement/`` and its layout as an image.

The env names :class:`PlacementEpisodeMetrics` in its ``metadata`` (``rlframe.envs.base.EpisodeMetrics``,
the hook every env can use), so any run of ``rlframe/MacroPlacement-v0`` logs, at every log interval
(docs/metrics.md, "placement/"):

* ``placement/<cost>`` for training episodes and ``eval/<cost>`` for evaluation episodes, the mean over the
  episodes that placed every macro only (an episode that ends early reports its costs as 0, and averaging
  those zeros in would make a failing policy look better); NaN (not logged) when none did;
* ``placement/layout``: the rendered placement of one deterministic episode of the agent.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from rlframe.envs.base import EpisodeMetrics
from rlframe.logging.metrics import mean_finite
from rlframe.placement.cost import term_fields

#: The env's final-info fields that are placement costs: the proxy cost, every registered cost term
#: (rlframe/placement/cost.py) and the HPWL.
COST_FIELDS = ("proxy_cost", *term_fields(), "hpwl")


def complete_episode(episode: Mapping[str, Any]) -> bool:
    """Whether an episode placed every macro (no dead end, no infeasible action, no time limit)."""
    return not (episode.get("dead_end") or episode.get("infeasible_action") or episode.get("Truncated"))


class PlacementEpisodeMetrics(EpisodeMetrics):
    """Cost terms of complete episodes under ``placement/`` (training) or ``eval/``, and the layout image."""

    def __init__(self, env_kwargs: Optional[Mapping[str, Any]] = None):
        super().__init__(env_kwargs)
        self._render_env = None

    def scalars(self, episodes: Sequence[Mapping[str, Any]], group: str,
                stats: Dict[str, float]) -> Dict[str, float]:
        out = {k: v for k, v in stats.items() if k.split("/", 1)[-1] not in COST_FIELDS}
        complete = [e for e in episodes if complete_episode(e)]
        tag_group = "placement" if group == "rollout" else group
        for name in COST_FIELDS:
            if any(name in e for e in episodes):
                out[f"{tag_group}/{name}"] = mean_finite([e[name] for e in complete if name in e])
        return out

    def images(self, agent: Any, itr: int) -> Dict[str, Any]:
        from rlframe.placement.env.rollout import policy_placement, rendering_env

        if self._render_env is None:
            self._render_env = rendering_env(self.env_kwargs)
        agent.eval_mode(itr)
        policy_placement(agent, self._render_env)
        return {"placement/layout": self._render_env.render()}

    def close(self) -> None:
        if self._render_env is not None:
            self._render_env.close()
            self._render_env = None
