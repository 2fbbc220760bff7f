"""The import paths from before rlframe/placement/ existed keep working, with a DeprecationWarning."""
import subprocess
import sys

import gymnasium as gym
import pytest


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always::DeprecationWarning", "-c", code],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("old, new", [
    ("rlframe.envs.placement.cost", "rlframe.placement.cost"),
    ("rlframe.envs.placement.netlist", "rlframe.placement.formats.netlist"),
    ("rlframe.envs.placement.plc", "rlframe.placement.formats.plc"),
    ("rlframe.envs.placement.env", "rlframe.placement.env.env"),
    ("rlframe.envs.placement.rollout", "rlframe.placement.env.rollout"),
    ("rlframe.envs.placement.baselines", "rlframe.placement.baselines"),
    ("rlframe.models.placement", "rlframe.placement.policies"),
    ("rlframe.placement_cli", "rlframe.placement.cli"),
])
def test_old_module_is_the_new_module_and_warns(old, new):
    r = _run(f"import importlib; o = importlib.import_module('{old}'); n = importlib.import_module('{new}'); "
             f"assert o is n, (o, n)")
    assert r.returncode == 0, r.stderr
    assert "DeprecationWarning" in r.stderr and "moved to" in r.stderr


def test_old_package_exports_and_gym_ids():
    r = _run("from rlframe.envs.placement import PlacementCost, read_netlist, resolve_design, MacroPlacementEnv\n"
             "import rlframe.placement as p\n"
             "assert PlacementCost is p.PlacementCost and MacroPlacementEnv is p.MacroPlacementEnv\n"
             "from rlframe.models import CellConvPolicy\n"
             "from rlframe.envs.placement.cost import _ranges\n")
    assert r.returncode == 0, r.stderr
    for form in ("rlframe/MacroPlacement-v0", "rlframe.envs.placement:rlframe/MacroPlacement-v0",
                 "rlframe.placement:MacroPlacement-v0"):
        env = gym.make(form, design="macro_tiles_10x10")
        assert env.unwrapped.__class__.__module__ == "rlframe.placement.env.env"
        env.close()


def test_old_cli_module_runs():
    r = subprocess.run([sys.executable, "-m", "rlframe.placement_cli", "info", "--list"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ariane133" in r.stdout

