"""Replay buffers for off-policy algorithms (docs/replays.md): built from the sampler's examples,
``append_samples(samples)``, ``sample_batch(batch_B)``, ``update_batch_priorities(priorities)``."""
from rlframe.replays.base import BaseReplayBuffer, ReplayBatch, ReplayFields
from rlframe.replays.frame import FrameReplayBuffer, PrioritizedFrameReplayBuffer
from rlframe.replays.prioritized import PrioritizedReplayBuffer
from rlframe.replays.sequence import PrioritizedSequenceReplayBuffer, SequenceBatch, SequenceReplayBuffer
from rlframe.replays.sum_tree import SumTree
from rlframe.replays.uniform import UniformReplayBuffer

__all__ = [
    "BaseReplayBuffer", "FrameReplayBuffer", "PrioritizedFrameReplayBuffer", "PrioritizedReplayBuffer",
    "PrioritizedSequenceReplayBuffer", "ReplayBatch", "ReplayFields", "SequenceBatch", "SequenceReplayBuffer",
    "SumTree", "UniformReplayBuffer",
]
