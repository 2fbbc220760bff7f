"""The flagship demo (experiments/placement_demo.py) end to end on a tiny step budget: it trains, logs
the placement tags and the layout image to TensorBoard against env steps, prints the comparison table
and writes the policy's placement as a .plc that reads back."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_demo():
    path = os.path.join(REPO, "experiments", "placement_demo.py")
    spec = importlib.util.spec_from_file_location("placement_demo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_placement_demo_end_to_end(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlframe.placement import read_netlist, resolve_design
    from rlframe.placement.cost import PlacementCost

    demo = _load_demo()
    rc = demo.main(["--steps", "400", "--log-interval", "400", "--sa-seconds", "0.2",
                    "--random-samples", "2", "--log-dir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    for row in ("PPO policy (deterministic)", "random legal (mean of 2)", "greedy (wire mask)",
                "simulated annealing (0.2 s)"):
        assert row in out

    run_dir = tmp_path / "placement_demo" / "run_0"
    plc = run_dir / "policy.plc"
    assert plc.is_file()
    # the .plc reads back into the evaluator with every macro placed on the canvas
    nl = read_netlist(resolve_design("macro_tiles_10x10")[0])
    pc = PlacementCost.from_plc(nl, str(plc))
    costs = pc.evaluate()
    assert costs["overlap"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < costs["proxy_cost"] < 2
    assert f"{costs['proxy_cost']:.4f}" in out   # the table's policy row is this placement

    ea = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    tags = ea.Tags()
    for tag in ("placement/proxy_cost", "placement/wirelength_cost", "placement/density_cost",
                "placement/congestion_cost", "placement/hpwl"):
        assert tag in tags["scalars"], tag
        assert [e.step for e in ea.Scalars(tag)] == [400]        # x-axis: env steps
    assert "placement/layout" in tags["images"]
    steps = [e.step for e in ea.Images("placement/layout")]
    assert steps == [0, 400]                                     # initial eval, then each interval
    img = ea.Images("placement/layout")[-1]
    assert img.width == 512 and img.height == 512
