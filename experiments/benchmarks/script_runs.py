"""Run launch scripts from ``experiments/`` as their own processes and read their run directories: the
shared part of ``sync_rl_scaling.py`` and ``async_vs_sync.py`` (each variant is a real command line, so the
figures are what a user gets).

A variant's figures: ``sps`` (env steps per second of training time, all ranks, from the last
``progress.csv`` row: ``time/env_steps / (time/elapsed_s - eval time)``), ``wall_s`` (the process's
wall-clock, start-up included), ``cpu_s`` (CPU seconds of the process and of the processes it started
and waited for: not those a forkserver started),
``steps_to_threshold`` / ``seconds_to_threshold`` (the first log row whose ``eval/return_mean`` reaches the
threshold; None when never) and the final eval return.
"""
from __future__ import annotations

import csv
import glob
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def run_variant(cmd: List[str], log_dir: str, threshold: float, timeout_s: float) -> Dict[str, Any]:
    """Run ``cmd`` (a script command line without ``--log-dir``) logging under ``log_dir``; its figures."""
    t0, cpu0 = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd + ["--log-dir", log_dir], cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - t0
    out: Dict[str, Any] = {"cmd": " ".join(cmd), "exit": proc.returncode, "wall_s": round(wall, 2),
                           "cpu_s": round(_children_cpu_s() - cpu0, 2)}
    if proc.returncode != 0:
        out["stderr_tail"] = proc.stderr[-2000:]
        return out
    rows = _rows(log_dir)
    last = rows[-1]
    eval_s = sum(float(r.get("time/eval_s") or 0.0) for r in rows)
    train_s = float(last["time/elapsed_s"]) - eval_s
    out.update(env_steps=int(float(last["time/env_steps"])), train_s=round(train_s, 2),
               sps=round(float(last["time/env_steps"]) / max(train_s, 1e-9), 1),
               final_eval=_float(last.get("eval/return_mean")), steps_to_threshold=None, seconds_to_threshold=None)
    for r in rows:
        ev = _float(r.get("eval/return_mean"))
        if ev is not None and ev >= threshold:
            out.update(steps_to_threshold=int(float(r["time/env_steps"])),
                       seconds_to_threshold=round(float(r["time/elapsed_s"]), 2))
            break
    return out


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process and its waited-for descendants."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rows(log_dir: str) -> List[Dict[str, str]]:
    paths = sorted(glob.glob(os.path.join(log_dir, "*", "run_*", "progress.csv")))
    if not paths:
        raise RuntimeError(f"no progress.csv under {log_dir}")
    with open(paths[-1]) as f:
        return list(csv.DictReader(f))


def _float(x: Optional[str]) -> Optional[float]:
    try:
        return None if x in (None, "") else float(x)
    except ValueError:
        return None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if not a or not b else round(a / b, 3)
