"""Runners: the training loop that composes sampler, agent and algorithm, with logging and checkpoints."""
from rlframe.runners.minibatch_rl import MinibatchRl, MinibatchRlEval

__all__ = ["MinibatchRl", "MinibatchRlEval"]
