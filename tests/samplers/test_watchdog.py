"""Hanging envs end in a named error within the configured timeout (issue 12, defect 1).

The probe's env calls run in an abandonable thread (``bounded_call``); the serial sampler's own stepping
is watched by ``EnvWatchdog``; parallel workers name the env id and the call in their hang error.
"""
import os
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest

from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.errors import EnvTimeoutError, WorkerError
from rlframe.samplers.serial import SerialSampler
from rlframe.samplers.watchdog import EnvWatchdog, bounded_call
from tests.helpers import RandomAgent


class HangEnv:
    """Hangs in ``call`` ("reset" or "step") once it has made ``after`` steps; ``how``: "sleep" (a blocking
    system call) or "spin" (a Python loop)."""

    def __init__(self, call="step", after=0, how="sleep"):
        self.id = "HangEnv-v0"
        self.spaces = EnvSpaces(observation=gym.spaces.Box(-1, 1, (2,), np.float32), action=gym.spaces.Discrete(2))
        self.call, self.after, self.how, self.steps = call, after, how, 0

    def _maybe_hang(self, call):
        if call == self.call and self.steps >= self.after:
            if self.how == "sleep":
                time.sleep(3600)
            while True:
                pass

    def seed(self, s):
        self.spaces.action.seed(s)

    def reset(self):
        self._maybe_hang("reset")
        return np.zeros(2, np.float32)

    def step(self, action):
        self._maybe_hang("step")
        self.steps += 1
        return EnvStep(np.zeros(2, np.float32), 1.0, False, self.steps % 5 == 0, None)

    def close(self):
        pass


def test_bounded_call_returns_raises_or_times_out():
    assert bounded_call(lambda x: x + 1, (1,), timeout=5) == 2
    with pytest.raises(KeyError):
        bounded_call(lambda: {}["x"], timeout=5)
    t0 = time.monotonic()
    with pytest.raises(EnvTimeoutError, match=r"env 'E': step\(\) did not return within 0.2 s"):
        bounded_call(time.sleep, (60,), timeout=0.2, env="E", call="step()")
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("call", ["reset", "step"])
def test_serial_probe_hang_is_an_error_naming_env_call_and_timeout(call):
    sampler = SerialSampler(HangEnv, dict(call=call), batch_T=4, batch_B=2, worker_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(EnvTimeoutError) as e:
        sampler.initialize(RandomAgent(), seed=0)
    sampler.shutdown()
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert "HangEnv-v0" in msg and f"{call}()" in msg and "0.5 s" in msg and "--worker-timeout" in msg


@pytest.mark.parametrize("how", ["sleep", "spin"])
def test_serial_sampler_watchdog_stops_a_later_hang(how):
    sampler = SerialSampler(HangEnv, dict(after=6, how=how), batch_T=4, batch_B=2, worker_timeout=0.5,
                            max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0)
    t0 = time.monotonic()
    try:
        with pytest.raises(EnvTimeoutError, match=r"HangEnv-v0.*step\(\) did not return within 0.5 s"):
            for itr in range(10):
                sampler.obtain_samples(itr)
    finally:
        sampler.shutdown()
    assert time.monotonic() - t0 < 5


def test_serial_sampler_evaluation_hang_is_bounded():
    sampler = SerialSampler(HangEnv, dict(after=3), batch_T=2, batch_B=1, worker_timeout=0.5, eval_n_envs=1, max_decorrelation_steps=0,
                            eval_max_steps=50, eval_env_kwargs=dict(after=3))
    sampler.initialize(RandomAgent(), seed=0)
    try:
        with pytest.raises(EnvTimeoutError, match=r"eval env 0"):
            sampler.evaluate_agent(0)
    finally:
        sampler.shutdown()


def test_watchdog_costs_nothing_when_calls_return():
    wd = EnvWatchdog(timeout=0.2)
    env = wd.watch([HangEnv(after=10**9)])[0]
    wd.start()
    try:
        for _ in range(50):
            env.step(0)
            time.sleep(0.01)  # 0.5 s in total, more than the timeout, but no single call is slow
    finally:
        wd.stop()
    assert wd.fired is None


def test_parallel_probe_hang_is_an_error_before_workers_start():
    from rlframe.samplers.parallel import CpuSampler

    sampler = CpuSampler(HangEnv, dict(call="reset"), batch_T=4, batch_B=2, n_workers=2, start_method="fork",
                         worker_timeout=0.5)
    with pytest.raises(EnvTimeoutError, match=r"HangEnv-v0.*reset\(\) did not return within 0.5 s"):
        sampler.initialize(RandomAgent(), seed=0)
    sampler.shutdown()


def test_parallel_worker_hang_names_env_id_and_call():
    from rlframe.samplers.parallel import CpuSampler

    sampler = CpuSampler(HangEnv, dict(after=3), batch_T=4, batch_B=2, n_workers=2, start_method="fork",
                         worker_timeout=1.0, max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0)
    t0 = time.monotonic()
    try:
        with pytest.raises(WorkerError, match=r"no progress for 1 s .*env 'HangEnv-v0' step\(\) is hanging.*--worker-timeout"):
            sampler.obtain_samples(0)
    finally:
        sampler.shutdown()
    assert time.monotonic() - t0 < 10


HANG_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np, gymnasium as gym
    sys.path.insert(0, {root!r})
    from rlframe.envs.base import EnvSpaces, EnvStep
    from rlframe.samplers.serial import SerialSampler
    from tests.helpers import RandomAgent

    class NativeHang:  # time.sleep under a SIGINT handler that does not raise: only the hard exit helps
        id = "NativeHang-v0"
        def __init__(self):
            self.spaces = EnvSpaces(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(2))
            self.n = 0
        def reset(self):
            return np.zeros(2, np.float32)
        def step(self, a):
            self.n += 1
            if self.n > 3:
                import signal
                signal.signal(signal.SIGINT, lambda *a: None)
                try:
                    while True:
                        time.sleep(3600)
                except BaseException:
                    while True:
                        time.sleep(3600)
            return EnvStep(np.zeros(2, np.float32), 0.0, False, False, None)
        def close(self):
            pass

    s = SerialSampler(NativeHang, batch_T=4, batch_B=1, worker_timeout=0.5, max_decorrelation_steps=0)
    s.watchdog.grace = 0.5
    s.initialize(RandomAgent(), seed=0)
    for i in range(10):
        s.obtain_samples(i)
""")


def test_serial_sampler_hard_exit_when_the_hang_ignores_the_interruption(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "hang.py"
    script.write_text(HANG_SCRIPT.format(root=root))
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 124, out.stderr
    assert "NativeHang-v0" in out.stderr and "step()" in out.stderr and "0.5 s" in out.stderr
    assert time.monotonic() - t0 < 30
