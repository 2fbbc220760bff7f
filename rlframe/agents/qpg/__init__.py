"""Q-value policy-gradient agents: DDPG, TD3, SAC (actor, fused critics, target networks)."""
from rlframe.agents.qpg.base import BoxActionScaler, QpgAgentBase
from rlframe.agents.qpg.ddpg import DdpgAgent, Td3Agent
from rlframe.agents.qpg.sac import SacAgent

__all__ = ["BoxActionScaler", "QpgAgentBase", "DdpgAgent", "Td3Agent", "SacAgent"]
