"""Run a trained agent through the placement env, and log its layout to TensorBoard."""
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


def layout_logger(env_kwargs: Dict[str, Any]) -> Callable:
    """A runner callback ``f(runner, itr, values)``: at each log interval, one deterministic episode of
    the agent in its own rendering env, logged as the image ``placement/layout`` at the env-step count.
    The env is ``callback.env`` (reuse it to place with the final policy)."""
    from rlframe.envs.gym import GymEnv

    env = GymEnv(**env_kwargs, render_mode="rgb_array")

    def log_layout(runner, itr, values):
        runner.agent.eval_mode(itr)
        policy_placement(runner.agent, env)
        runner.logger.add_image("placement/layout", env.render(), step=runner.env_steps)

    log_layout.env = env
    return log_layout
