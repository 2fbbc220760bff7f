"""Policy-gradient agents: categorical (with action masks) and diagonal gaussian."""
from rlframe.agents.pg.base import AgentInfo, PgAgentBase
from rlframe.agents.pg.categorical import CategoricalPgAgent
from rlframe.agents.pg.gaussian import GaussianPgAgent

__all__ = ["AgentInfo", "PgAgentBase", "CategoricalPgAgent", "GaussianPgAgent"]
