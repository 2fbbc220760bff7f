"""Deprecated: placement policies moved to :mod:`rlframe.placement.policies`; this module is that one."""
import importlib
import sys
import warnings

warnings.warn("rlframe.models.placement moved to rlframe.placement.policies; the old import path will be "
              "removed", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("rlframe.placement.policies")
