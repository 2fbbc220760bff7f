"""Q-value policy-gradient algorithms on a replay: DDPG, TD3, SAC."""
from rlframe.algos.qpg.ddpg import DDPG
from rlframe.algos.qpg.sac import SAC
from rlframe.algos.qpg.td3 import TD3

__all__ = ["DDPG", "TD3", "SAC"]
