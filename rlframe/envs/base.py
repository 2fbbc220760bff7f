"""The env contract every collector relies on.

An rlframe env (``GymEnv`` adapts any gymnasium env to it) has ``spaces`` (an :class:`EnvSpaces`),
``reset() -> observation``, ``step(action) -> EnvStep`` and ``close()``. Observations of Dict/Tuple
spaces are namedarraytuples. ``step`` never auto-resets: the observation in an ``EnvStep`` whose
``terminated`` or ``truncated`` is set is the true final observation (for bootstrapping on truncation);
collectors call ``reset()`` themselves.
"""
from __future__ import annotations

from collections import namedtuple

EnvSpaces = namedtuple("EnvSpaces", ["observation", "action"])
EnvSpaces.__doc__ = "The gymnasium observation and action spaces of an env."

EnvStep = namedtuple("EnvStep", ["observation", "reward", "terminated", "truncated", "env_info"])
EnvStep.__doc__ = "One env transition; ``env_info`` is a namedtuple with fixed fields (see GymEnv)."
