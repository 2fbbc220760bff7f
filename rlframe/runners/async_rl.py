"""``AsyncRl`` and ``AsyncRlEval``: the optimizer trains while the sampler collects the next batch.

rlpyt's ``AsyncRl`` (Stooke & Abbeel, 2019, section 2.3) runs sampling and optimization concurrently for
replay-based algorithms, whose updates need not wait for the newest data. Here the concurrency lives in the
sampler (``samplers/async_/``: worker processes collect batch ``k + 1`` into one half of a double buffer while
this process appends batch ``k`` to the replay and trains on it), so the runner is the
:class:`~rlframe.runners.minibatch_rl.MinibatchRl` loop with two checks and two more log tags:

- ``async/wait_s``: seconds the optimizer waited for the sampler in the log interval (0 when optimizing is
  the slower side, then the sampler is the one held back: it waits with a finished batch);
- ``async/updates_per_step``: gradient updates per env step in the interval, which the algorithm's
  ``replay_ratio`` fixes (once ``min_steps_learn`` steps are stored).

Speed-up: a MinibatchRl iteration costs sampling + optimizing, an AsyncRl one about the larger of the two
(plus a copy of the batch), when there are cores for both.
"""
from __future__ import annotations

from typing import Any, Dict

from rlframe.errors import ConfigError
from rlframe.runners.minibatch_rl import MinibatchRl


class AsyncRl(MinibatchRl):
    """:class:`MinibatchRl` with an asynchronous sampler (``AsyncCpuSampler`` / ``AsyncSerialSampler``) and a
    replay-based algorithm (DQN family, DDPG/TD3/SAC); same arguments."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        from rlframe.samplers.async_ import AsyncCpuSampler

        if not isinstance(self.sampler, AsyncCpuSampler):
            raise ConfigError(f"AsyncRl needs an asynchronous sampler (rlframe.samplers.async_.AsyncCpuSampler or "
                              f"AsyncSerialSampler), got {type(self.sampler).__name__}; use MinibatchRl for it.")
        self.callbacks.insert(0, _async_values)

    def startup(self) -> None:
        super().startup()
        if self.algo.replay is None:
            raise ConfigError(f"AsyncRl trains from a replay while the sampler collects ahead; "
                              f"{type(self.algo).__name__} keeps no replay (on-policy): use MinibatchRl.")

    def _reset_interval(self) -> None:
        super()._reset_interval()
        self._interval_updates0 = self.updates
        self.sampler.wait_s = 0.0


def _async_values(runner: AsyncRl, itr: int, values: Dict[str, float]) -> None:
    steps = runner.env_steps - runner._interval_steps0
    values["async/wait_s"] = float(runner.sampler.wait_s)
    if steps:
        values["async/updates_per_step"] = (runner.updates - runner._interval_updates0) / steps


class AsyncRlEval(AsyncRl):
    """:class:`AsyncRl` with evaluation before training and at every log interval (``eval/*``)."""

    _eval = True
