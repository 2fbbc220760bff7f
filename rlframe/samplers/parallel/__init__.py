"""Parallel samplers: envs stepped in worker processes writing into a shared ``[T, B]`` buffer.

- :class:`CpuSampler`: an agent copy per worker, one synchronisation per batch.
- :class:`GpuSampler`: the agent in the master (CUDA when available), per-step handshakes.
- :class:`AlternatingSampler`: a GpuSampler whose two worker groups alternate, overlapping inference and stepping.

See docs/samplers.md for which to use, how faults surface and the measured throughput.
"""
from rlframe.samplers.parallel.alternating import AlternatingSampler
from rlframe.samplers.parallel.base import ParallelSamplerBase
from rlframe.samplers.parallel.cpu import CpuSampler
from rlframe.samplers.parallel.gpu import GpuSampler

__all__ = ["AlternatingSampler", "CpuSampler", "GpuSampler", "ParallelSamplerBase"]
