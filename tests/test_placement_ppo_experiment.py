"""experiments/placement_ppo.py --policy cnn|gnn on a tiny budget: it builds the policy through the normal
agent, trains and returns 0."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    path = os.path.join(REPO, "experiments", "placement_ppo.py")
    spec = importlib.util.spec_from_file_location("placement_ppo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("policy,reward", [("cnn", "hpwl"), ("gnn", "mix")])
def test_placement_ppo_policy_option(tmp_path, policy, reward):
    import sys
    sys.path.insert(0, os.path.join(REPO, "experiments"))  # the script imports its sibling common.py
    try:
        rc = _load().main(["--policy", policy, "--reward", reward, "--design", "macro_tiles_10x10",
                           "--steps", "40", "--log-dir", str(tmp_path)])
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    assert rc == 0
    assert (tmp_path / "placement_ppo" / "run_0" / "progress.csv").is_file()
