"""Deprecated home of chip placement: everything moved to :mod:`rlframe.placement` (docs/placement.md).

``import rlframe.envs.placement`` and its sub-modules (``cost``, ``netlist``, ``env`` ...) keep working:
each old sub-module is the new module itself (same object, so patches and private names carry over),
and importing this package emits a :class:`DeprecationWarning` naming the new path.
"""
import importlib
import sys
import warnings

warnings.warn("rlframe.envs.placement moved to rlframe.placement (e.g. `from rlframe.placement import "
              "PlacementCost`); the old import path will be removed", DeprecationWarning, stacklevel=2)

from rlframe.placement import *  # noqa: E402,F401,F403
from rlframe.placement import __all__  # noqa: E402,F401

#: old sub-module name -> new module
MOVED = {
    "netlist": "rlframe.placement.formats.netlist", "plc": "rlframe.placement.formats.plc",
    "cost": "rlframe.placement.cost", "designs": "rlframe.placement.designs",
    "geometry": "rlframe.placement.geometry", "force_directed": "rlframe.placement.force_directed",
    "state": "rlframe.placement.state", "baselines": "rlframe.placement.baselines",
    "env": "rlframe.placement.env.env", "observations": "rlframe.placement.env.observations",
    "registration": "rlframe.placement.env.registration", "rollout": "rlframe.placement.env.rollout",
}


def alias(old_name: str) -> None:
    """Make the module ``old_name`` (``rlframe.envs.placement.<x>``) the moved module itself."""
    sys.modules[old_name] = importlib.import_module(MOVED[old_name.rsplit(".", 1)[1]])
