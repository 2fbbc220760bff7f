"""gymnasium registration of the placement env (runs on ``import rlframe.placement``).

Ids: ``rlframe/MacroPlacement-v0`` and, for gymnasium's ``"module:id"`` form,
``MacroPlacement-v0``; so all of these work::

    import rlframe.placement; gymnasium.make("rlframe/MacroPlacement-v0", design="ariane133")
    gymnasium.make("rlframe.placement:rlframe/MacroPlacement-v0", design="ariane133")
    gymnasium.make("rlframe.placement:MacroPlacement-v0", design="ariane133")

No ``max_episode_steps`` wrapper: an episode lasts one step per hard macro (the env truncates
by itself in ``infeasible_action="penalty"`` mode).
"""
from __future__ import annotations

import gymnasium as gym

ENV_ID = "rlframe/MacroPlacement-v0"
ENTRY_POINT = "rlframe.placement.env.env:MacroPlacementEnv"


def register_envs() -> None:
    """Register the ids (idempotent)."""
    for env_id in (ENV_ID, "MacroPlacement-v0"):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT)


register_envs()
