"""Value-based algorithms on a replay: DQN (double, dueling, n-step, prioritized), C51 and R2D1 (recurrent)."""
from rlframe.algos.dqn.cat_dqn import CatDQN
from rlframe.algos.dqn.dqn import DQN
from rlframe.algos.dqn.r2d1 import R2D1

__all__ = ["DQN", "CatDQN", "R2D1"]
