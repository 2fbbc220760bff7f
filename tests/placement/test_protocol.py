"""The evaluation protocol: one function and the CLI score every placer the same way, and every baseline's
.plc re-scores to exactly the value it printed, in both soft-macro regimes."""
import json

import pytest

from rlframe.errors import ConfigError
from rlframe.placement import evaluate
from rlframe.placement.cli import main
from rlframe.placement.protocol import FD_REGIMES


def test_evaluate_reports_every_component_in_each_regime():
    none = evaluate("ariane133", "legalized.plc", fd="none")
    centre = evaluate("ariane133", "legalized.plc", fd="centre")
    refine = evaluate("ariane133", "legalized.plc", fd="refine")
    for ev in (none, centre, refine):
        assert set(ev.costs) >= {"hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost"}
    assert none.costs["proxy_cost"] == pytest.approx(0.6859346, abs=1e-6)      # the .plc as written
    assert centre.costs["proxy_cost"] == pytest.approx(0.8190648, abs=1e-6)    # FD from the centre
    assert refine.costs["proxy_cost"] <= none.costs["proxy_cost"]                # kept only if better
    assert refine.refine_kept is False and refine.refine_proxy_cost > none.costs["proxy_cost"]
    with pytest.raises(ConfigError, match="centre, refine, none"):
        evaluate("ariane133", "legalized.plc", fd="center")


def _run(capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


KEYS = ("hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost")


@pytest.mark.parametrize("fd", ["centre", "refine"])
@pytest.mark.parametrize("cmd", [["random", "--time", "0.2"], ["greedy"], ["sa", "--moves", "80"]])
def test_baseline_plc_rescores_exactly(cmd, fd, tmp_path, capsys):
    out = tmp_path / "out.plc"
    printed = _run(capsys, cmd + ["--netlist", "sample_clustered", "--grid", "6", "6", "--seed", "1",
                                  "--fd", fd, "--out", str(out), "--json"])
    assert printed["fd"] == fd
    for k in KEYS:
        assert printed[k] == printed["regimes"][fd][k]
    as_written = _run(capsys, ["cost", "--netlist", "sample_clustered", "--plc", str(out), "--json"])
    for k in KEYS:
        assert as_written[k] == printed[k], k          # soft macros are where the score put them
    if fd == "centre":                                  # FD from the centre ignores where they are
        again = _run(capsys, ["cost", "--netlist", "sample_clustered", "--plc", str(out), "--fd", "centre",
                              "--json"])
        for k in KEYS:
            assert again[k] == printed[k], k
        assert again["fd"] == "centre"


def test_cost_fd_flag_matches_the_function(capsys):
    for fd in FD_REGIMES:
        cli = _run(capsys, ["cost", "--netlist", "ariane133", "--plc", "legalized.plc", "--fd", fd, "--json"])
        assert cli["proxy_cost"] == evaluate("ariane133", "legalized.plc", fd=fd).costs["proxy_cost"]
