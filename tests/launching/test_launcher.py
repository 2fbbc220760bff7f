"""rlframe launch: grid products, CPU slots, a failing variant, the summary, Ctrl-C stopping every variant."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rlframe.errors import ConfigError
from rlframe.launching.launcher import cpu_slots, launch, make_grid, parse_variant, variant_argv

# A stand-in launch script: takes the common flags, writes a progress.csv like a run does, fails for seed 13,
# and with --sleep waits (to be interrupted), reporting the CPUs it was pinned to.
FAKE_SCRIPT = textwrap.dedent('''
    import argparse, csv, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", default="1")
    p.add_argument("--log-dir")
    p.add_argument("--torch-threads", type=int)
    p.add_argument("--sleep", type=float, default=0)
    a = p.parse_args()
    run = os.path.join(a.log_dir, "fake", "run_0")
    os.makedirs(run)
    with open(os.path.join(run, "cpus.txt"), "w") as f:
        f.write(" ".join(map(str, sorted(os.sched_getaffinity(0)))) + f" threads={a.torch_threads}")
    if a.seed == 13:
        sys.exit("env exploded")
    try:
        time.sleep(a.sleep)
    except KeyboardInterrupt:
        open(os.path.join(run, "interrupted"), "w").close()
        sys.exit(130)
    with open(os.path.join(run, "progress.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time/env_steps", "eval/return_mean"])
        w.writerow([100, 1.5])
        w.writerow([200, float(a.seed) + float(a.lr)])
''')


@pytest.fixture
def fake_script(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text(FAKE_SCRIPT)
    return str(path)


def test_grid_is_the_product_named_by_values():
    grid = make_grid(["seed=0,1", "lr=1e-3,3e-4,0.01"])
    assert len(grid) == 6
    assert grid[0].values == {"seed": "0", "lr": "1e-3"} and grid[0].name == "seed-0_lr-1e-3"
    assert len({v.name for v in grid}) == 6


@pytest.mark.parametrize("spec", ["seed", "seed=", "=1,2", "seed=1,,2", "se ed=1"])
def test_malformed_variant_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="--variant"):
        parse_variant(spec)


def test_repeated_key_is_refused():
    with pytest.raises(ConfigError, match="repeat"):
        make_grid(["seed=0", "seed=1"])


def test_cpu_slots_are_disjoint_or_shared_round_robin():
    assert cpu_slots(2, [0, 1, 2, 3]) == [[0, 1], [2, 3]]
    assert cpu_slots(3, [0, 1]) == [[0], [1], [0]]


def test_argv_adds_torch_threads_unless_given():
    v = make_grid(["learning_rate=0.1"])[0]
    argv = variant_argv("s.py", v, "d", ["--steps", "10"], 2)
    assert argv[1:] == ["s.py", "--learning-rate", "0.1", "--log-dir", "d", "--torch-threads", "2", "--steps", "10"]
    assert "2" not in variant_argv("s.py", v, "d", ["--torch-threads", "3"], 2)[-2:]


@pytest.mark.timeout(120)
def test_launch_runs_every_variant_and_reports_a_failure(fake_script, tmp_path):
    log_dir = str(tmp_path / "sweep")
    runs = launch(fake_script, ["seed=0,13,2", "lr=1"], n_parallel=2, log_dir=log_dir, cpus=[0, 1])
    status = {r.variant.name: r.status for r in runs}
    assert status == {"seed-0_lr-1": "ok", "seed-13_lr-1": "failed", "seed-2_lr-1": "ok"}
    with open(os.path.join(log_dir, "summary.csv")) as f:
        rows = {r["variant"]: r for r in csv.DictReader(f)}
    assert rows["seed-2_lr-1"]["eval_return"] == "3.0" and rows["seed-2_lr-1"]["env_steps"] == "200"
    assert rows["seed-13_lr-1"]["status"] == "failed" and rows["seed-13_lr-1"]["exit_code"] == "1"
    assert "env exploded" in open(os.path.join(log_dir, "seed-13_lr-1", "launch.log")).read()
    pinned = {open(os.path.join(log_dir, n, "fake", "run_0", "cpus.txt")).read() for n in status}
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        assert pinned == {"0 threads=1", "1 threads=1"}


def test_missing_script_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no script"):
        launch(str(tmp_path / "nope.py"), ["seed=0"], log_dir=str(tmp_path))


@pytest.mark.timeout(120)
def test_ctrl_c_stops_every_variant_and_writes_the_summary(fake_script, tmp_path):
    log_dir = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "rlframe.cli", "launch", fake_script, "--variant", "seed=0,1,2",
           "--n-parallel", "2", "--log-dir", str(log_dir), "--", "--sleep", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len(list(log_dir.glob("*/fake/run_0/cpus.txt"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert len(list(log_dir.glob("*/fake/run_0/interrupted"))) == 2, out  # each stopped through its Ctrl-C path
    rows = list(csv.DictReader(open(log_dir / "summary.csv")))
    assert sorted(r["status"] for r in rows) == ["interrupted", "interrupted", "not started"]


@pytest.mark.timeout(300)
def test_launch_a_real_experiment_script_over_two_seeds(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "cartpole_ppo.py")
    log_dir = str(tmp_path / "grid")
    runs = launch(script, ["seed=0,1"], n_parallel=2, log_dir=log_dir, script_args=["--steps", "512"])
    assert [r.status for r in runs] == ["ok", "ok"], [open(os.path.join(r.log_dir, "launch.log")).read() for r in runs]
    rows = list(csv.DictReader(open(os.path.join(log_dir, "summary.csv"))))
    assert [r["variant"] for r in rows] == ["seed-0", "seed-1"]
    for r in rows:
        assert float(r["env_steps"]) >= 512 and r["eval_return"] != ""
        assert os.path.isfile(os.path.join(r["run_dir"], "params.json"))
