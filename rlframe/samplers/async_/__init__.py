"""Asynchronous samplers: workers collect the next batch while the optimizer trains (``runners/async_rl.py``).

- :class:`AsyncCpuSampler`: CpuSampler workers, a double buffer, at most one batch ahead.
- :class:`AsyncSerialSampler`: the same with one sampling process for all envs.
"""
from rlframe.samplers.async_.cpu import AsyncCpuSampler, AsyncSerialSampler

__all__ = ["AsyncCpuSampler", "AsyncSerialSampler"]
