"""Deprecated: the placement CLI moved to :mod:`rlframe.placement.cli` (``rlframe placement ...`` or
``python -m rlframe.placement.cli``); ``python -m rlframe.placement_cli`` still runs it."""
import importlib
import sys
import warnings

if __name__ == "__main__":
    sys.exit(importlib.import_module("rlframe.placement.cli").main())
warnings.warn("rlframe.placement_cli moved to rlframe.placement.cli; the old import path will be removed",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("rlframe.placement.cli")
