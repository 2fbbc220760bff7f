"""The placement env (``rlframe/MacroPlacement-v0``), its observations, its registration and policy rollouts."""
from rlframe.placement.env.env import InfeasibleActionError, MacroPlacementEnv
from rlframe.placement.env.observations import GraphObservation, ImageObservation
from rlframe.placement.env.registration import ENTRY_POINT, ENV_ID, register_envs

__all__ = ["MacroPlacementEnv", "InfeasibleActionError", "GraphObservation", "ImageObservation",
           "ENTRY_POINT", "ENV_ID", "register_envs"]
