"""The POMDP launch scripts: short runs log and resume like the others, take the memory tasks of rlframe.envs.pomdp
and any module:EnvId, and judge "solved" by the env's own reward_threshold (or --target); the full runs (slow) solve
the velocity-hidden CartPole and the memory tasks where the feed-forward scripts do not."""
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


MEMORY_TASKS = ["rlframe/TMaze-v0", "rlframe/RepeatFirst-v0"]
SHORT = {"pomdp_ppo_lstm": 256, "pomdp_r2d1": 2304}  # R2D1: past min_steps_learn (2,000), so it trains too


@pytest.mark.parametrize("script", sorted(SHORT))
@pytest.mark.parametrize("env_id", MEMORY_TASKS)
def test_short_run_on_a_memory_task_reports_against_its_reward_threshold(script, env_id, tmp_path, capsys):
    steps = SHORT[script]
    assert _main(script, ["--env", env_id, "--steps", str(steps), "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Final: {steps:,d} env steps" in out
    assert f"(target 0.9 = {env_id}'s reward_threshold: " in out


@pytest.mark.parametrize("script", sorted(SHORT))
def test_target_flag_and_envs_without_a_threshold(script, tmp_path, capsys):
    env_id = "tests.envs.gym_test_envs:RlframeTest/Count-v0"  # no reward_threshold, 4-step episodes
    assert _main(script, ["--env", env_id, "--steps", "256", "--log-dir", str(tmp_path)]) == 0
    assert f"(no target: {env_id} has no reward_threshold; pass --target RETURN)" in capsys.readouterr().out
    assert _main(script, ["--env", env_id, "--steps", "256", "--target", "3.5", "--log-dir", str(tmp_path)]) == 0
    assert "deterministic eval return 4.0 over 10 episodes (target 3.5 = --target: reached)" in \
        capsys.readouterr().out


def test_eval_bound_follows_the_env_episode_limit():
    from common import eval_step_bound

    assert eval_step_bound("rlframe/CartPolePOMDP-v1", 10) == 5_000  # the TimeLimit inside the masked env
    assert eval_step_bound("tests.envs.gym_test_envs:RlframeTest/Count-v0", 10) == 40
    assert eval_step_bound("rlframe/TMaze-v0", 10) == 10_000  # no limit (episodes end by themselves): 1,000 each


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


@pytest.mark.slow
@pytest.mark.parametrize("env_id", MEMORY_TASKS)
def test_ppo_lstm_solves_the_memory_tasks_where_feed_forward_ppo_does_not(env_id, tmp_path, capsys):
    args = ["--env", env_id, "--steps", "30000", "--log-dir", str(tmp_path)]
    assert _main("pomdp_ppo_lstm", args) == 0
    assert _final_eval(capsys.readouterr().out) >= 0.9
    assert _main("cartpole_ppo", args) == 0
    assert _final_eval(capsys.readouterr().out) < 0.9


@pytest.mark.slow
@pytest.mark.parametrize("env_id", MEMORY_TASKS)
def test_r2d1_solves_the_memory_tasks(env_id, tmp_path, capsys):
    assert _main("pomdp_r2d1", ["--env", env_id, "--steps", "30000", "--log-dir", str(tmp_path)]) == 0
    assert _final_eval(capsys.readouterr().out) >= 0.9
