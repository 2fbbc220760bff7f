"""The run directory and its logger (DESIGN.md, "Logging and runs").

A run directory holds::

    params.json        the whole configuration (JSON-safe)
    progress.csv       one row per log interval
    events.out.tfevents.*   TensorBoard scalars (x-axis: env steps), hparams and text
    checkpoints/       itr_XXXXXXX.pt, written atomically, the newest ``keep_checkpoints`` kept

Launch scripts open one with :func:`logger_context`; runners find it with :func:`get_logger` (as in
rlpyt's ``logger_context``), so a runner used outside any context still prints its progress line.
Resuming (``resume=RUN_DIR``) reopens the same directory: the newest checkpoint is loaded, rows and
TensorBoard events a killed run wrote after that checkpoint are dropped (TensorBoard's ``purge_step``),
and logging continues at the checkpoint's env-step count.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from rlframe.core.distributed import is_main_process
from rlframe.errors import CheckpointError, ConfigError
from rlframe.logging import checkpoint as ckpt
from rlframe.logging.progress import CsvProgress, console_line
from rlframe.logging.serialize import flatten, to_jsonable

_STACK: List["RunLogger"] = []


class RunLogger:
    """Writes a run's params, progress rows, TensorBoard events and checkpoints.

    Args:
        run_dir: the run directory (created); ``None`` gives a console-only logger writing no files.
        params: the run's configuration, saved as ``params.json`` and as TensorBoard hparams/text.
        use_tensorboard: write TensorBoard event files.
        resume: reopen ``run_dir`` and load its newest checkpoint into :attr:`resume_state`.
        keep_checkpoints: how many checkpoints to keep (``None``: all).
        console: print one progress line per :meth:`log` call.
        print_fn: where console lines go (``print`` by default).
    """

    def __init__(
        self,
        run_dir: Optional[str],
        params: Optional[Dict[str, Any]] = None,
        use_tensorboard: bool = True,
        resume: bool = False,
        keep_checkpoints: Optional[int] = 3,
        console: bool = True,
        print_fn: Callable[[str], None] = print,
    ):
        self.run_dir = None if run_dir is None else os.path.abspath(run_dir)
        self.keep_checkpoints = keep_checkpoints
        self.console = console
        self._print = print_fn
        self.resume_state: Optional[Dict[str, Any]] = None
        self.params: Dict[str, Any] = to_jsonable(dict(params or {}))
        self.n_steps: Optional[int] = None  # runners set it, for the console's percentage
        self._writer = None
        self._csv: Optional[CsvProgress] = None
        if self.run_dir is None:
            if resume:
                raise ConfigError("resume needs a run directory.")
            return
        if resume:
            self._open_for_resume()
        else:
            self._open_fresh()
        self._csv = CsvProgress(os.path.join(self.run_dir, "progress.csv"))
        start_step = 0
        if self.resume_state is not None:
            start_step = int(self.resume_state.get("env_steps", 0))
            self._csv.truncate_after("time/env_steps", start_step)
        if use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events a killed run wrote after its last checkpoint.
            self._writer = SummaryWriter(self.run_dir, purge_step=start_step + 1 if self.resume_state else None)
            if self.resume_state is None:
                self._log_hparams()

    # --- opening --------------------------------------------------------------------------------
    def _open_fresh(self) -> None:
        if ckpt.list_checkpoints(self.checkpoint_dir):
            raise ConfigError(
                f"run directory {self.run_dir} already holds checkpoints: resume it (resume=RUN_DIR / --resume) "
                "or log to a new directory."
            )
        try:
            os.makedirs(self.checkpoint_dir, exist_ok=True)
            self._write_params()
        except OSError as e:
            raise ConfigError(
                f"cannot create the run directory {self.run_dir} ({type(e).__name__}: {e.strerror or e}): choose a "
                "writable log directory (the scripts' --log-dir, logger_context's log_dir)."
            ) from None

    def _open_for_resume(self) -> None:
        if not os.path.isdir(self.run_dir):
            raise CheckpointError(f"cannot resume: run directory {self.run_dir} does not exist.")
        ckpt.remove_stale_temp_files(self.checkpoint_dir)
        path = ckpt.latest_checkpoint(self.checkpoint_dir)
        if path is None:
            raise CheckpointError(
                f"cannot resume {self.run_dir}: no checkpoint in {self.checkpoint_dir} (the run stopped before "
                "its first log interval); start a new run instead."
            )
        self.resume_state = ckpt.load_newest_intact(self.checkpoint_dir)
        path = self.resume_state["path"]
        if not self.params:
            self.params = self.saved_params(self.run_dir)
        self.params = dict(self.params, resumed_from=os.path.basename(path))
        self._write_params()

    @staticmethod
    def saved_params(run_dir: str) -> Dict[str, Any]:
        """The ``params.json`` of an existing run directory (empty dict when absent)."""
        path = os.path.join(run_dir, "params.json")
        if not os.path.exists(path):
            return {}
        try:
            with open(path) as f:
                params = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"{path} is not valid JSON ({e}): restore it from a checkpoint (each holds the run's params: "
                f"`rlframe checkpoint {run_dir} --json`) or start a new run."
            ) from None
        if not isinstance(params, dict):
            raise ConfigError(f"{path} holds a {type(params).__name__}, not the run's config (a JSON object): restore "
                              f"it from a checkpoint (`rlframe checkpoint {run_dir} --json`) or start a new run.")
        return params

    def _write_params(self) -> None:
        tmp = os.path.join(self.run_dir, "params.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.params, f, indent=2, sort_keys=True)
        os.replace(tmp, os.path.join(self.run_dir, "params.json"))

    def _log_hparams(self) -> None:
        from torch.utils.tensorboard.summary import hparams

        flat = flatten(self.params)
        if not flat:
            return
        metrics = {"eval/return_mean": float("nan"), "rollout/return_mean": float("nan")}
        for summary in hparams(flat, metrics):
            self._writer.file_writer.add_summary(summary)
        self._writer.add_text("params", "```\n" + json.dumps(self.params, indent=2, sort_keys=True) + "\n```", 0)

    # --- paths ------------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Optional[str]:
        return None if self.run_dir is None else os.path.join(self.run_dir, "checkpoints")

    def tensorboard_command(self) -> str:
        return f"tensorboard --logdir {self.run_dir}" if self.run_dir else ""

    # --- logging ------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        if self.console:
            self._print(message)
            _flush()

    def log(self, values: Dict[str, float], step: int, eta_s: Optional[float] = None) -> None:
        """One log interval: a CSV row, TensorBoard scalars at ``step`` (env steps), a console line."""
        if self._csv is not None:
            self._csv.write(values)
        if self._writer is not None:
            wall = time.time()
            for tag, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(float(v)):
                    self._writer.add_scalar(tag, float(v), global_step=int(step), walltime=wall)
            self._writer.flush()
        if self.console:
            self._print(console_line(values, self.n_steps, eta_s))
            _flush()

    def add_image(self, tag: str, image: Any, step: int, dataformats: str = "HWC") -> None:
        """An image (e.g. an env's rendered episode) at ``step`` env steps; a no-op without TensorBoard."""
        if self._writer is not None:
            self._writer.add_image(tag, image, global_step=int(step), dataformats=dataformats)

    def add_text(self, tag: str, text: str, step: int = 0) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text, global_step=int(step))

    # --- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, state: Dict[str, Any], itr: int) -> Optional[str]:
        """Write ``state`` (plus this run's params) atomically; returns the path (None without a run dir)."""
        if self.run_dir is None:
            return None
        return ckpt.save_checkpoint(dict(state, params=self.params), self.checkpoint_dir, itr, self.keep_checkpoints)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None


def _flush() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def next_run_dir(log_dir: str, name: str) -> str:
    """``log_dir/name/run_<k>`` with the smallest unused ``k``."""
    base = os.path.join(log_dir, name)
    k = 0
    while os.path.exists(os.path.join(base, f"run_{k}")):
        k += 1
    return os.path.join(base, f"run_{k}")


@contextlib.contextmanager
def logger_context(
    log_dir: str = "runs",
    run_ID: Optional[Any] = None,
    name: str = "run",
    params: Optional[Dict[str, Any]] = None,
    use_tensorboard: bool = True,
    resume: Optional[str] = None,
    keep_checkpoints: Optional[int] = 3,
    console: bool = True,
    log_params: Optional[Dict[str, Any]] = None,
    use_summary_writer: Optional[bool] = None,
    snapshot_mode: Optional[str] = None,
) -> Iterator[RunLogger]:
    """Open a run directory for the runners inside the ``with`` block (rlpyt's ``logger_context``).

    The directory is ``log_dir/name/run_<run_ID>`` (the next free number when ``run_ID`` is None), or
    ``resume`` itself to continue a stopped run from its newest checkpoint. rlpyt's call forms work:
    ``logger_context(log_dir, run_ID, name, config)`` and its keywords ``log_params`` (= ``params``) and
    ``use_summary_writer`` (= ``use_tensorboard``) and ``snapshot_mode`` ("last": keep one checkpoint, "all":
    keep every one).

    A new run that ends in an exception before its first checkpoint leaves nothing behind: its directory
    is removed (:func:`last_run_dir` still names it, for messages).
    """
    params = params if log_params is None else log_params
    use_tensorboard = use_tensorboard if use_summary_writer is None else bool(use_summary_writer)
    if snapshot_mode is not None:
        if snapshot_mode not in ("last", "all"):
            raise ConfigError(f"snapshot_mode {snapshot_mode!r}: rlframe checkpoints at every log interval; give "
                              "'last' (keep the newest) or 'all' (keep every one), or keep_checkpoints=N.")
        keep_checkpoints = 1 if snapshot_mode == "last" else None
    if not is_main_process():  # a SyncRl rank > 0 (runners/sync_rl.py): rank 0 alone writes the run directory
        run_dir, resume = None, None
    elif resume is not None:
        run_dir = resume
    elif run_ID is None:
        run_dir = next_run_dir(log_dir, name)
    else:
        run_dir = os.path.join(log_dir, name, f"run_{run_ID}")
    if run_dir is not None:
        _LAST_RUN_DIR[:] = [os.path.abspath(run_dir)]
    created = run_dir is not None and resume is None and not os.path.exists(run_dir)
    try:
        logger = RunLogger(run_dir, params, use_tensorboard=use_tensorboard, resume=resume is not None,
                           keep_checkpoints=keep_checkpoints, console=console)
    except BaseException:
        if created:
            remove_unfinished_run(run_dir)
        raise
    _STACK.append(logger)
    try:
        yield logger
    except BaseException:
        _STACK.remove(logger)
        logger.close()
        if created:
            remove_unfinished_run(run_dir)
        raise
    _STACK.remove(logger)
    logger.close()


_LAST_RUN_DIR: List[str] = []


def last_run_dir() -> Optional[str]:
    """The run directory the latest :func:`logger_context` opened (also after it closed), or None."""
    return _LAST_RUN_DIR[0] if _LAST_RUN_DIR else None


def remove_unfinished_run(run_dir: str) -> bool:
    """Delete a new run's directory that holds no checkpoint (the run failed before its first one), so failed
    runs leave no ``run_<k>`` behind; True if removed. A directory with a checkpoint is kept for ``--resume``."""
    import shutil

    if not os.path.isdir(run_dir) or ckpt.list_checkpoints(os.path.join(run_dir, "checkpoints")):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    parent = os.path.dirname(os.path.abspath(run_dir))
    try:
        os.rmdir(parent)  # the script's folder (log_dir/name), when this run was its only one
    except OSError:
        pass
    return not os.path.exists(run_dir)


def get_logger() -> Optional[RunLogger]:
    """The innermost open :func:`logger_context`'s logger, or None."""
    return _STACK[-1] if _STACK else None
