"""Run directories, progress logging (console, CSV, TensorBoard) and checkpoints."""
from rlframe.logging.checkpoint import (
    check_specs,
    env_specs_json,
    latest_checkpoint,
    list_checkpoints,
    load_agent_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from rlframe.logging.logger import RunLogger, get_logger, logger_context
from rlframe.logging.metrics import mean_finite, opt_stats, traj_stats

__all__ = [
    "RunLogger",
    "logger_context",
    "get_logger",
    "save_checkpoint",
    "load_checkpoint",
    "load_agent_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "check_specs",
    "env_specs_json",
    "traj_stats",
    "opt_stats",
    "mean_finite",
]
