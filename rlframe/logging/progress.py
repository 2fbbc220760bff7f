"""``progress.csv`` (one row per log interval, columns grow as new metrics appear) and the console line."""
from __future__ import annotations

import csv
import datetime
import math
import os
from typing import Dict, List, Optional

#: Columns (and TensorBoard tags) measured with the wall clock, which differ between any two runs of the same
#: config: env steps per second, seconds spent sampling / optimizing / evaluating in the interval, and the
#: run's elapsed time (continued across resumes from the checkpoint's ``elapsed_s``). An exact resume
#: reproduces every other column and tag value (docs/scaling.md, "Resume guarantees").
WALL_CLOCK_COLUMNS = ("time/sps", "time/sample_s", "time/optimize_s", "time/eval_s", "time/elapsed_s")


class CsvProgress:
    """Appends one row per log interval to ``progress.csv``.

    When a row brings a column the file does not have yet (an eval or loss metric that starts
    later), the file is rewritten once with the wider header, so every row stays aligned.
    """

    def __init__(self, path: str):
        self.path = path
        self.fieldnames: List[str] = []
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline="") as f:
                self.fieldnames = list(next(csv.reader(f), []))

    def write(self, row: Dict[str, float]) -> None:
        new = [k for k in row if k not in self.fieldnames]
        if new:
            rows = self._read_rows()
            self.fieldnames = self.fieldnames + new
            self._rewrite(rows)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fieldnames, restval="").writerow(
                {k: _fmt(v) for k, v in row.items()})

    def truncate_after(self, column: str, last_value: float) -> int:
        """Drop rows whose ``column`` exceeds ``last_value`` (rows a killed run logged after its last
        checkpoint); returns how many were dropped."""
        rows = self._read_rows()
        keep = [r for r in rows if not _gt(r.get(column, ""), last_value)]
        if len(keep) != len(rows):
            self._rewrite(keep)
        return len(rows) - len(keep)

    def _read_rows(self) -> List[Dict[str, str]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite(self, rows: List[Dict[str, str]]) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fieldnames, restval="")
            w.writeheader()
            for r in rows:
                w.writerow({k: v for k, v in r.items() if k in self.fieldnames})
        os.replace(tmp, self.path)


def _fmt(v: object) -> object:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def _gt(text: str, value: float) -> bool:
    try:
        return float(text) > value
    except (TypeError, ValueError):
        return False


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    return str(datetime.timedelta(seconds=int(round(max(seconds, 0.0)))))


def console_line(values: Dict[str, float], n_steps: Optional[int] = None, eta_s: Optional[float] = None) -> str:
    """One progress line: iteration, steps (and % of the run), SPS, returns, elapsed and ETA."""
    steps = int(values.get("time/env_steps", 0))
    sps = values.get("time/sps", float("nan"))
    elapsed = values.get("time/elapsed_s", float("nan"))
    parts = [f"itr {int(values.get('time/itr', 0)):>5d}"]
    if n_steps:
        parts.append(f"steps {steps:>10,d}/{int(n_steps):,d} ({100.0 * steps / n_steps:5.1f}%)")
    else:
        parts.append(f"steps {steps:>10,d}")
    parts.append(f"SPS {sps:>8,.0f}" if math.isfinite(sps) else "SPS        ?")
    ret = values.get("rollout/return_mean")
    parts.append(f"return {ret:9.2f}" if ret is not None and math.isfinite(ret) else "return         -")
    ev = values.get("eval/return_mean")
    if ev is not None and math.isfinite(ev):
        parts.append(f"eval {ev:9.2f}")
    parts.append(f"elapsed {format_duration(elapsed)}")
    parts.append(f"ETA {format_duration(eta_s)}")
    return " | ".join(parts)
