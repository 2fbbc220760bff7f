"""Value-based agents: epsilon-greedy DQN (with a target network) and C51."""
from rlframe.agents.dqn.cat_dqn import CatDqnAgent
from rlframe.agents.dqn.dqn import DqnAgent, DqnAgentInfo, linear_schedule

__all__ = ["DqnAgent", "DqnAgentInfo", "CatDqnAgent", "linear_schedule"]
