"""The flagship demo (experiments/placement_demo.py) end to end on a tiny budget: it fine-tunes the shipped
pre-trained policy, prints the table of the four placers, writes --json with every placer's proxy cost, its
three components and its .plc, the .plc files re-score to the same values with `rlframe placement cost`,
and TensorBoard holds the layout and the density and congestion heat maps."""
import json
import os

import pytest

from tests.helpers import load_experiment


def test_placement_demo_json_plc_and_tensorboard(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlframe.placement.cli import main as placement_main

    demo = load_experiment("placement_demo")
    out_json = tmp_path / "demo.json"
    rc = demo.main(["--budget", "1", "--batch-T", "8", "--log-interval", "1", "--log-dir", str(tmp_path),
                    "--json", str(out_json)])
    assert rc == 0
    out = capsys.readouterr().out
    for row in ("RL policy (pre-trained + fine-tuned)", "greedy (wire mask)", "simulated annealing",
                "random search (best legal)"):
        assert row in out

    res = json.loads(out_json.read_text())
    assert os.path.isfile(res["netlist"]) and res["netlist"] == os.path.abspath(demo.DEMO_NETLIST)
    assert set(res["placers"]) == {"policy", "greedy", "sa", "random"}
    pol = res["placers"]["policy"]
    assert pol["best_of"]["deterministic"] >= 1 and pol["env_steps"] > 0
    for name, r in res["placers"].items():
        c = r["proxy_cost"]
        assert c == pytest.approx(r["wirelength_cost"] + 0.5 * r["density_cost"] + 0.5 * r["congestion_cost"])
        assert f"{c:7.4f}" in out, name                       # the table prints this placement
        # the .plc holds the soft macros where the score put them: re-scoring it as written gives the value
        assert placement_main(["cost", "--netlist", res["netlist"], "--plc", r["plc"], "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["proxy_cost"] == pytest.approx(c, rel=1e-9), name
        for k in ("wirelength_cost", "density_cost", "congestion_cost"):
            assert again[k] == pytest.approx(r[k], rel=1e-9), (name, k)
    # and FD from the centre (the protocol) puts them there again
    assert placement_main(["cost", "--netlist", res["netlist"], "--plc", pol["plc"], "--fd", "centre",
                           "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["proxy_cost"] == pytest.approx(pol["proxy_cost"], rel=1e-9)

    run_dir = os.path.dirname(pol["plc"])
    ea = EventAccumulator(run_dir, size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    tags = ea.Tags()
    for tag in ("placement/layout", "placement/density", "placement/congestion", "final/policy/density",
                "final/sa/congestion"):
        assert tag in tags["images"], tag
    steps = [e.step for e in ea.Images("placement/layout")]
    assert steps == sorted(steps) and 0 < steps[-1] <= pol["env_steps"]   # x-axis: env steps
    assert "placement/best_proxy_cost" in tags["scalars"]


def test_heat_map_colours():
    import numpy as np
    demo = load_experiment("placement_demo")
    img = demo.heat_map(np.array([[0.0, 1.0], [0.5, 2.0]]), cell_px=2)
    assert img.shape == (4, 4, 3) and img.dtype == np.uint8
    assert (img[2, 0] == 255).all()            # row 0 (bottom) col 0: zero -> white, drawn at the bottom
    assert tuple(img[0, 2]) == (120, 0, 0)     # the maximum -> dark red
