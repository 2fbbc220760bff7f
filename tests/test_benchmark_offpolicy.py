"""experiments/benchmarks/offpolicy_vs_sb3.py: the --breakdown phase timers wrap and restore what they time,
and the JSON keys the issue asks for come out of a full-mode summary."""
import importlib.util
import os
import sys
import time

import torch

BENCH = os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmarks")


def _bench():
    sys.path.insert(0, os.path.abspath(BENCH))
    spec = importlib.util.spec_from_file_location("offpolicy_vs_sb3", os.path.join(BENCH, "offpolicy_vs_sb3.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Base:
    @staticmethod
    def work(n):
        t = time.process_time()
        while time.process_time() - t < 0.02:
            pass
        return n + 1


class _Owner(_Base):
    def method(self):
        return self


def test_phase_timers_count_cpu_time_and_restore_the_originals():
    bench = _bench()
    backward, owner = torch.Tensor.backward, _Owner()
    with bench._PhaseTimers() as timers:
        timers.wrap(_Owner, "work", "phase")  # inherited static method
        timers.wrap(_Owner, "method", "method")
        timers.wrap(torch.Tensor, "backward", "backward")
        assert _Owner.work(1) == 2 and owner.work(2) == 3 and owner.method() is owner
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
    assert timers.seconds["phase"] >= 0.035 and timers.seconds["backward"] > 0
    assert "work" not in vars(_Owner) and owner.work(1) == 2 and owner.method() is owner
    assert _Owner.method is vars(_Owner)["method"] and torch.Tensor.backward is backward
    assert torch.equal(x.grad, torch.full((2,), 3.0))


def test_profile_settings_keep_the_zoo_hyper_parameters_but_shorten_the_run():
    bench = _bench()
    setting = {k: dict(v, hp=dict(v["hp"])) for k, v in bench.SETTINGS.items()}["dqn"]
    hp_before = dict(setting["hp"])
    bench._profile_settings(setting, 256)
    assert setting["target"] == float("inf") and setting["budget"] == 1000 + 512
    assert {k: v for k, v in setting["hp"].items() if k != "exploration_fraction"} == \
        {k: v for k, v in hp_before.items() if k != "exploration_fraction"}


def test_seed_major_writes_every_finished_pair_and_keeps_other_algorithms(tmp_path, monkeypatch):
    import json

    bench = _bench()
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"sac": {"ratio_median": 0.9}, "dqn": {"stale": True}}))
    calls = []

    def fake(side):
        def run(algo, seed):
            calls.append((algo, seed, side))
            wall = 2.0 if side == "rlframe" else 4.0
            return dict(solved=True, steps=1000 + seed, wall_s=wall, cpu_s=wall, sample_s=0.5, optimize_s=1.0,
                        train_s=1.0, ms_per_update=1.0, cpu_ms_per_update=1.0, updates=10)
        return run

    monkeypatch.setattr(bench, "run_rlframe", fake("rlframe"))
    monkeypatch.setattr(bench, "run_sb3", fake("sb3"))
    monkeypatch.setattr(bench, "_warm_imports", lambda algos: None)
    bench.main(["--seed-major", "--seeds", "2", "--algos", "dqn,td3", "--json", str(path)])
    assert calls == [("dqn", 0, "rlframe"), ("dqn", 0, "sb3"), ("td3", 0, "rlframe"), ("td3", 0, "sb3"),
                     ("dqn", 1, "sb3"), ("dqn", 1, "rlframe"), ("td3", 1, "sb3"), ("td3", 1, "rlframe")]
    out = json.loads(path.read_text())
    assert out["sac"] == {"ratio_median": 0.9}  # not run now: kept
    for algo in ("dqn", "td3"):
        assert out[algo]["rlframe"]["wall_s"] == [2.0, 2.0] and out[algo]["sb3"]["steps"] == [1000, 1001]
        assert out[algo]["ratio_median"] == 0.5 and out[algo]["seeds_done"] == {"rlframe": 2, "sb3": 2}
