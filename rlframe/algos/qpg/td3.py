"""TD3: Twin Delayed DDPG (Fujimoto, van Hoof and Meger 2018, "Addressing Function Approximation Error in
Actor-Critic Methods"): DDPG with clipped double-Q targets from twin critics, target policy smoothing and
delayed actor and target updates. The update itself is :class:`rlframe.algos.qpg.ddpg.DDPG`'s; this class
sets TD3's defaults (SB3's: ``policy_delay=2``, ``target_noise=0.2``, ``target_noise_clip=0.5``) and checks
that the agent has the twin critics and the smoothing it needs (:class:`rlframe.agents.qpg.Td3Agent`).
"""
from __future__ import annotations

from typing import Any, Optional

from rlframe.algos.qpg.ddpg import DDPG
from rlframe.errors import ConfigError


class TD3(DDPG):
    """:class:`~rlframe.algos.qpg.ddpg.DDPG` with TD3's defaults; see there for the arguments."""

    def __init__(self, discount: float = 0.99, batch_size: int = 256, replay_size: int = 1_000_000,
                 min_steps_learn: int = 100, replay_ratio: float = 1.0, target_update_tau: float = 0.005,
                 learning_rate: float = 1e-3, q_learning_rate: Optional[float] = None, policy_delay: int = 2,
                 target_noise: float = 0.2, target_noise_clip: float = 0.5, random_steps: Optional[int] = None,
                 **kwargs: Any):
        super().__init__(discount=discount, batch_size=batch_size, replay_size=replay_size,
                         min_steps_learn=min_steps_learn, replay_ratio=replay_ratio,
                         target_update_tau=target_update_tau, learning_rate=learning_rate,
                         q_learning_rate=q_learning_rate, policy_delay=policy_delay, target_noise=target_noise,
                         target_noise_clip=target_noise_clip, random_steps=random_steps, **kwargs)

    def build_optimizers(self) -> None:
        n = getattr(self.agent.q_model, "n_critics", None)
        if n is not None and n < 2:
            raise ConfigError(f"TD3 needs twin critics, the agent's q_model has {n}: use Td3Agent (n_critics=2), "
                              "or DDPG for a single critic.")
        if self.target_noise > 0 and not callable(getattr(self.agent, "target_action", None)):
            raise ConfigError(f"TD3's target policy smoothing needs Td3Agent.target_action; got "
                              f"{type(self.agent).__name__}. Use Td3Agent, or target_noise=0.")
        super().build_optimizers()
