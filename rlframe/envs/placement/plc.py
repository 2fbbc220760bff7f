"""Deprecated: moved (see ``rlframe.envs.placement.MOVED``); this module is the new one under its old name."""
from rlframe.envs.placement import alias

alias(__name__)
