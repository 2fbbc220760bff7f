"""``rlframe placement cluster`` end to end: a flat netlist without canvas or grid is clustered,
and info, cost, the baselines and the env take the result with no further flags."""
import json
import os

import gymnasium
import numpy as np

import rlframe  # noqa: F401  (import rlframe registers the env id)
from conftest import make_flat_netlist
from rlframe.placement.cli import main
from rlframe.placement.designs import resolve_design
from rlframe.placement.formats.netlist import STDCELL, read_netlist


def test_cluster_cli_then_info_cost_baseline_env(tmp_path, capsys):
    flat = make_flat_netlist(os.path.join(tmp_path, "flat.pb.txt"), side=100.0)
    assert read_netlist(flat).canvas_bbox is None
    out = os.path.join(tmp_path, "clustered.pb.txt.gz")
    assert main(["cluster", "--netlist", flat, "--out", out, "--groups", "10",
                 "--partitioner", "numpy", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["canvas_source"] == "chosen" and rep["grid_source"] == "chosen"
    assert rep["plc"] == os.path.join(tmp_path, "clustered.plc") and os.path.isfile(rep["plc"])
    assert rep["hard_macros"] == 4 and rep["soft_macros"] >= 4
    src = read_netlist(flat)
    cells = src.node_type == STDCELL
    assert abs(rep["soft_macro_area"] - np.sum(src.width[cells] * src.height[cells]) / 0.5) < 1e-6
    assert resolve_design(out)[1] == rep["plc"]       # X.pb.txt.gz finds X.plc

    assert main(["info", out, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["hard_macros"] == 4 and info["stdcells"] == 0
    assert main(["cost", "--netlist", out, "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert 0 < cost["proxy_cost"] < 5
    assert main(["greedy", "--netlist", out, "--out", os.path.join(tmp_path, "g.plc"),
                 "--json"]) == 0
    assert 0 < json.loads(capsys.readouterr().out)["proxy_cost"] < 5
    captured = capsys.readouterr()
    assert "default" not in captured.err     # no canvas/grid fell back to a default

    env = gymnasium.make("rlframe/MacroPlacement-v0", netlist=out)
    env.reset(seed=0)
    done, steps = False, 0
    while not done:
        mask = env.unwrapped.action_masks()
        _, _, term, trunc, info = env.step(int(np.flatnonzero(mask)[0]))
        done, steps = term or trunc, steps + 1
    assert steps == 4 and not info["dead_end"] and info["proxy_cost"] > 0


def test_cluster_cli_overrides_and_errors(tmp_path, capsys):
    flat = make_flat_netlist(os.path.join(tmp_path, "flat.pb.txt"), n_cells=200, bbox=True)
    out = os.path.join(tmp_path, "c.pb.txt")
    assert main(["cluster", "--netlist", flat, "--out", out, "--canvas", "210", "190",
                 "--grid", "21", "19", "--groups", "5", "--partitioner", "numpy"]) == 0
    text = capsys.readouterr().out
    assert "canvas 210 x 190 (given), grid 21 x 19 (given)" in text
    pl_header = open(os.path.join(tmp_path, "c.plc")).read()
    assert "# Columns : 21  Rows : 19" in pl_header and "# Width : 210.0  Height : 190.0" in pl_header
    no_bbox = make_flat_netlist(os.path.join(tmp_path, "nobbox.pb.txt"), n_cells=200)
    assert main(["cluster", "--netlist", no_bbox, "--out", out, "--utilization", "1.5"]) == 2
    assert "utilization" in capsys.readouterr().err
    assert main(["cluster", "--netlist", os.path.join(tmp_path, "nope.pb.txt"), "--out", out]) == 2
    assert "nope.pb.txt" in capsys.readouterr().err
