"""Value-based algorithms on a replay: DQN (double, dueling, n-step, prioritized) and C51."""
from rlframe.algos.dqn.cat_dqn import CatDQN
from rlframe.algos.dqn.dqn import DQN

__all__ = ["DQN", "CatDQN"]
