"""Environments: the env contract and the episode-metrics hook (``base``), the gymnasium adapter (``GymEnv``)."""
from rlframe.envs.base import EPISODE_METRICS_KEY, EnvSpaces, EnvStep, EpisodeMetrics
from rlframe.envs.gym import EnvInfoConverter, GymEnv, episode_metrics_for

__all__ = ["EnvSpaces", "EnvStep", "GymEnv", "EnvInfoConverter", "EpisodeMetrics", "EPISODE_METRICS_KEY",
           "episode_metrics_for"]
