"""``AsyncRl`` and ``AsyncRlEval``: the optimizer trains from a shared replay while a sampler process fills it.

rlpyt's ``AsyncRl`` (Stooke & Abbeel, 2019, section 2.3) runs sampling and optimization concurrently for
replay-based algorithms, whose updates need not wait for the newest data. Here the sampler runs in its own
process (``samplers/async_/``: ``AsyncSerialSampler``, ``AsyncCpuSampler``, ``AsyncGpuSampler``) and appends
each batch to the algorithm's replay, which lives in shared memory (``replays/shared.py``); this process
samples training batches from it at the same time. The runner is the
:class:`~rlframe.runners.minibatch_rl.MinibatchRl` loop, where ``obtain_samples(itr)`` returns once batch
``itr`` is in the replay (the sampler process is then already collecting batch ``itr + 1``) and
``optimize_agent(itr, None)`` runs the updates the batch is owed, plus these log tags:

- ``async/wait_s``: seconds the optimizer waited for the sampler in the log interval (sampling is the slower
  side);
- ``async/sampler_wait_s``: seconds the sampler process waited, ahead by ``max_batches_ahead`` batches, for the
  optimizer (optimizing is the slower side);
- ``async/lock_wait_s``: seconds the optimizer waited for the replay lock (the sampler was appending);
- ``async/updates_per_step``: gradient updates per env step in the interval, which the algorithm's
  ``replay_ratio`` fixes (once ``min_steps_learn`` steps are stored): whichever side runs ahead is held back.

Speed-up: a MinibatchRl iteration costs sampling + optimizing, an AsyncRl one about the larger of the two
(plus an append under the lock), when there are cores for both processes.
"""
from __future__ import annotations

from typing import Any, Dict

from rlframe.algos.replay_base import ReplayAlgorithm
from rlframe.errors import ConfigError
from rlframe.runners.minibatch_rl import MinibatchRl


class AsyncRl(MinibatchRl):
    """:class:`MinibatchRl` with an asynchronous sampler (``rlframe.samplers.async_``) and a replay-based
    algorithm (DQN family, R2D1, DDPG/TD3/SAC); same arguments."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        from rlframe.samplers.async_ import AsyncSampler

        if not isinstance(self.sampler, AsyncSampler):
            raise ConfigError(f"AsyncRl needs an asynchronous sampler (rlframe.samplers.async_.AsyncSerialSampler, "
                              f"AsyncCpuSampler or AsyncGpuSampler), got {type(self.sampler).__name__}; use "
                              "MinibatchRl for it.")
        self.callbacks.insert(0, _async_values)

    def startup(self) -> None:
        if not isinstance(self.algo, ReplayAlgorithm):
            raise ConfigError(f"AsyncRl trains from a replay while the sampler collects ahead; "
                              f"{type(self.algo).__name__} keeps no replay (on-policy): use MinibatchRl.")
        self.algo.shared_replay = True  # the sampler process appends to it
        super().startup()
        self.sampler.attach_replay(self.algo.replay)

    def _reset_interval(self) -> None:
        super()._reset_interval()
        self._interval_updates0 = self.updates
        self.sampler.wait_s = self.sampler.sampler_wait_s = 0.0
        if self.algo.replay is not None:
            self.algo.replay.lock.wait_s = 0.0


def _async_values(runner: AsyncRl, itr: int, values: Dict[str, float]) -> None:
    steps = runner.env_steps - runner._interval_steps0
    values["async/wait_s"] = float(runner.sampler.wait_s)
    values["async/sampler_wait_s"] = float(runner.sampler.sampler_wait_s)
    values["async/lock_wait_s"] = float(runner.algo.replay.lock.wait_s)
    if steps:
        values["async/updates_per_step"] = (runner.updates - runner._interval_updates0) / steps


class AsyncRlEval(AsyncRl):
    """:class:`AsyncRl` with evaluation before training and at every log interval (``eval/*``)."""

    _eval = True
