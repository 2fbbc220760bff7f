"""Asynchronous samplers (``runners/async_rl.py``): a sampler process appends each batch to a replay in shared
memory while the optimizer trains from it (``base.py``).

- :class:`AsyncSerialSampler`: the sampler process steps all envs.
- :class:`AsyncCpuSampler`: the sampler process runs a CpuSampler (env worker processes with agent copies).
- :class:`AsyncGpuSampler`: the sampler process runs a GpuSampler (env workers on CPU, the agent acting for all
  envs in the sampler process on the model's device).
"""
from rlframe.samplers.async_.base import AsyncSampler
from rlframe.samplers.async_.cpu import AsyncCpuSampler, AsyncGpuSampler, AsyncSerialSampler

__all__ = ["AsyncCpuSampler", "AsyncGpuSampler", "AsyncSampler", "AsyncSerialSampler"]
