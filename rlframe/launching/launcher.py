"""Fill a machine with a grid of experiments: ``rlframe launch`` (rlpyt's ``launching.exp_launcher``).

rlpyt's ``run_experiments`` started one process per variant of a sweep, each pinned to its own slice of the
machine through an affinity code (Stooke & Abbeel, 2019, "rlpyt", Sec. 4). Here the same idea is a plain
command::

    rlframe launch experiments/cartpole_ppo.py --variant seed=0,1,2 --variant sampler=serial,cpu \\
        --n-parallel 2 --log-dir runs/sweep -- --steps 20000

Every combination of the ``--variant KEY=V1,V2`` values is one run of ``SCRIPT --KEY V ... --log-dir
DIR/<variant> SCRIPT-ARGS``, started as its own process (at most ``--n-parallel`` at once), pinned with
``psutil``-compatible ``os.sched_setaffinity`` to its own CPUs, with its torch thread count set to the number
of those CPUs and, when GPUs exist, one GPU (``CUDA_VISIBLE_DEVICES``). A variant that fails is reported and
does not stop the others; Ctrl-C (or SIGTERM) stops every running variant through the script's own interrupt
path, so each prints its resume command. At the end ``DIR/summary.csv`` and a printed table give, per variant,
the final eval return, env steps, wall-clock and exit status (read from the run's ``progress.csv``).
"""
from __future__ import annotations

import csv
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from rlframe.errors import ConfigError
from rlframe.launching.affinity import available_cpus

SUMMARY_FILE = "summary.csv"
SUMMARY_FIELDS = ("variant", "status", "exit_code", "eval_return", "env_steps", "wall_s", "run_dir")
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass
class Variant:
    """One point of the grid: its flag values and the directory it logs to."""

    values: Dict[str, str]
    name: str


@dataclass
class LaunchedRun:
    """A variant's process and what the summary reports about it."""

    variant: Variant
    log_dir: str
    argv: List[str]
    cpus: List[int]
    gpu: Optional[int] = None
    process: Optional[subprocess.Popen] = None
    start: float = 0.0
    wall_s: float = 0.0
    exit_code: Optional[int] = None
    interrupted: bool = False
    results: Dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.exit_code is None:
            return "not started"
        if self.interrupted:
            return "interrupted"
        return "ok" if self.exit_code == 0 else "failed"


def parse_variant(spec: str) -> Tuple[str, List[str]]:
    """``"KEY=V1,V2"`` -> ``("KEY", ["V1", "V2"])``; a malformed spec is a :class:`ConfigError`."""
    key, sep, values = spec.partition("=")
    key = key.strip().lstrip("-")
    items = [v.strip() for v in values.split(",")]
    if not sep or not key or not all(items):
        raise ConfigError(f"--variant {spec!r}: expected KEY=V1,V2,... (e.g. --variant seed=0,1,2), with a "
                          "non-empty key and no empty value.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
        raise ConfigError(f"--variant {spec!r}: the key {key!r} must be a flag name of the script (letters, "
                          "digits, '-' and '_'), e.g. seed or learning-rate.")
    return key, items


def make_grid(specs: Sequence[str]) -> List[Variant]:
    """The product of the ``--variant`` specs, in the order given (the last key varies fastest)."""
    parsed = [parse_variant(s) for s in specs]
    keys = [k for k, _ in parsed]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--variant keys repeat ({keys}): give each key once, with all its values.")
    grid = []
    for combo in itertools.product(*(values for _, values in parsed)):
        values = dict(zip(keys, combo))
        name = "_".join(f"{k}-{_SAFE.sub('_', v)}" for k, v in values.items()) or "default"
        grid.append(Variant(values, name))
    return grid


def cpu_slots(n_parallel: int, cpus: Optional[Sequence[int]] = None) -> List[List[int]]:
    """``n_parallel`` disjoint CPU sets covering ``cpus`` (all usable CPUs by default); with more slots than
    CPUs, slots share single CPUs round-robin."""
    pool = list(cpus) if cpus is not None else available_cpus()
    if n_parallel >= len(pool):
        return [[pool[i % len(pool)]] for i in range(n_parallel)]
    size = len(pool) // n_parallel
    return [pool[i * size:(i + 1) * size] for i in range(n_parallel)]


def variant_argv(script: str, variant: Variant, log_dir: str, script_args: Sequence[str], torch_threads: int
                 ) -> List[str]:
    """The command line of one variant: the script, its variant flags, its log directory, torch threads
    (unless given), then the user's script arguments."""
    argv = [sys.executable, script]
    for key, value in variant.values.items():
        argv += [f"--{key.replace('_', '-')}", value]
    argv += ["--log-dir", log_dir]
    given = set(script_args) | {f"--{k.replace('_', '-')}" for k in variant.values}
    if "--torch-threads" not in given:
        argv += ["--torch-threads", str(torch_threads)]
    return argv + list(script_args)


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable torch/CUDA means no GPU to hand out
        return 0


def _start(run: LaunchedRun) -> None:
    os.makedirs(run.log_dir, exist_ok=True)
    env = dict(os.environ)
    threads = str(len(run.cpus))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    if run.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(run.gpu)
    cpus = set(run.cpus)

    def pin() -> None:  # runs in the child before exec: everything it starts inherits the mask
        if hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(0, cpus)
            except OSError:
                pass  # a CPU outside the container's mask: run unpinned rather than not at all

    log = open(os.path.join(run.log_dir, "launch.log"), "w")
    try:
        run.process = subprocess.Popen(run.argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       preexec_fn=pin, start_new_session=True)
    finally:
        log.close()
    run.start = time.monotonic()


def _collect(run: LaunchedRun, code: int) -> None:
    run.exit_code = code
    run.wall_s = time.monotonic() - run.start
    run.results = read_results(run.log_dir)


def read_results(log_dir: str) -> Dict[str, str]:
    """The last logged values of the newest run under ``log_dir``: eval return, env steps, run directory."""
    newest, newest_time = None, -1.0
    for root, _, files in os.walk(log_dir):
        if "progress.csv" in files:
            path = os.path.join(root, "progress.csv")
            if os.path.getmtime(path) > newest_time:
                newest, newest_time = path, os.path.getmtime(path)
    if newest is None:
        return {}
    with open(newest, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {"run_dir": os.path.dirname(newest)}
    evals = [r["eval/return_mean"] for r in rows if r.get("eval/return_mean")]
    if evals:
        out["eval_return"] = evals[-1]
    if rows and rows[-1].get("time/env_steps"):
        out["env_steps"] = str(int(float(rows[-1]["time/env_steps"])))
    return out


def _stop_all(running: List[LaunchedRun], timeout_s: float) -> None:
    """SIGINT to every running variant's process group (their own Ctrl-C path), SIGKILL after ``timeout_s``."""
    for run in running:
        run.interrupted = True
        _signal_group(run, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for run in running:
        try:
            code = run.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(run, signal.SIGKILL)
            code = run.process.wait(timeout=10)
        _collect(run, code)


def _signal_group(run: LaunchedRun, sig: int) -> None:
    try:
        os.killpg(run.process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def launch(script: str, variants: Sequence[str], n_parallel: int = 1, log_dir: str = "runs/launch",
           script_args: Sequence[str] = (), poll_s: float = 0.2, stop_timeout_s: float = 30.0,
           cpus: Optional[Sequence[int]] = None) -> List[LaunchedRun]:
    """Run every variant of the grid, at most ``n_parallel`` at once, and write ``log_dir/summary.csv``.

    Returns the runs (their exit codes, wall-clock and final values). Ctrl-C stops the running variants
    cleanly and skips the ones not started; the summary is written either way.
    """
    if not os.path.isfile(script):
        raise ConfigError(f"rlframe launch: no script {script!r}; give the path of a launch script, e.g. "
                          "experiments/cartpole_ppo.py.")
    if int(n_parallel) < 1:
        raise ConfigError(f"--n-parallel must be >= 1, got {n_parallel}.")
    grid = make_grid(variants)
    slots = cpu_slots(min(int(n_parallel), len(grid)), cpus)
    n_gpu = _gpu_count()
    runs = []
    for i, v in enumerate(grid):
        run_dir = os.path.join(log_dir, v.name)
        runs.append(LaunchedRun(v, run_dir, [], cpus=[], gpu=(i % n_gpu) if n_gpu else None))
    pending, running, free = list(runs), [], list(range(len(slots)))
    slot_of: Dict[int, int] = {}
    try:
        while pending or running:
            while pending and free:
                run, slot = pending.pop(0), free.pop(0)
                run.cpus = slots[slot]
                run.argv = variant_argv(script, run.variant, run.log_dir, script_args, len(run.cpus))
                _start(run)
                slot_of[id(run)] = slot
                running.append(run)
                print(f"[launch] started {run.variant.name} on CPUs {run.cpus} (pid {run.process.pid})", flush=True)
            for run in list(running):
                code = run.process.poll()
                if code is not None:
                    _collect(run, code)
                    running.remove(run)
                    free.append(slot_of.pop(id(run)))
                    print(f"[launch] {run.variant.name}: {run.status} (exit {code}, {run.wall_s:.1f} s)", flush=True)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        print(f"[launch] interrupted: stopping {len(running)} running variant(s), skipping {len(pending)}.",
              file=sys.stderr, flush=True)
        _stop_all(running, stop_timeout_s)
    write_summary(runs, log_dir)
    return runs


def write_summary(runs: Sequence[LaunchedRun], log_dir: str) -> str:
    """Write ``log_dir/summary.csv`` and print the same table; returns the CSV path."""
    os.makedirs(log_dir, exist_ok=True)
    rows = [{"variant": r.variant.name, "status": r.status,
             "exit_code": "" if r.exit_code is None else r.exit_code,
             "eval_return": r.results.get("eval_return", ""), "env_steps": r.results.get("env_steps", ""),
             "wall_s": f"{r.wall_s:.1f}" if r.exit_code is not None else "",
             "run_dir": r.results.get("run_dir", r.log_dir)} for r in runs]
    path = os.path.join(log_dir, SUMMARY_FILE)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        w.writeheader()
        w.writerows(rows)
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in SUMMARY_FIELDS[:-1]}
    print("  ".join(k.ljust(widths[k]) for k in widths))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in widths))
    print(f"summary: {path}", flush=True)
    return path
