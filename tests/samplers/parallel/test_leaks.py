"""Create/shutdown cycles leave no process, /dev/shm file or file descriptor behind."""
from __future__ import annotations

import pytest

from tests.helpers import RandomAgent
from tests.samplers.parallel.conftest import SAMPLERS, make_sampler, resource_snapshot

CYCLES = {"fork": 50, "forkserver": 50, "spawn": 3}  # spawn: seconds per cycle (each worker imports torch)


def _cycle(kind, start_method):
    s = make_sampler(kind, start_method, B=4, T=3, eval_n_envs=2, eval_max_trajectories=2, eval_max_steps=50)
    s.initialize(RandomAgent(), seed=0)
    s.obtain_samples(0)
    s.evaluate_agent(0)
    s.shutdown()


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_create_shutdown_cycles_leak_nothing(kind, start_method):
    _cycle(kind, start_method)  # warm-up: starts the forkserver / resource tracker once
    before = resource_snapshot()
    for _ in range(CYCLES[start_method]):
        _cycle(kind, start_method)
    after = resource_snapshot()
    assert after["children"] == 0
    assert after["shm"] <= before["shm"], f"/dev/shm files left behind: {after['shm'] - before['shm']}"
    assert after["fds"] <= before["fds"], f"file descriptors {before['fds']} -> {after['fds']}"
