"""Runners: the training loop that composes sampler, agent and algorithm, with logging and checkpoints."""
from rlframe.runners.minibatch_rl import MinibatchRl, MinibatchRlEval
from rlframe.runners.sync_rl import SyncRl, SyncRlEval

__all__ = ["MinibatchRl", "MinibatchRlEval", "SyncRl", "SyncRlEval"]
