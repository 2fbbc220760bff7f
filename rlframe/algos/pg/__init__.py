"""On-policy policy-gradient algorithms: A2C and PPO."""
from rlframe.algos.pg.a2c import A2C
from rlframe.algos.pg.base import PolicyGradientAlgo
from rlframe.algos.pg.ppo import PPO
from rlframe.algos.pg.returns import (discounted_returns, explained_variance, generalized_advantage_estimation,
                                      valid_from_done)

__all__ = ["A2C", "PPO", "PolicyGradientAlgo", "generalized_advantage_estimation", "discounted_returns",
           "valid_from_done", "explained_variance"]
