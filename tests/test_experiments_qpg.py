"""The continuous-control launch scripts (experiments/pendulum_sac.py, pendulum_td3.py, pendulum_ddpg.py): short
runs, resume with the replay and the SAC temperature, and (slow) the defaults reaching an eval return of -200."""
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments")
if EXPERIMENTS not in sys.path:
    sys.path.insert(0, EXPERIMENTS)


def _script(name):
    import importlib

    return importlib.import_module(name)


def _last_values(run_dir):
    import csv

    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))[-1]


@pytest.mark.parametrize("name,steps", [("pendulum_sac", 150), ("pendulum_td3", 400), ("pendulum_ddpg", 400)])
def test_scripts_run(tmp_path, name, steps):
    assert _script(name).main(["--steps", str(steps), "--log-dir", str(tmp_path)]) == 0
    values = _last_values(os.path.join(str(tmp_path), name, "run_0"))
    assert int(float(values["time/env_steps"])) == steps
    assert float(values["replay/size"]) == steps


def test_sac_resume_keeps_replay_temperature_and_counters(tmp_path):
    sac = _script("pendulum_sac")
    assert sac.main(["--steps", "130", "--log-dir", str(tmp_path), "--save-replay"]) == 0
    run_dir = os.path.join(str(tmp_path), "pendulum_sac", "run_0")
    first = _last_values(run_dir)
    ckpts = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
    state = torch.load(os.path.join(run_dir, "checkpoints", [c for c in ckpts if c.endswith(".pt")][-1]),
                       weights_only=False)
    assert set(state["agent_state_dict"]) == {"model", "q_model"}
    assert set(state["algo_state_dict"]["target_model"]) == {"target_q_model"}  # targets: the algorithm's state
    assert "log_alpha" in state["algo_state_dict"]
    assert sac.main(["--resume", run_dir, "--steps", "160"]) == 0
    last = _last_values(run_dir)
    assert int(float(last["time/env_steps"])) == 160
    assert float(last["time/updates"]) > float(first["time/updates"])
    assert float(last["replay/size"]) == 160  # the saved replay came back (not refilled from empty)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pendulum_sac", "pendulum_td3"])
def test_pendulum_defaults_reach_minus_200(tmp_path, capsys, name):
    assert _script(name).main(["--log-dir", str(tmp_path), "--seed", "0"]) == 0
    values = _last_values(os.path.join(str(tmp_path), name, "run_0"))
    assert float(values["eval/return_mean"]) >= -200
    assert "target -200: reached" in capsys.readouterr().out
