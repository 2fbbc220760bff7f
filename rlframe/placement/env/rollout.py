"""Run a trained agent through the placement env (one deterministic placement, e.g. to render or save it)."""
from __future__ import annotations

from typing import Any, Callable, Dict

import torch

from rlframe.core.namedarraytuple import map_leaves


def policy_placement(agent: Any, env: Any) -> Any:
    """One episode of ``agent`` (in whatever mode it is: ``eval_mode`` for its deterministic placement)
    in ``env`` (a ``GymEnv`` around the placement env); returns the final env info (costs)."""
    obs, action, reward = env.reset(), torch.zeros(1, dtype=torch.long), torch.zeros(1)
    while True:
        x = map_leaves(lambda a: torch.as_tensor(a)[None], obs)
        action = agent.step(x, action, reward).action
        obs, r, terminated, truncated, info = env.step(int(action[0]))
        reward = torch.tensor([float(r)])
        if terminated or truncated:
            return info


def rendering_env(env_kwargs: Dict[str, Any]) -> Any:
    """A ``GymEnv`` made with the training ``env_kwargs`` that renders RGB images."""
    from rlframe.envs.gym import GymEnv

    return GymEnv(**{**env_kwargs, "render_mode": "rgb_array"})


def layout_logger(env_kwargs: Dict[str, Any]) -> Callable:
    """A runner callback ``f(runner, itr, values)`` logging ``placement/layout`` at each log interval.

    Runners of the placement env already log that image through the env's metrics hook
    (:class:`rlframe.placement.env.metrics.PlacementEpisodeMetrics`); this callback is kept for code
    written before the hook, and for its ``callback.env`` (a rendering env to place with the final policy).
    """
    env = rendering_env(env_kwargs)

    def log_layout(runner, itr, values):
        runner.agent.eval_mode(itr)
        policy_placement(runner.agent, env)
        runner.logger.add_image("placement/layout", env.render(), step=runner.env_steps)

    log_layout.env = env
    return log_layout
