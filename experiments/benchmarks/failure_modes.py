"""How long each fault takes to surface as a named error (the table in docs/troubleshooting.md).

    python experiments/benchmarks/failure_modes.py            # writes results/failure_modes.json
    python experiments/benchmarks/failure_modes.py --signals  # also SIGINT/SIGTERM on a real script run (slow)

Each case builds its own misbehaving env (or file), triggers the fault once and times, from the moment
the fault happens (or the call that meets it starts), until rlframe raises. Times are wall-clock on
whatever machine runs this; quote them with the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import gymnasium as gym
import numpy as np
import torch

from rlframe.agents.random_agent import RandomAgent
from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.errors import RlframeError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class FaultEnv:
    """Box(4) observations, Discrete(2) actions; ``fault`` from its ``after``-th step: "raise", "hang", "slow"
    (every step sleeps 50 ms), "nan" (observation), "abc" (reward)."""

    def __init__(self, fault: str = "", after: int = 0):
        self.id = f"FaultEnv-{fault or 'ok'}"
        self.spaces = EnvSpaces(gym.spaces.Box(-10, 10, (4,), np.float32), gym.spaces.Discrete(2))
        self.fault, self.after, self.n, self.t = fault, after, 0, 0

    def seed(self, s):
        self.spaces.action.seed(s)

    def reset(self):
        self.t = 0
        return np.full(4, 0.1, np.float32)

    def step(self, action):
        self.n += 1
        self.t += 1
        bad = self.n > self.after
        if bad and self.fault == "raise":
            raise ValueError("env fault")
        if bad and self.fault == "hang":
            time.sleep(3600)
        if self.fault == "slow":
            time.sleep(0.05)
        obs = np.full(4, 0.1, np.float32)
        if bad and self.fault == "nan":
            obs[0] = np.nan
        reward = "abc" if bad and self.fault == "abc" else 1.0
        return EnvStep(obs, reward, False, self.t >= 20, None)

    def close(self):
        pass


def sampler(kind: str, fault: str, after: int = 0, **kw):
    from rlframe.samplers.parallel import CpuSampler
    from rlframe.samplers.serial import SerialSampler

    cls = SerialSampler if kind == "serial" else CpuSampler
    extra = {} if kind == "serial" else dict(n_workers=2, start_method="fork")
    return cls(FaultEnv, dict(fault=fault, after=after), batch_T=8, batch_B=2, max_decorrelation_steps=0,
               **extra, **kw)


def time_error(fn) -> dict:
    t0 = time.perf_counter()
    try:
        fn()
    except Exception as e:  # the serial sampler lets an env's own exception through unchanged
        return {"seconds": round(time.perf_counter() - t0, 3), "error": type(e).__name__, "message": str(e)[:160]}
    return {"seconds": None, "error": None}


def batch_fault(kind: str, fault: str, **kw) -> dict:
    s = sampler(kind, fault, after=1, **kw)  # the probe's one step passes; the first batch meets the fault
    s.initialize(RandomAgent(), seed=0)
    try:
        return time_error(lambda: s.obtain_samples(0))
    finally:
        s.shutdown()


def probe_fault(kind: str, fault: str, **kw) -> dict:
    s = sampler(kind, fault, after=0, **kw)
    try:
        return time_error(lambda: s.initialize(RandomAgent(), seed=0))
    finally:
        s.shutdown()


def worker_killed() -> dict:
    s = sampler("cpu", "slow")
    s.initialize(RandomAgent(), seed=0)
    killed = {}

    def kill():
        time.sleep(0.2)
        killed["t"] = time.perf_counter()
        os.kill(s.pool.procs[0].pid, signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()
    try:
        for itr in range(100):
            s.obtain_samples(itr)
    except RlframeError as e:
        return {"seconds": round(time.perf_counter() - killed["t"], 3), "error": type(e).__name__,
                "message": str(e)[:160]}
    finally:
        s.shutdown()
    return {"seconds": None}


def nan_in_training() -> dict:
    from rlframe.agents.pg import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.runners import MinibatchRl
    from rlframe.samplers.serial import SerialSampler

    s = SerialSampler(FaultEnv, dict(fault="nan", after=40), batch_T=8, batch_B=2, max_decorrelation_steps=0)
    runner = MinibatchRl(PPO(epochs=2, minibatches=2), CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[16])), s,
                         n_steps=10_000, seed=0, log_interval_steps=10_000)
    return time_error(runner.train)  # the first NaN (env step 41 of env 0, one taken by the probe) is in iteration 4


def checkpoint_cases() -> dict:
    from rlframe.logging.checkpoint import list_checkpoints, load_newest_intact, save_checkpoint

    d = tempfile.mkdtemp(prefix="rlframe_ckpt_")
    big = {"w": torch.zeros(2_000_000)}  # 8 MB, so a kill lands inside the write
    code = (f"import sys, torch; sys.path.insert(0, {ROOT!r})\n"
            "from rlframe.logging.checkpoint import save_checkpoint\n"
            "print('ready', flush=True)\n"
            f"for i in range(10**6): save_checkpoint({{'agent_state_dict': {{'w': torch.zeros(2_000_000)}}, 'itr': i}}, {d!r}, i, keep_last=3)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    p.stdout.readline()
    time.sleep(1.5)
    p.kill()
    p.wait()
    t0 = time.perf_counter()
    state = load_newest_intact(d)
    kill = {"seconds": round(time.perf_counter() - t0, 3), "resumed_itr": state["itr"],
            "complete_files": len(list_checkpoints(d)), "temp_files_left": len([n for n in os.listdir(d) if "tmp" in n])}
    save_checkpoint({"agent_state_dict": big, "itr": 10**6}, d, 10**6)
    newest = list_checkpoints(d)[-1]
    with open(newest, "r+b") as f:
        f.truncate(4096)
    warnings = []
    t0 = time.perf_counter()
    state = load_newest_intact(d, warn=warnings.append)
    damaged = {"seconds": round(time.perf_counter() - t0, 3), "resumed_itr": state["itr"], "warning": warnings[0][:160]}
    return {"sigkill_during_checkpoint_write": kill, "damaged_newest_checkpoint": damaged}


def script_signal(sig: int) -> dict:
    """cartpole_ppo.py --sampler cpu (forkserver) after its first checkpoint: signal -> message -> exit."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=ROOT, TMPDIR=tmp)
        p = subprocess.Popen([sys.executable, "-u", os.path.join(ROOT, "experiments", "cartpole_ppo.py"), "--steps",
                              "400000", "--log-dir", os.path.join(tmp, "runs"), "--sampler", "cpu", "--workers", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        for line in p.stdout:
            if line.startswith(b"itr") and b"steps          0/" not in line:
                break
        t0 = time.perf_counter()
        p.send_signal(sig)
        message_s = None
        for line in p.stdout:
            if b"Interrupted" in line and message_s is None:
                message_s = round(time.perf_counter() - t0, 3)
        p.wait()
        return {"message_seconds": message_s, "exit_seconds": round(time.perf_counter() - t0, 3),
                "exit_status": p.returncode, "pymp_dirs_left": [n for n in os.listdir(tmp) if n.startswith("pymp-")]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", action="store_true", help="also time SIGINT/SIGTERM on cartpole_ppo.py (minutes)")
    args = ap.parse_args()
    res = {"load_average_at_start": os.getloadavg()[0]}
    for kind in ("serial", "cpu"):
        res[f"env_raises/{kind}"] = batch_fault(kind, "raise")
        res[f"env_hangs_mid_run/{kind} (worker_timeout 2 s)"] = batch_fault(kind, "hang", worker_timeout=2.0)
        res[f"env_hangs_first_step/{kind} (worker_timeout 2 s)"] = probe_fault(kind, "hang", worker_timeout=2.0)
        res[f"bad_reward/{kind}"] = probe_fault(kind, "abc")
    res["worker_killed/cpu"] = worker_killed()
    res["nan_observation/serial PPO, no debug"] = nan_in_training()
    res.update(checkpoint_cases())
    if args.signals:
        res["SIGINT/cartpole_ppo cpu forkserver"] = script_signal(signal.SIGINT)
        res["SIGTERM/cartpole_ppo cpu forkserver"] = script_signal(signal.SIGTERM)
    res["load_average_at_end"] = os.getloadavg()[0]
    out = os.path.join(HERE, "results", "failure_modes.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    os._exit(0)  # abandoned hang threads: nothing left to clean up


if __name__ == "__main__":
    main()
