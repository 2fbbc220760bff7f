"""experiments/benchmarks/report.py (the targets table of docs/benchmarks.md) and run_meta.py."""
import importlib.util
import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmarks")


def _module(name):
    sys.path.insert(0, os.path.abspath(BENCH))
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def report():
    return _module("report")


def _write(tmp_path, name, d):
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return str(p)


def _cartpole(rl_wall, sb_wall, meta=None):
    side = lambda w: {"wall_s": w, "cpu_s": w, "steps": [1] * len(w), "solved": [True] * len(w)}  # noqa: E731
    d = {"rlframe": side(rl_wall), "sb3": side(sb_wall), "ratio_cpu_median": 0.2,
         "ratio_median": sorted(rl_wall)[len(rl_wall) // 2] / sorted(sb_wall)[len(sb_wall) // 2]}
    if meta:
        d["meta"] = meta
    return d


def test_run_meta_records_the_run():
    meta = _module("run_meta").run_meta(["x.py", "--json", "a b.json"])
    assert meta["command"] == "python x.py --json 'a b.json'"
    assert meta["versions"]["torch"] and meta["versions"]["numpy"]
    assert len(meta["load_average"]) == 3 and meta["cpus"] >= 1
    assert len(meta["date_utc"]) == 16


def test_targets_met_and_missed(report, tmp_path):
    ok = _write(tmp_path, "ok.json", _cartpole([1.0, 1.1, 1.2], [5.0, 5.0, 5.0]))
    bad = _write(tmp_path, "bad.json", _cartpole([2.0, 2.0, 2.0], [5.0, 5.0, 5.0]))
    text = report.render({"ppo_cartpole": [ok, bad]})
    rows = [line for line in text.splitlines() if line.startswith("| PPO CartPole")]
    assert rows[0].endswith("| <= 0.3 | yes |") and "0.220" in rows[0]
    assert rows[1].endswith("| <= 0.3 | **no** |") and "0.400" in rows[1]


def test_sampler_and_placement_rows(report, tmp_path):
    res = [{"env": "CartPole-v1", "B": 32, "policy": "random", "design": "CpuSampler", "steps_per_s": 70.0},
           {"env": "CartPole-v1", "B": 32, "policy": "random", "design": "gymnasium SyncVectorEnv", "steps_per_s": 50.0},
           {"env": "burn100us", "B": 32, "policy": "mlp", "design": "CpuSampler", "steps_per_s": 8.0}]
    sampler = {"results": res, "limit": {"CartPole-v1": 100.0, "burn100us": 10.0},
               "envpool_paired": [{"B": 32, "policy": "random", "ratio_median": 0.79, "pairs": 9}]}
    rows = report.sampler_rows(sampler)
    assert [r[3] for r in rows] == [True, False, False, False]   # 70% >= 65; 1.4x < 1.5; 80% < 85; 0.79 < 0.8
    pc = {"rlframe_eval_ms": 1.5, "reference_eval_ms": 80.0,
          "env_steps_per_s": {"random_policy_image": 2500.0, "random_policy_image_no_fd": 9000.0},
          "fd": {"baseline_rev": "abc", "speedup_now_vs_rev": 10.5, "cpu_speedup_now_vs_rev": 9.9,
                 "run_s": 0.02, "baseline_run_s": 0.21}}
    assert [r[3] for r in report.placement_cost_rows(pc)] == [True, True, False, True]


def test_mujoco_seeds_merge(report, tmp_path):
    def run(rl_w, sb_w, rl_ret, sb_ret):
        side = lambda w, r: {"wall_s": [w], "cpu_s": [w], "steps": [100], "final_return": [r]}  # noqa: E731
        return {"env": "HalfCheetah-v5", "steps": 100, "rlframe": side(rl_w, rl_ret), "sb3": side(sb_w, sb_ret),
                "ratio_median": rl_w / sb_w}
    files = [_write(tmp_path, f"m{i}.json", run(*a)) for i, a in
             enumerate([(4, 10, 1000, 900), (5, 10, 800, 1200), (6, 10, 1500, 1000)])]
    text = report.render({"ppo_mujoco": files})
    row = [line for line in text.splitlines() if line.startswith("| PPO HalfCheetah")]
    assert len(row) == 1 and "(seeds: 3)" in row[0] and "0.50x" in row[0] and row[0].endswith("| yes |")


def test_write_section_replaces_only_its_block(report, tmp_path):
    doc = tmp_path / "b.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## Old section\n\nkept\n")
    f = _write(tmp_path, "c.json", _cartpole([1.0], [5.0], meta={
        "date_utc": "2026-11-30 22:00", "command": "python c.py", "git_rev": "abc1234", "dirty": False,
        "python": "3.11", "versions": {"torch": "2.13.0"}, "cpus": 2, "load_average": [0.5, 0.5, 0.5]}))
    report.main(["--ppo-cartpole", f, "--write", str(doc)])
    report.main(["--ppo-cartpole", f, "--write", str(doc)])
    text = doc.read_text()
    assert text.count(report.BEGIN) == 1 and text.count("## Old section") == 1
    assert text.index(report.BEGIN) < text.index("## Old section") and "git `abc1234`" in text
    assert "python c.py" in text


def test_missing_json_is_a_clear_error(report, tmp_path, capsys):
    with pytest.raises(SystemExit):
        report.main(["--ppo-cartpole", str(tmp_path / "none.json")])
    assert "no such file; run the script with --json" in capsys.readouterr().err
