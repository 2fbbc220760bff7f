"""Policy-gradient agents: categorical (with action masks) and diagonal gaussian, feed-forward and recurrent."""
from rlframe.agents.pg.base import AgentInfo, PgAgentBase
from rlframe.agents.pg.categorical import CategoricalPgAgent
from rlframe.agents.pg.gaussian import GaussianPgAgent
from rlframe.agents.pg.recurrent import AgentInfoRnn, RecurrentCategoricalPgAgent, RecurrentGaussianPgAgent

__all__ = ["AgentInfo", "PgAgentBase", "CategoricalPgAgent", "GaussianPgAgent", "AgentInfoRnn",
           "RecurrentCategoricalPgAgent", "RecurrentGaussianPgAgent"]
