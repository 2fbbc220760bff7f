"""The POMDP launch scripts: short runs log and resume like the others; the full runs (slow) solve the
velocity-hidden CartPole where the feed-forward PPO script does not."""
import importlib
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments")
if EXPERIMENTS not in sys.path:
    sys.path.insert(0, EXPERIMENTS)


def _main(name, argv):
    return importlib.import_module(name).main(argv)


@pytest.mark.parametrize("script, steps", [("pomdp_ppo_lstm", 512), ("pomdp_r2d1", 2304)])
def test_short_run_then_resume(script, steps, tmp_path, capsys):
    assert _main(script, ["--steps", str(steps), "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Final: {steps:,d} env steps" in out
    run_dir = os.path.join(str(tmp_path), script, "run_0")
    assert _main(script, ["--resume", run_dir, "--steps", str(steps + 256), "--log-dir", str(tmp_path)]) == 0
    assert f"Final: {steps + 256:,d} env steps" in capsys.readouterr().out


def test_ppo_lstm_takes_a_continuous_memory_task(tmp_path, capsys):
    assert _main("pomdp_ppo_lstm", ["--env", "rlframe/PendulumPOMDP-v1", "--steps", "512",
                                    "--log-dir", str(tmp_path)]) == 0
    assert "Final: 512 env steps" in capsys.readouterr().out


def _final_eval(out):
    line = [ln for ln in out.splitlines() if ln.startswith("Final:")][-1]
    return float(line.split("eval return ")[1].split()[0])


@pytest.mark.slow
def test_ppo_lstm_solves_cartpole_without_velocities_where_feed_forward_ppo_does_not(tmp_path, capsys):
    assert _main("pomdp_ppo_lstm", ["--log-dir", str(tmp_path)]) == 0
    assert _final_eval(capsys.readouterr().out) >= 475
    assert _main("cartpole_ppo", ["--env", "rlframe/CartPolePOMDP-v1", "--steps", "100000",
                                  "--log-dir", str(tmp_path)]) == 0
    assert _final_eval(capsys.readouterr().out) < 475


@pytest.mark.slow
def test_r2d1_solves_cartpole_without_velocities(tmp_path, capsys):
    assert _main("pomdp_r2d1", ["--log-dir", str(tmp_path)]) == 0
    assert _final_eval(capsys.readouterr().out) >= 475
