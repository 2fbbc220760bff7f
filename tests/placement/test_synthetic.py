"""Synthetic netlists: deterministic, the asked-for sizes, realistic net degrees, the target utilisation,
and readable by the env, the baselines and the CLI."""
import json

import gymnasium
import numpy as np
import pytest

import rlframe.placement  # noqa: F401  (registers the env)
from rlframe.errors import ConfigError
from rlframe.placement import read_netlist
from rlframe.placement.cli import main as placement_main
from rlframe.placement.formats import read_plc
from rlframe.placement.synthetic import SyntheticSpec, generate, write_synthetic


def test_same_seed_same_netlist_other_seed_other():
    a, b = generate(SyntheticSpec(n_macros=6, seed=4)), generate(SyntheticSpec(n_macros=6, seed=4))
    assert a.text == b.text
    assert generate(SyntheticSpec(n_macros=6, seed=5)).text != a.text


def test_degree_distribution_mostly_two_and_three_pins_with_a_tail():
    d = generate(SyntheticSpec(n_macros=40, seed=0)).degrees
    assert d.min() >= 2
    share = np.bincount(d, minlength=5)
    assert share[2] / len(d) > 0.5 and (share[2] + share[3]) / len(d) > 0.7
    assert d.max() >= 6  # heavy tail


def test_written_pair_has_sizes_utilisation_and_places(tmp_path):
    spec = SyntheticSpec(n_macros=10, seed=2, n_ports=12, utilization=0.5)
    path, plc = write_synthetic(str(tmp_path), spec)
    nl = read_netlist(path)
    s = nl.summary()
    assert (s["hard_macros"], s["soft_macros"], s["ports"]) == (10, 40, 12)
    pl = read_plc(plc)
    W, H = pl.header.canvas
    macro_area = s["hard_macro_area"] + s["soft_macro_area"]
    assert macro_area / (W * H) == pytest.approx(0.5, rel=0.05)
    env = gymnasium.make("rlframe/MacroPlacement-v0", netlist=path, plc=plc)
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        obs, _, done, _, info = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
    assert not info["dead_end"] and 0 < info["proxy_cost"] < 10


def test_cli_synth_then_greedy(tmp_path, capsys):
    assert placement_main(["synth", "--out", str(tmp_path), "--macros", "5", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stats"]["hard_macros"] == 5
    assert placement_main(["greedy", "--netlist", out["netlist"], "--plc", out["plc"],
                           "--out", str(tmp_path / "g.plc"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["proxy_cost"] > 0


def test_bad_spec_named():
    with pytest.raises(ConfigError, match="utilization"):
        generate(SyntheticSpec(utilization=1.5))
    with pytest.raises(ConfigError, match="macros=0"):
        generate(SyntheticSpec(n_macros=0))
