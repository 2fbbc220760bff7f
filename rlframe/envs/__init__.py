"""Environments: the env contract (``base``), the gymnasium adapter (``GymEnv``), placement/."""
from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.envs.gym import EnvInfoConverter, GymEnv

__all__ = ["EnvSpaces", "EnvStep", "GymEnv", "EnvInfoConverter"]
