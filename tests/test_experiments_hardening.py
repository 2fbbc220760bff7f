"""The launch scripts against a hostile but realistic user (issue 12): bad envs given with --env module:Id,
signals, damaged run directories and bad flags all end in a named error (or correct behaviour), no hang,
no traceback from rlframe's code, and no leftovers."""
import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.test_experiments import EXPERIMENTS, _env, _script, _steps

ENV_MODULE = textwrap.dedent('''
    import time
    import gymnasium as gym
    import numpy as np

    class Odd(gym.Env):
        """CartPole-sized env misbehaving from step ``after``: "nan" observation, "abc" reward, "hang" (step or
        reset sleeps an hour)."""
        observation_space = gym.spaces.Box(-10, 10, (4,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def __init__(self, fault="nan", after=20):
            self.fault, self.after, self.total, self.t = fault, after, 0, 0

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            if self.fault == "hang_reset":
                time.sleep(3600)
            self.t = 0
            return np.zeros(4, np.float32), {}

        def step(self, action):
            self.t += 1
            self.total += 1
            bad = self.total >= self.after
            if self.fault == "hang" and bad:
                time.sleep(3600)
            obs = np.full(4, 0.1, np.float32)
            if self.fault == "nan" and bad:
                obs[0] = np.nan
            reward = "abc" if self.fault == "abc" and bad else 1.0
            return obs, reward, False, self.t >= 20, {}

    for name, kw in {"NanObs-v0": dict(fault="nan"), "AbcReward-v0": dict(fault="abc", after=0),
                     "HangStep-v0": dict(fault="hang", after=0), "HangReset-v0": dict(fault="hang_reset")}.items():
        gym.register(name, entry_point=Odd, kwargs=kw)
''')


def run_script(argv, capsys, name="cartpole_ppo"):
    """The script's ``main`` as ``python experiments/<name>.py`` runs it: (exit status, stderr)."""
    import common

    status = common.run_main(lambda: _script(name).main(argv))
    return status, capsys.readouterr().err


@pytest.fixture
def odd_envs(tmp_path, monkeypatch):
    (tmp_path / "odd_envs_h12.py").write_text(ENV_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


# --- flags (defect 6) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("flags,named", [(["--steps", "0"], "--steps 0"), (["--steps", "-5"], "--steps -5"),
                                         (["--torch-threads", "0"], "--torch-threads 0"),
                                         (["--workers", "0", "--sampler", "cpu"], "--workers 0"),
                                         (["--worker-timeout", "0"], "--worker-timeout 0")])
def test_zero_and_negative_counts_are_config_errors(tmp_path, capsys, flags, named):
    status, err = run_script(flags + ["--log-dir", str(tmp_path)], capsys)
    assert status == 2 and f"ConfigError: {named}: must be a positive" in err, err
    assert not os.listdir(tmp_path)  # nothing created


def test_unwritable_log_dir_names_the_flag(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    status, err = run_script(["--steps", "256", "--log-dir", str(tmp_path / "file" / "runs")], capsys)
    assert status == 2 and "ConfigError: cannot create the run directory" in err and "--log-dir" in err, err


def test_unknown_env_id_is_a_config_error_and_leaves_no_run_dir(tmp_path, capsys):
    status, err = run_script(["--env", "CartPol-v1", "--steps", "256", "--log-dir", str(tmp_path)], capsys)
    assert status == 2 and "ConfigError: env id 'CartPol-v1' is not registered" in err and "--env" in err, err
    assert not glob.glob(str(tmp_path / "cartpole_ppo" / "run_*"))  # defect 7: no empty run_k left


def _short_run(tmp_path, capsys, steps=512):
    status, err = run_script(["--steps", str(steps), "--log-dir", str(tmp_path)], capsys)
    assert status == 0, err
    return os.path.join(str(tmp_path), "cartpole_ppo", "run_0")


def test_corrupt_params_json_and_changed_model_sizes_are_config_errors(tmp_path, capsys, monkeypatch):
    import cartpole_ppo

    run_dir = _short_run(tmp_path, capsys)
    params = os.path.join(run_dir, "params.json")
    good = open(params).read()
    with open(params, "w") as f:
        f.write(good[: len(good) // 2])
    status, err = run_script(["--resume", run_dir, "--steps", "1024"], capsys)
    assert status == 2 and f"ConfigError: {params} is not valid JSON" in err and "rlframe checkpoint" in err, err
    config = json.loads(good)
    config["model"]["hidden_sizes"] = [32, 32]
    with open(params, "w") as f:
        json.dump(config, f)
    status, err = run_script(["--resume", run_dir, "--steps", "1024"], capsys)
    assert status == 2 and "ConfigError: checkpoint" in err and "does not fit the model" in err, err
    assert "(2, 4, 64) in the checkpoint but (2, 4, 32) in the model" in err, err


# --- bad envs through --env module:Id (defects 1, 2, 3) ------------------------------------------------------
def test_nan_observation_without_debug_stops_the_run_naming_quantity_iteration_and_debug(odd_envs, capsys):
    status, err = run_script(["--env", "odd_envs_h12:NanObs-v0", "--steps", "4096", "--log-dir", "runs"], capsys)
    assert status == 2 and "NonFiniteError: PPO: value estimate (agent_info.value) is NaN in iteration" in err, err
    assert "env steps" in err and "--debug" in err and "Traceback" not in err
    status, err = run_script(["--env", "odd_envs_h12:NanObs-v0", "--steps", "4096", "--log-dir", "runs", "--debug"],
                             capsys)
    assert status == 2 and "ShapeMismatchError: env 'odd_envs_h12:NanObs-v0'" in err and "NaN" in err, err


def test_non_numeric_reward_names_the_env(odd_envs, capsys):
    status, err = run_script(["--env", "odd_envs_h12:AbcReward-v0", "--steps", "512", "--log-dir", "runs"], capsys)
    assert status == 2 and "train env 'odd_envs_h12:AbcReward-v0'" in err and "'reward'" in err, err
    assert "str 'abc'" in err and "a number" in err


@pytest.mark.parametrize("env,call,sampler", [("HangStep-v0", "step()", "serial"),
                                              ("HangReset-v0", "reset()", "cpu")])
def test_first_step_or_reset_hang_ends_within_the_worker_timeout(odd_envs, capsys, env, call, sampler):
    t0 = time.monotonic()
    status, err = run_script(["--env", f"odd_envs_h12:{env}", "--steps", "512", "--log-dir", "runs",
                              "--sampler", sampler, "--workers", "2", "--worker-timeout", "1"], capsys)
    assert status == 2 and "EnvTimeoutError" in err and f"odd_envs_h12:{env}" in err and call in err, err
    assert "1 s" in err and time.monotonic() - t0 < 30


# --- damaged checkpoints (defect 4) ----------------------------------------------------------------------
def test_resume_skips_a_truncated_newest_checkpoint_and_continues(tmp_path, capsys):
    run_dir = _short_run(tmp_path, capsys, steps=256)
    for steps in (512, 768):  # one checkpoint per run: three in all
        assert run_script(["--resume", run_dir, "--steps", str(steps)], capsys)[0] == 0
    ckpts = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "itr_*.pt")))
    assert len(ckpts) == 3
    with open(ckpts[-1], "r+b") as f:
        f.truncate(1000)
    status, err = run_script(["--resume", run_dir, "--steps", "1280"], capsys)
    assert status == 0, err
    assert f"skipped checkpoint {os.path.basename(ckpts[-1])}" in err and "damaged" in err
    steps = _steps(run_dir)
    assert steps[-1] == 1280 and steps == sorted(set(steps))


# --- signals and leftovers (defects 5, 7) --------------------------------------------------------------------
def _start(tmp_path, *extra, session=False):
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = dict(_env(), TMPDIR=str(tmp), RLFRAME_START_METHOD="forkserver")
    return subprocess.Popen(
        [sys.executable, os.path.join(EXPERIMENTS, "cartpole_ppo.py"), "--steps", "400000", "--log-dir",
         str(tmp_path / "runs"), "--sampler", "cpu", "--workers", "2", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=str(tmp_path),
        start_new_session=session), tmp


def _wait_for(proc, pattern, timeout=240):
    deadline = time.monotonic() + timeout
    while not glob.glob(pattern):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"{pattern} did not appear in time"
        time.sleep(0.1)


def _pymp_dirs(tmp):
    return [n for n in os.listdir(tmp) if n.startswith("pymp-")]


def test_sigterm_stops_cleanly_and_prints_the_resume_command(tmp_path):
    proc, tmp = _start(tmp_path)
    run_dir = str(tmp_path / "runs" / "cartpole_ppo" / "run_0")
    try:
        _wait_for(proc, os.path.join(run_dir, "checkpoints", "itr_*.pt"))
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=120)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "Interrupted (SIGTERM)" in err and f"--resume {run_dir}" in err and "Traceback" not in err, err
    assert not _pymp_dirs(tmp)  # multiprocessing's temp dirs removed
    assert not glob.glob(os.path.join(run_dir, "checkpoints", ".*tmp*"))  # nothing half-written


def test_ctrl_c_during_worker_start_up_prints_no_traceback_and_leaves_nothing(tmp_path):
    proc, tmp = _start(tmp_path, session=True)
    try:
        _wait_for(proc, str(tmp_path / "runs" / "cartpole_ppo" / "run_0" / "params.json"))
        time.sleep(0.5)  # the master probes the env and starts the workers now
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
        err = proc.communicate(timeout=120)[1].decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Interrupted (Ctrl-C)" in err and "Traceback" not in err, err
    assert not glob.glob(str(tmp_path / "runs" / "cartpole_ppo" / "run_*")) and not _pymp_dirs(tmp)
