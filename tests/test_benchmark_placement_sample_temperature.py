"""experiments/benchmarks/placement_sample_temperature.py: the prior's samples per temperature in the refine
recipe's env; near T = 0 every sample is the deterministic placement."""
import importlib.util
import json
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmarks")


def test_samples_by_temperature(tmp_path):
    from rlframe.placement.synthetic import SyntheticSpec, write_synthetic
    spec = importlib.util.spec_from_file_location("placement_sample_temperature",
                                                  os.path.join(BENCH, "placement_sample_temperature.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    netlist, _ = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    js = tmp_path / "t.json"
    assert mod.main(["--design", netlist, "--temperatures", "1e-4", "100", "--samples", "6", "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    cold, hot = res["rows"]
    assert (cold["temperature"], cold["placements"], hot["placements"]) == (1e-4, 6, 6)
    assert cold["min"] == pytest.approx(res["deterministic"], abs=1e-5) == cold["median"]
    assert hot["median"] >= hot["min"] and hot["min"] != pytest.approx(res["deterministic"], abs=1e-6)
