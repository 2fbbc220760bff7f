"""Samplers: fill ``[T, B]`` sample buffers from envs with an agent (serial here, parallel in ``parallel/``)."""
from rlframe.samplers.base import (
    AgentSamples, AgentSamplesBsv, BaseSampler, BatchSpec, EnvSamples, Samples, TrajInfo, next_observation,
    valid_mask,
)
from rlframe.samplers.buffer import build_samples_buffer
from rlframe.samplers.collectors import (
    BaseCollector, EvalCollector, ResetCollector, WaitResetCollector, valid_from_done,
)
from rlframe.samplers.serial import SerialSampler

__all__ = [
    "AgentSamples", "AgentSamplesBsv", "BaseSampler", "BatchSpec", "EnvSamples", "Samples", "TrajInfo",
    "build_samples_buffer", "BaseCollector", "ResetCollector", "WaitResetCollector", "EvalCollector",
    "valid_from_done", "valid_mask", "next_observation", "SerialSampler",
]
