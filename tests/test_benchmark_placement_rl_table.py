"""experiments/benchmarks/placement_rl_table.py: --parallel runs placers side by side, each row with its own
process's CPU seconds; --regime writes every .plc in that regime."""
import importlib.util
import json
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmarks")


def _bench():
    spec = importlib.util.spec_from_file_location("placement_rl_table", os.path.join(BENCH, "placement_rl_table.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parallel_pair_in_the_refine_regime(tmp_path):
    from rlframe.placement import evaluate
    js = tmp_path / "table.json"
    assert _bench().main(["--design", "sample_clustered", "--time", "1", "--placers", "greedy", "sa",
                          "--regime", "refine", "--parallel", "2", "--workdir", str(tmp_path),
                          "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    assert res["regime"] == "refine" and res["parallel"] == 2
    rows = {r["placer"]: r for r in res["rows"]}
    assert set(rows) == {"greedy", "sa"}
    for r in rows.values():
        assert r["returncode"] == 0 and r["child_cpu_seconds"] > 0 and "--fd refine" in r["command"]
        # written in the refine regime: the file re-scores as written to the refine cost
        assert evaluate("sample_clustered", r["out"], fd="none").costs["proxy_cost"] == \
            pytest.approx(r["regimes"]["refine"]["proxy_cost"], rel=1e-6)
    assert rows["greedy"]["beside"] == ["sa"] or rows["sa"]["beside"] == ["greedy"]   # they overlapped
    assert rows["sa"]["child_cpu_seconds"] >= 0.5        # SA's own 1 s search, not its neighbour's


def test_recipe_command_carries_the_regime():
    shown, argv = _bench().command("rl_scratch", "ariane133", 300, 1, "o.plc", "o.json", "refine")
    assert argv[-2:] == ["--regime", "refine"] and "--checkpoint none" in shown and "--seed 1" in shown


def test_recipe_args_reach_the_recipe_rows_only():
    bench = _bench()
    _, argv = bench.command("rl_fine_tuned", "ariane133", 300, 0, "o.plc", "o.json", "refine",
                            ["--soft-canvas", "--density-reward", "0.5"])
    assert argv[-5:] == ["--regime", "refine", "--soft-canvas", "--density-reward", "0.5"]
    _, argv = bench.command("sa", "ariane133", 300, 0, "o.plc", "o.json", "refine")
    assert "--soft-canvas" not in argv


def test_recipe_row_carries_the_whole_schedule_and_the_restored_cost():
    """A recipe row records every schedule keyword of rl_place (placement.cli.FINE_TUNING_DEFAULTS) and
    ``restored_cost``, so that a table says which levers ran and whether PPO's best weights were put back."""
    from rlframe.placement.cli import FINE_TUNING_DEFAULTS
    costs = {fd: {"proxy_cost": 0.7} for fd in ("centre", "refine", "none")}
    res = dict(regimes=costs, **{**FINE_TUNING_DEFAULTS, "restore_best_policy": True}, restored_cost=0.74, seconds=1.0)
    row = _bench()._fill({}, "rl_fine_tuned", res)
    assert {k: row[k] for k in FINE_TUNING_DEFAULTS} == {**FINE_TUNING_DEFAULTS, "restore_best_policy": True}
    assert row["restored_cost"] == 0.74 and row["regimes"]["centre"]["proxy_cost"] == 0.7
