"""experiments/placement_pretrain.py on a tiny budget: it trains over several netlists (a synthetic one and a
shipped design, different grids), writes a checkpoint that `rlframe placement rl` loads and its provenance
JSON (command, netlists with their generator specs, phases)."""
import json
import os

from tests.helpers import load_experiment


def test_pretrain_over_two_netlists_then_place_zero_shot(tmp_path):
    from rlframe.placement.rl import load_checkpoint, rl_place

    out = str(tmp_path / "cnn.pt")
    argv = ["--out", out, "--work-dir", str(tmp_path / "nets"), "--netlists", "1", "--designs", "toy_macro_stdcell",
            "--steps", "32", "--batch-T", "8", "--batch-B", "2", "--iters-per-phase", "1"]
    assert load_experiment("placement_pretrain").main(argv) == 0
    ck = load_checkpoint(out)
    assert ck["policy"] == "cnn" and ck["env_steps"] == 32 and len(ck["trained_on"]) == 2
    meta = json.load(open(out + ".json"))
    assert meta["command"].endswith(" ".join(argv)) and meta["env_steps"] == 32
    assert [n["spec"] is not None for n in meta["netlists"]] == [True, False]
    assert len(meta["phases"]) == 2 and {ph["netlist"] for ph in meta["phases"]} == {0, 1}
    res = rl_place("sample_clustered", str(tmp_path / "z.plc"), checkpoint=out)
    assert res.costs["overlap"] == 0.0 and res.evaluations == 1


def test_evaluate_zero_shot_table_on_held_out_netlists(tmp_path, capsys):
    """--evaluate: per held-out netlist the deterministic zero-shot cost, the best of it and N sampled ones
    (never worse), greedy and random; the JSON holds the rows and the command."""
    out = str(tmp_path / "eval.json")
    argv = ["--evaluate", "pretrained", "--eval-synthetic", "4:7:2", "5:8", "--eval-designs",
            "--eval-finetune", "4:9", "--eval-seconds", "0.5", "--eval-reward", "proxy", "--eval-batch-B", "2",
            "--eval-epochs", "1", "--eval-samples", "4", "--eval-json", out]
    assert load_experiment("placement_pretrain").main(argv) == 0
    res = json.load(open(out))
    assert res["samples"] == 4 and res["command"].endswith(" ".join(argv))
    (tune,) = res["tuning"]   # fine-tuning vs from scratch, PPO only, with the given settings
    assert (tune["netlist"], tune["reward"], tune["batch_B"], tune["epochs"]) == ("synthetic_4_s9.pb.txt", "proxy", 2, 1)
    for run in (tune["fine_tune"], tune["scratch"]):
        assert run["trace"] and run["trace"][0][1] == 64 and run["final"] > 0
    rows = res["zero_shot"]
    assert [(r["netlist"], r["macros"], r["soft_macros"]) for r in rows] == \
        [("synthetic_4_s7.pb.txt", 4, 8), ("synthetic_5_s8.pb.txt", 5, 20)]
    for r in rows:
        assert r["samples"] == 4 and r["best_of_n"] <= r["deterministic"] + 1e-12
        assert r["greedy"] > 0 and r["random_mean5"] > 0 and r["random_best_samples"] >= 1
    assert "best-of-N beats greedy and random (mean of 5) on" in capsys.readouterr().out


def test_fine_tune_vs_scratch_targets_from_the_runs_history():
    """The measurement of docs/placement.md ("The pre-trained placer"): time and env steps at which a run's
    best first reaches a target, and the best a run had at a given time (the second target)."""
    pre = load_experiment("placement_pretrain")
    history = [(1.0, 0, 0.9, "deterministic"), (5.0, 640, 0.8, "sampled"), (9.0, 1280, 0.7, "sampled")]
    assert pre.time_to(history, 0.8) == (5.0, 640) and pre.time_to(history, 0.75) == (9.0, 1280)
    assert pre.time_to(history, 0.6) is None
    assert pre.best_at(history, 6.0) == 0.8 and pre.best_at(history, 0.5) is None
    assert pre.is_spec("24:1") and pre.is_spec("16:23:4:0.4")
    assert not pre.is_spec("ariane133") and not pre.is_spec("/data/a136/ariane136.pb.txt")
