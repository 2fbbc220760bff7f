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
