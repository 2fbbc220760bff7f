"""``AsyncSerialSampler``, ``AsyncCpuSampler`` and ``AsyncGpuSampler``: rlpyt's asynchronous samplers
(Stooke & Abbeel, 2019, section 2.3), each a synchronous sampler run in a sampler process that appends to a
shared replay while the optimizer trains (``samplers/async_/base.py``).

- :class:`AsyncSerialSampler`: all envs stepped by the sampler process itself (one extra process; the
  choice on two cores).
- :class:`AsyncCpuSampler`: the sampler process runs a :class:`~rlframe.samplers.parallel.cpu.CpuSampler`,
  whose worker processes each step their envs with a copy of the agent (shared weights).
- :class:`AsyncGpuSampler`: the sampler process runs a :class:`~rlframe.samplers.parallel.gpu.GpuSampler`:
  its workers only step envs (CPU), and the agent acts for all envs at once in the sampler process, on
  ``device`` (default: CUDA when available, else CPU) - the action server; the optimizer's weights are copied
  to it before every batch.
"""
from __future__ import annotations

from typing import Any

import torch

from rlframe.samplers.async_.base import AsyncSampler
from rlframe.samplers.parallel.cpu import CpuSampler
from rlframe.samplers.parallel.gpu import GpuSampler
from rlframe.samplers.serial import SerialSampler


class AsyncSerialSampler(AsyncSampler):
    """A :class:`SerialSampler` in the sampler process; takes its arguments and :class:`AsyncSampler`'s."""

    SamplerCls = SerialSampler

    def __init__(self, *args: Any, n_workers: Any = None, **kwargs: Any):
        # n_workers is accepted (and ignored) so that scripts can swap sampler classes with the same arguments
        super().__init__(*args, **kwargs)


class AsyncCpuSampler(AsyncSampler):
    """A :class:`CpuSampler` (``n_workers`` env worker processes) in the sampler process; takes its
    arguments and :class:`AsyncSampler`'s."""

    SamplerCls = CpuSampler


class AsyncGpuSampler(AsyncSampler):
    """A :class:`GpuSampler` in the sampler process, its agent on ``device`` (default ``"cuda"`` when
    available, else CPU); takes its arguments and :class:`AsyncSampler`'s."""

    SamplerCls = GpuSampler

    def __init__(self, *args: Any, device: Any = None, **kwargs: Any):
        if device is None:
            device = "cuda" if torch.cuda.is_available() else None
        super().__init__(*args, device=device, **kwargs)
