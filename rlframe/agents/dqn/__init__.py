"""Value-based agents: epsilon-greedy DQN (with a target network), C51 and R2D1 (recurrent)."""
from rlframe.agents.dqn.cat_dqn import CatDqnAgent
from rlframe.agents.dqn.dqn import DqnAgent, DqnAgentInfo, linear_schedule
from rlframe.agents.dqn.r2d1 import R2d1Agent, R2d1AgentInfo

__all__ = ["DqnAgent", "DqnAgentInfo", "CatDqnAgent", "linear_schedule", "R2d1Agent", "R2d1AgentInfo"]
