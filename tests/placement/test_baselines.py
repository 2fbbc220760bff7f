"""Baselines (random, greedy, simulated annealing) and their CLI commands."""
import json

import numpy as np
import pytest

from rlframe.placement import PlacementCost, PlacementProblem, read_plc
from rlframe.placement.baselines import (
    greedy_placement, random_placement, simulated_annealing)
from rlframe.placement.geometry import oriented_size
from rlframe.placement.cli import main


def assert_legal(res):
    p = res.problem
    nl = p.netlist
    hard = nl.hard_macro_indices
    w, h = oriented_size(nl, res.orientation, hard)
    x, y = res.x[hard], res.y[hard]
    e = 1e-9
    assert np.all(x - w / 2 >= -e) and np.all(x + w / 2 <= p.grid.width + e)
    assert np.all(y - h / 2 >= -e) and np.all(y + h / 2 <= p.grid.height + e)
    assert res.costs["overlap"] == 0.0
    # on grid-cell centres
    cx, cy = p.grid.cell_center(res.cells)
    np.testing.assert_allclose(res.x[p.order], cx)
    np.testing.assert_allclose(res.y[p.order], cy)


@pytest.fixture(scope="module")
def tiles():
    return PlacementProblem("macro_tiles_10x10")


def test_random_greedy_sa_are_legal_and_sa_improves(tiles):
    rnd = random_placement(tiles, seed=0)
    greedy = greedy_placement(tiles)
    sa = simulated_annealing(tiles, time_budget=None, max_moves=400, seed=0, init="random")
    for res in (rnd, greedy, sa):
        assert_legal(res)
    assert sa.stats["moves"] == 400 and sa.stats["accepted"] > 0
    assert sa.costs["proxy_cost"] < sa.stats["initial_proxy_cost"]
    assert sa.costs["proxy_cost"] < rnd.costs["proxy_cost"]
    assert greedy.costs["hpwl"] < rnd.costs["hpwl"]


def test_random_search_with_budget_keeps_the_best(tiles):
    one = random_placement(tiles, seed=1)
    many = random_placement(tiles, seed=1, time_budget=0.3)
    assert many.stats["samples"] > 1
    assert many.costs_before_fd["proxy_cost"] <= one.costs_before_fd["proxy_cost"]


def test_soft_macros_get_force_directed_placement():
    p = PlacementProblem("sample_clustered", grid=(8, 8))
    with_fd = greedy_placement(p)
    without = greedy_placement(p, run_fd=False)
    soft = p.netlist.soft_macro_indices
    assert not np.allclose(with_fd.x[soft], without.x[soft])
    assert without.costs == without.costs_before_fd
    # CT's coordinate-descent variant: FD from the current positions, kept only if better
    assert without.costs_fd_refine == {}
    ref = with_fd.costs_fd_refine
    assert ref["proxy_cost"] <= with_fd.costs_before_fd["proxy_cost"]
    kept = with_fd.stats["fd_current_kept"] == 1.0
    assert kept == (with_fd.stats["fd_current_proxy_cost"] < with_fd.costs_before_fd["proxy_cost"])
    sa = simulated_annealing(p, time_budget=None, max_moves=100)
    assert_legal(sa)


def test_written_plc_reads_back(tmp_path, tiles):
    res = simulated_annealing(tiles, time_budget=None, max_moves=50)
    path = tmp_path / "sa.plc"
    res.write(path)
    pc = PlacementCost.from_plc(tiles.netlist, str(path))
    e = pc.evaluate()
    for k in ("hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost"):
        assert e[k] == pytest.approx(res.costs[k], rel=1e-9)
    assert read_plc(str(path)).header.grid == (tiles.grid.cols, tiles.grid.rows)


@pytest.mark.parametrize("cmd", [["random", "--time", "0.2"], ["greedy"], ["sa", "--moves", "60"],
                                 ["sa", "--time", "0.3", "--no-fd"]])
def test_cli_baselines_write_a_plc_that_cost_reads(cmd, tmp_path, capsys):
    out = tmp_path / "out.plc"
    assert main(cmd + ["--netlist", "sample_clustered", "--grid", "6", "6", "--seed", "3",
                       "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["baseline"] == cmd[0] and res["overlap"] == 0.0
    assert main(["cost", "--netlist", "sample_clustered", "--plc", str(out), "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert cost["proxy_cost"] == pytest.approx(res["proxy_cost"], rel=1e-9)
    assert cost["hpwl"] == pytest.approx(res["hpwl"], rel=1e-9)


def test_cli_errors(tmp_path, capsys):
    assert main(["greedy", "--netlist", "no_such_design", "--out", str(tmp_path / "x.plc")]) == 2
    assert "unknown design" in capsys.readouterr().err


def test_without_soft_macros_every_regime_is_the_placement(tmp_path, capsys):
    """toy_macro_stdcell has no soft macros: FD has nothing to place, so the protocol's centre and refine
    regimes are the placement itself (the CLI's --json and the results table ask for them)."""
    from rlframe.placement.baselines import greedy_placement
    res = greedy_placement("toy_macro_stdcell")
    assert res.regime("centre").costs == res.regime("refine").costs == res.regime("none").costs
    assert main(["greedy", "--netlist", "toy_macro_stdcell", "--out", str(tmp_path / "g.plc"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["proxy_cost"] == pytest.approx(res.costs["proxy_cost"])
