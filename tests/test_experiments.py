"""The launch scripts in experiments/: shape errors exit fast, TensorBoard tags, resume, sampler swap, learning."""
import csv
import importlib
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments")
TESTS = os.path.dirname(os.path.abspath(__file__))
if EXPERIMENTS not in sys.path:
    sys.path.insert(0, EXPERIMENTS)


def _script(name):
    return importlib.import_module(name)


def _rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def _steps(run_dir):
    return [int(float(r["time/env_steps"])) for r in _rows(run_dir)]


def _scalars(run_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir)
    acc.Reload()
    return acc.Scalars(tag) if tag in acc.Tags()["scalars"] else []


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([TESTS, ROOT, env.get("PYTHONPATH", "")])
    return env


def test_env_declaring_461_emitting_365_fails_fast_with_both_shapes(tmp_path):
    out = subprocess.run(
        [sys.executable, os.path.join(EXPERIMENTS, "cartpole_ppo.py"), "--env", "shape_bad_env:Bad-v0",
         "--log-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=_env(),  # ~2.5 s on a quiet 2-core machine; 10 s under load
    )
    assert out.returncode != 0
    assert "ShapeMismatchError" in out.stderr
    assert "(461,)" in out.stderr and "(365,)" in out.stderr and "shape_bad_env:Bad-v0" in out.stderr


def test_env_module_in_the_current_directory_is_found(tmp_path):
    """``python experiments/cartpole_ppo.py --env mymodule:Bad-v0`` run from the folder holding mymodule.py."""
    with open(os.path.join(TESTS, "shape_bad_env.py")) as f:
        (tmp_path / "mymodule.py").write_text(f.read())
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [sys.executable, os.path.join(EXPERIMENTS, "cartpole_ppo.py"), "--env", "mymodule:Bad-v0",
         "--log-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=60, env=env, cwd=str(tmp_path),
    )
    assert out.returncode != 0
    assert "ShapeMismatchError" in out.stderr and "(461,)" in out.stderr and "(365,)" in out.stderr


def test_cartpole_ppo_short_run_logs_tags_against_env_steps(tmp_path, capsys):
    assert _script("cartpole_ppo").main(["--steps", "2048", "--log-dir", str(tmp_path), "--seed", "1"]) == 0
    run_dir = os.path.join(str(tmp_path), "cartpole_ppo", "run_0")
    out = capsys.readouterr().out
    assert f"tensorboard --logdir {run_dir}" in out and "Final: 2,048 env steps" in out
    for tag in ["rollout/return_mean", "eval/return_mean", "time/sps", "train/policy_loss", "train/value_loss",
                "train/approx_kl", "train/learning_rate", "time/env_steps"]:
        events = _scalars(run_dir, tag)
        assert events, tag
        assert events[-1].step == 2048
    assert [e.step for e in _scalars(run_dir, "eval/return_mean")] == [0, 2048]
    assert os.path.exists(os.path.join(run_dir, "params.json"))


def test_resume_with_more_steps_continues_counters_and_curves(tmp_path):
    ppo = _script("cartpole_ppo")
    assert ppo.main(["--steps", "1024", "--log-dir", str(tmp_path)]) == 0
    run_dir = os.path.join(str(tmp_path), "cartpole_ppo", "run_0")
    assert ppo.main(["--resume", run_dir, "--steps", "2048"]) == 0
    assert _steps(run_dir) == [0, 1024, 2048]
    assert [e.step for e in _scalars(run_dir, "train/policy_loss")] == [1024, 2048]
    assert float(_rows(run_dir)[-1]["time/itr"]) == 8
    from rlframe.logging import load_checkpoint

    state = load_checkpoint(run_dir)
    assert state["itr"] == 7 and state["env_steps"] == 2048 and state["params"]["steps"] == 2048


def test_killed_run_resumes_from_last_checkpoint(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EXPERIMENTS, "cartpole_ppo.py"), "--steps", "200000", "--log-dir",
         str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    run_dir = os.path.join(str(tmp_path), "cartpole_ppo", "run_0")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    try:
        deadline = time.monotonic() + 120
        while not (os.path.isdir(ckpt_dir) and any(n.endswith(".pt") for n in os.listdir(ckpt_dir))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    from rlframe.logging import load_checkpoint

    saved_steps = load_checkpoint(run_dir)["env_steps"]
    target = saved_steps + 2 * 256
    assert _script("cartpole_ppo").main(["--resume", run_dir, "--steps", str(target)]) == 0
    steps = _steps(run_dir)
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == target
    assert steps[-2] <= saved_steps + 256  # nothing between the checkpoint and the resume is duplicated
    assert [e.step for e in _scalars(run_dir, "time/env_steps")] == steps


def test_cpu_sampler_swap(tmp_path):
    pytest.importorskip("rlframe.samplers.parallel").CpuSampler
    assert _script("cartpole_ppo").main(["--steps", "1024", "--sampler", "cpu", "--workers", "2",
                                         "--log-dir", str(tmp_path)]) == 0
    assert _steps(os.path.join(str(tmp_path), "cartpole_ppo", "run_0"))[-1] == 1024


def test_env_backend_vector_and_refusal_with_parallel_samplers(tmp_path):
    from rlframe.errors import ConfigError

    ppo = _script("cartpole_ppo")
    assert ppo.main(["--steps", "1024", "--env-backend", "vector", "--log-dir", str(tmp_path)]) == 0
    with pytest.raises(ConfigError, match="--sampler serial"):
        ppo.main(["--steps", "256", "--env-backend", "vector", "--sampler", "cpu", "--log-dir", str(tmp_path)])


@pytest.mark.parametrize("name,steps", [("cartpole_a2c", 400), ("pendulum_ppo", 4096)])
def test_other_scripts_run(tmp_path, name, steps):
    assert _script(name).main(["--steps", str(steps), "--log-dir", str(tmp_path)]) == 0
    assert _steps(os.path.join(str(tmp_path), name, "run_0"))[-1] == steps


def test_resume_refuses_to_change_env(tmp_path):
    ppo = _script("cartpole_ppo")
    assert ppo.main(["--steps", "256", "--log-dir", str(tmp_path)]) == 0
    from rlframe.errors import ConfigError

    with pytest.raises(ConfigError, match="keeps the run's env"):
        ppo.main(["--resume", os.path.join(str(tmp_path), "cartpole_ppo", "run_0"), "--env", "Acrobot-v1"])


@pytest.mark.parametrize("name", ["cartpole_ppo", "cartpole_dqn"])
def test_checkpoint_of_other_env_fails_before_load_with_both_shapes(name, tmp_path):
    """rlpyt's 461-vs-365 story at load time: a run trained on a 461-dim env resumed on a 365-dim one."""
    import shape_bad_env  # noqa: F401  (registers the envs)
    from rlframe.errors import ShapeMismatchError
    from rlframe.logging import RunLogger

    ppo = _script(name)
    assert ppo.main(["--steps", "256", "--env", "shape_bad_env:Good461-v0", "--log-dir", str(tmp_path)]) == 0
    run_dir = os.path.join(str(tmp_path), name, "run_0")
    params = RunLogger.saved_params(run_dir)
    params["env"] = "shape_bad_env:Good365-v0"  # as if someone edited the config
    import json

    with open(os.path.join(run_dir, "params.json"), "w") as f:
        json.dump(params, f)
    with pytest.raises(ShapeMismatchError) as e:
        ppo.main(["--resume", run_dir, "--steps", "512"])
    msg = str(e.value)
    assert "checkpoint" in msg and "itr_0000000.pt" in msg and "(461,)" in msg and "(365,)" in msg


@pytest.mark.slow
def test_cartpole_ppo_defaults_reach_475(tmp_path, capsys):
    assert _script("cartpole_ppo").main(["--log-dir", str(tmp_path), "--seed", "0"]) == 0
    run_dir = os.path.join(str(tmp_path), "cartpole_ppo", "run_0")
    final_eval = _scalars(run_dir, "eval/return_mean")[-1].value
    assert final_eval >= 475
    assert "target 475: reached" in capsys.readouterr().out


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def test_readme_commands_are_what_ci_runs():
    readme = _readme()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:]]
    assert blocks[:2] == ["pip install torch==2.13.0 && pip install -e . && python experiments/placement_demo.py",
                          'pip install -e ".[test]" && pytest']
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert "pip install torch==2.13.0" in ci and 'pip install -e ".[test]" && pytest' in ci
    assert "set -euo pipefail" in ci


def test_readme_placement_snippet_runs():
    blocks = [b.split("```", 1)[0] for b in _readme().split("```python\n")[1:]]
    code = next(b for b in blocks if "MacroPlacement-v0" in b)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["obs"]["action_mask"].sum() > 0


def test_readme_launch_script_runs(tmp_path, monkeypatch):
    blocks = [b.split("```", 1)[0] for b in _readme().split("```python\n")[1:]]
    code = next(b for b in blocks if "runner.train()" in b)
    code = code.replace("n_steps=100_000", "n_steps=512").replace("log_interval_steps=10_000", "log_interval_steps=256")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert _steps(os.path.join(str(tmp_path), "runs", "cartpole_ppo", "run_0")) == [0, 256, 512]


def test_save_replay_flag_is_a_common_flag_overridable_on_resume(tmp_path):
    import json

    from common import parse_args, resolve_config, run_fields

    args = parse_args("x", env="CartPole-v1", steps=100, argv=["--save-replay"])
    assert resolve_config(args, run_fields)["save_replay"] is True
    config = resolve_config(parse_args("x", env="CartPole-v1", steps=100, argv=[]), run_fields)
    assert config["save_replay"] is False
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "params.json").write_text(json.dumps(config))
    resumed = parse_args("x", env="CartPole-v1", steps=100, argv=["--resume", str(run_dir), "--save-replay"])
    assert resolve_config(resumed, run_fields)["save_replay"] is True
