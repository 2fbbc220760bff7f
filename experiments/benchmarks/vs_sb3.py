"""What the rlframe-vs-Stable-Baselines3 benchmarks share: stopping both sides when the mean return of the
last ``window`` finished episodes reaches a target, the interleaved seed loop, medians and the summary line.

A side is a function ``run(seed) -> dict`` returning at least ``solved``, ``wall_s``, ``cpu_s`` and ``steps``
(plus any timing split it measures). :func:`interleave` runs rlframe, SB3, SB3, rlframe, ... so machine load
hits both alike, and :func:`summarise` adds the medians and ratios (``ratio_median`` = median rlframe
wall-clock / median SB3 wall-clock).
"""
from __future__ import annotations

import collections
import json
import os
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from run_meta import run_meta


def median(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None]
    return float(statistics.median(xs)) if xs else float("nan")


class Clock:
    """Wall-clock and process CPU time since construction."""

    def __init__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def stamp(self) -> Dict[str, float]:
        return {"wall_s": time.perf_counter() - self.t0, "cpu_s": time.process_time() - self.c0}


def rlframe_stopper(result: Dict[str, Any], clock: Clock, target: float, window: int) -> Callable:
    """A ``MinibatchRl`` callback that stops the run once the last ``window`` episodes average ``target``;
    it adds the runner's ``time/sample_s`` and ``time/optimize_s`` into ``result``."""
    recent: collections.deque = collections.deque(maxlen=window)
    result.setdefault("solved", False)
    result.setdefault("sample_s", 0.0)
    result.setdefault("optimize_s", 0.0)

    def stop(runner, itr, values):
        result["sample_s"] += values.get("time/sample_s", 0.0)
        result["optimize_s"] += values.get("time/optimize_s", 0.0)
        for t in runner.new_traj_infos:  # episodes finished since the last call
            recent.append(float(t.Return))
        if len(recent) == window and sum(recent) / window >= target:
            result.update(solved=True, steps=runner.env_steps, **clock.stamp())
            runner.stop()

    return stop


def sb3_stopper(result: Dict[str, Any], clock: Clock, target: float, window: int):
    """An SB3 callback doing the same check after every env step (which can only favour SB3)."""
    from stable_baselines3.common.callbacks import BaseCallback

    result.setdefault("solved", False)

    class Stop(BaseCallback):
        def __init__(self):
            super().__init__()
            self.recent: collections.deque = collections.deque(maxlen=window)

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                ep = info.get("episode")
                if ep is not None:
                    self.recent.append(float(ep["r"]))
            if len(self.recent) == window and sum(self.recent) / window >= target:
                result.update(solved=True, steps=self.num_timesteps, **clock.stamp())
                return False
            return True

    return Stop()


def interleave(n_seeds: int, runs: Dict[str, Callable[[int], Dict[str, Any]]], label: str = "",
               keys: Sequence[str] = ("wall_s", "steps", "cpu_s", "solved")) -> Dict[str, Dict[str, List[Any]]]:
    """Run every side for seeds ``0..n_seeds-1``, alternating which side goes first; returns
    ``{side: {key: [per seed]}}`` with ``keys`` plus whatever extra numbers the sides report."""
    out: Dict[str, Dict[str, List[Any]]] = {side: {k: [] for k in keys} for side in runs}
    sides = list(runs)
    for seed in range(n_seeds):
        for side in (sides if seed % 2 == 0 else sides[::-1]):
            r = runs[side](seed)
            for k, v in r.items():
                out[side].setdefault(k, []).append(v)
            extra = "  ".join(f"{k} {v:.2f}" for k, v in r.items()
                              if k not in keys and isinstance(v, float))
            print(f"{label}seed {seed} {side:8s} {'solved' if r['solved'] else 'NOT solved'} after "
                  f"{r['steps']:7,d} steps in {r['wall_s']:7.2f} s (cpu {r['cpu_s']:7.2f} s)  {extra}", flush=True)
    return out


def summarise(out: Dict[str, Any], label: str = "") -> Dict[str, Any]:
    """Add ``ratio_median`` (wall-clock), ``ratio_cpu_median`` and ``ratio_per_step_median`` to ``out`` (None
    when a side did not run) and print the table."""
    rl, sb = out.get("rlframe"), out.get("sb3")
    for d in (rl, sb):
        if d is not None:
            d["us_per_step"] = [1e6 * w / max(n, 1) for w, n in zip(d["wall_s"], d["steps"])]
    both = bool(rl and sb and rl["wall_s"] and sb["wall_s"])
    out["ratio_median"] = median(rl["wall_s"]) / median(sb["wall_s"]) if both else None
    # CPU seconds are less sensitive to other processes' load on a shared machine than wall-clock.
    out["ratio_cpu_median"] = median(rl["cpu_s"]) / median(sb["cpu_s"]) if both else None
    # Wall-clock per env step: the speed of the machinery, free of how lucky a seed's learning was.
    out["ratio_per_step_median"] = median(rl["us_per_step"]) / median(sb["us_per_step"]) if both else None
    print(f"\n{label}{'':10s} {'median wall_s':>14s} {'median cpu_s':>13s} {'median steps':>13s} {'solved':>7s}   "
          "wall_s per seed")
    for side in ("rlframe", "sb3"):
        d = out.get(side)
        if d:
            print(f"{label}{side:10s} {median(d['wall_s']):14.2f} {median(d['cpu_s']):13.2f} "
                  f"{median(d['steps']):13,.0f} {sum(map(bool, d['solved'])):>4d}/{len(d['solved']):<2d}   "
                  + " ".join(f"{w:.2f}" for w in d["wall_s"]))
    if out["ratio_median"] is not None:
        print(f"{label}ratio (median rlframe wall_s / median sb3 wall_s): {out['ratio_median']:.3f}   "
              f"(cpu_s: {out['ratio_cpu_median']:.3f}; wall-clock per env step: {out['ratio_per_step_median']:.3f})")
    return out


def only(side: Optional[str], runs: Dict[str, Callable]) -> Dict[str, Callable]:
    """``runs`` restricted to ``side`` (None: both)."""
    return {k: v for k, v in runs.items() if side in (None, k)}


def write_json(path: Optional[str], out: Dict[str, Any]) -> None:
    """Write ``out`` and the run's :func:`run_meta` to ``path`` (folders created; nothing when ``path`` is None)."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump({**out, "meta": run_meta()}, f, indent=2)
