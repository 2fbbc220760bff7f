"""Agents: a torch model plus a distribution, driven by samplers (see ``agents/base.py``)."""
from rlframe.agents.base import AgentInputs, AgentStep, BaseAgent
from rlframe.agents.pg import AgentInfo, CategoricalPgAgent, GaussianPgAgent

__all__ = ["AgentInputs", "AgentStep", "BaseAgent", "AgentInfo", "CategoricalPgAgent", "GaussianPgAgent"]
