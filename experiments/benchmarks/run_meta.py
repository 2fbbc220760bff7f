"""What a benchmark JSON records about the run that made it: when, the exact command, the code and the machine.

Every benchmark script that writes JSON adds :func:`run_meta`'s dict under the key ``"meta"``, so the tables in
docs/benchmarks.md (rendered by experiments/benchmarks/report.py) can say, for each figure, the date, the command,
the git revision, the versions of rlframe's dependencies and of the peers (SB3, gymnasium, EnvPool, MuJoCo) and how
loaded the machine was (this machine's speed swings by +-40% between runs, so the ratios are what to compare).
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from typing import Any, Dict, Optional, Sequence

#: distributions whose versions a figure depends on (missing ones are recorded as None)
PACKAGES = ("torch", "numpy", "gymnasium", "stable-baselines3", "envpool", "mujoco", "numba", "psutil")


def _version(dist: str) -> Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> Optional[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(("git", "-C", here) + args, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_meta(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """The run's date (UTC), command line, git revision (``dirty``: uncommitted changes to tracked files),
    package versions, Python, CPU count and load average at the time of the call."""
    argv = sys.argv if argv is None else argv
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "command": "python " + " ".join(shlex.quote(a) for a in argv),
        "git_rev": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES},
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
