"""The env contract every collector relies on.

An rlframe env (``GymEnv`` adapts any gymnasium env to it) has ``spaces`` (an :class:`EnvSpaces`),
``reset() -> observation``, ``step(action) -> EnvStep`` and ``close()``. Observations of Dict/Tuple
spaces are namedarraytuples. ``step`` never auto-resets: the observation in an ``EnvStep`` whose
``terminated`` or ``truncated`` is set is the true final observation (for bootstrapping on truncation);
collectors call ``reset()`` themselves.

An env contributes its own episode metrics and images to the logs through one hook,
:class:`EpisodeMetrics`, named in its ``metadata`` (see there).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Dict, Mapping, Optional, Sequence

EnvSpaces = namedtuple("EnvSpaces", ["observation", "action"])
EnvSpaces.__doc__ = "The gymnasium observation and action spaces of an env."

EnvStep = namedtuple("EnvStep", ["observation", "reward", "terminated", "truncated", "env_info"])
EnvStep.__doc__ = "One env transition; ``env_info`` is a namedtuple with fixed fields (see GymEnv)."


#: Key of a gymnasium env's ``metadata`` naming its :class:`EpisodeMetrics` (a class or ``"module:Class"``).
EPISODE_METRICS_KEY = "rlframe.episode_metrics"


class EpisodeMetrics:
    """The one hook through which an env contributes its own episode metrics to the logs.

    The runner logs, at every log interval, the generic statistics of the finished episodes
    (``rollout/return_mean``, and ``{group}/<field>`` = mean of each numeric field of the final env
    info, ``rlframe.logging.metrics.traj_stats``). An env that wants more names a subclass of this class
    in its gymnasium ``metadata[EPISODE_METRICS_KEY]`` (resolved by ``rlframe.envs.gym.episode_metrics_for``
    without making an env); the runner then hands it the episodes and the generic statistics
    (:meth:`scalars`: regroup, filter or add tags) and asks it for images at every log interval
    (:meth:`images`). The default keeps the generic statistics and adds no image.

    Args:
        env_kwargs: the keyword arguments the training envs are made with (e.g. to make a rendering env).
    """

    def __init__(self, env_kwargs: Optional[Mapping[str, Any]] = None):
        self.env_kwargs = dict(env_kwargs or {})

    def scalars(self, episodes: Sequence[Mapping[str, Any]], group: str,
                stats: Dict[str, float]) -> Dict[str, float]:
        """The scalars to log for ``episodes`` (dicts of TrajInfo fields) in tag group ``group``
        (``"rollout"`` or ``"eval"``), given the generic ``stats`` of the same episodes."""
        return stats

    def images(self, agent: Any, itr: int) -> Dict[str, Any]:
        """Images (``[H, W, 3]`` uint8 arrays) to log at the current log interval, by tag; ``agent`` is the
        agent being trained (whatever mode it is in; the runner sets its mode again before sampling)."""
        return {}

    def close(self) -> None:
        """Release whatever :meth:`images` made (envs); called once training ends."""
