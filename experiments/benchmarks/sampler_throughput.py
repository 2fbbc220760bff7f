"""Sampler throughput, every design side by side in one run (same env, same B, same worker count).

Designs: rlframe's SerialSampler, CpuSampler, GpuSampler, AlternatingSampler; gymnasium SyncVectorEnv and
AsyncVectorEnv(shared_memory=True); SB3 SubprocVecEnv (when installed); and the physical limit: a raw
single-process ``env.step`` loop times the worker count. Envs: CartPole-v1 and a numpy env burning ~100 µs per
step. Once with random actions, once with a small MLP policy (rlframe's CategoricalPgAgent; for the peers the
same agent runs in the main process).

Two limits are recorded. ``limit`` (the issue's): the raw loop over ``gymnasium.make(id)`` as a user gets it
(with gymnasium's ``OrderEnforcing`` and ``PassiveEnvChecker`` wrappers), times the worker count.
``limit_lean``: the same loop over the env as ``GymEnv`` steps it (``rlframe.envs.gym.lean_stack``: those two
usage-checking wrappers taken out, ``TimeLimit`` kept, and a ``Discrete`` action space's ``contains`` answering
for Python ints directly, ~2-3 µs less per CartPole step with the same results), times the worker count: the
ceiling for rlframe's own stepping, and the honest reference for its efficiency. Each row's JSON has its percentage of both (``pct_limit``, ``pct_limit_lean``).

    python experiments/benchmarks/sampler_throughput.py --json results.json
    python experiments/benchmarks/sampler_throughput.py --quick          # fewer seconds per figure

Figures on a shared machine are noisy: compare ratios within one run, not across runs.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from typing import Any, Callable, Dict, List

import gymnasium as gym
import numpy as np
import torch

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.agents.random_agent import RandomAgent
from rlframe.envs.base import EnvSpaces
from rlframe.envs.gym import GymEnv, lean_stack
from rlframe.envs.vector import EnvPoolEnv, GymVectorEnv
from rlframe.samplers.parallel import AlternatingSampler, CpuSampler, GpuSampler
from rlframe.samplers.serial import SerialSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_meta import run_meta  # noqa: E402


class BurnEnv(gym.Env):
    """A numpy env that burns ``burn_us`` microseconds of CPU per step (a stand-in for a real simulator)."""

    def __init__(self, burn_us: float = 100.0, episode: int = 200):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.burn, self.episode, self.t = burn_us * 1e-6, episode, 0
        self.rng = np.random.default_rng(0)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        return self.rng.uniform(-1, 1, 4).astype(np.float32), {}

    def step(self, action):
        end = time.perf_counter() + self.burn
        while time.perf_counter() < end:
            pass
        self.t += 1
        obs = self.rng.uniform(-1, 1, 4).astype(np.float32)
        return obs, 1.0, False, self.t >= self.episode, {}


gym.register("BurnEnv-v0", entry_point=BurnEnv)
ENVS = {"CartPole-v1": "CartPole-v1", "burn100us": "BurnEnv-v0"}
ENVPOOL_IDS = {"CartPole-v1"}


def _raw_rate_into(env_id: str, seconds: float, out: Any) -> None:
    out.put(raw_steps_per_s(env_id, seconds))


def concurrent_raw_steps_per_s(env_id: str, seconds: float, workers: int) -> float:
    """``workers`` raw step loops run at the same time in separate processes, summed: what the cores deliver
    together (two vCPUs of a VM may not give twice one core's rate), a second view of the limit."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_raw_rate_into, args=(env_id, seconds, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    rates = [out.get(timeout=seconds * 10 + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return float(sum(rates))


def _agent(policy: str) -> Any:
    return RandomAgent() if policy == "random" else CategoricalPgAgent(model_kwargs={"hidden_sizes": [64, 64]})


def raw_steps_per_s(env_id: str, seconds: float, lean: bool = False) -> float:
    """Steps/s of one process stepping ``gym.make(env_id)`` with pre-drawn Python-int actions (``lean``: over
    the stack GymEnv steps: ``rlframe.envs.gym.lean_stack``)."""
    env = gym.make(env_id)
    if lean:
        env = lean_stack(env)
    env.reset(seed=0)
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, 4096)]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in actions[:512]:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        n += 512
    return n / (time.perf_counter() - t0)


def rlframe_sampler(SamplerCls: type, env_id: str, B: int, policy: str, workers: int, seconds: float,
                    start_method: str, EnvCls: type = GymEnv) -> float:
    kwargs = dict(batch_T=64, batch_B=B, max_decorrelation_steps=0)
    if SamplerCls is not SerialSampler:
        kwargs.update(n_workers=workers, start_method=start_method)
    sampler = SamplerCls(EnvCls, dict(id=env_id), **kwargs)
    agent = _agent(policy)
    try:
        sampler.initialize(agent, seed=0)
        agent.sample_mode(0)
        sampler.obtain_samples(0)  # warm-up
        n, t0, itr = 0, time.perf_counter(), 1
        while time.perf_counter() - t0 < seconds:
            sampler.obtain_samples(itr)
            n += 64 * B
            itr += 1
        return n / (time.perf_counter() - t0)
    finally:
        sampler.shutdown()


def vec_env_loop(venv: Any, B: int, policy: str, seconds: float, env_id: str) -> float:
    """Peers: the policy (if any) runs in the main process on the batched observations."""
    agent = None
    if policy == "mlp":
        agent = _agent(policy)
        env = gym.make(env_id)
        agent.initialize(EnvSpaces(env.observation_space, env.action_space), global_B=B)
        agent.sample_mode(0)
        prev_a, prev_r = torch.zeros(B, dtype=torch.long), torch.zeros(B)
    obs = venv.reset()
    obs = obs[0] if isinstance(obs, tuple) else obs
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(64):
            if agent is None:
                actions = rng.integers(0, 2, B)
            else:
                actions = agent.step(torch.as_tensor(obs), prev_a, prev_r).action.numpy()
            out = venv.step(actions)
            obs = out[0]
        n += 64 * B
    return n / (time.perf_counter() - t0)


def gymnasium_vec(kind: str, env_id: str, B: int, policy: str, seconds: float) -> float:
    fns = [lambda: gym.make(env_id) for _ in range(B)]
    venv = gym.vector.SyncVectorEnv(fns) if kind == "sync" else gym.vector.AsyncVectorEnv(fns, shared_memory=True)
    try:
        return vec_env_loop(venv, B, policy, seconds, env_id)
    finally:
        venv.close()


def envpool_loop(env_id: str, B: int, policy: str, seconds: float) -> float:
    """EnvPool's own batched step rate (sync mode, its default threads), the same policy in the main process."""
    import envpool

    venv = envpool.make_gymnasium(env_id, num_envs=B, seed=0)
    try:
        return vec_env_loop(venv, B, policy, seconds, env_id)
    finally:
        venv.close()


def envpool_paired(env_id: str, B: int, policy: str, seconds: float, chunk_batches: int = 3) -> Dict[str, Any]:
    """EnvPool's own loop and ``SerialSampler + EnvPoolEnv`` in alternating chunks of ``chunk_batches`` x 64
    steps, same process, same policy: on a loaded machine each pair of chunks sees about the same load, so the
    median of the per-pair ratios is the robust figure (the separate rows above are minutes apart). A third
    chunk runs EnvPool's loop through its C++ ``_send``/``_recv`` (as ``EnvPoolEnv`` does), a second ratio."""
    import envpool

    venv = envpool.make_gymnasium(env_id, num_envs=B, seed=0)
    sampler = SerialSampler(EnvPoolEnv, dict(id=env_id), batch_T=64, batch_B=B, max_decorrelation_steps=0)
    agent, peer_agent = _agent(policy), None
    rng = np.random.default_rng(0)
    try:
        sampler.initialize(agent, seed=0)
        agent.sample_mode(0)
        sampler.obtain_samples(0)
        if policy == "mlp":
            peer_agent = agent  # the same weights for both
        obs = venv.reset()[0]
        prev_a, prev_r = torch.zeros(B, dtype=torch.long), torch.zeros(B)
        # A third peer: the same loop through EnvPool's C++ send/recv (what its Python step wraps), which
        # EnvPoolEnv uses: the sampler against EnvPool without its Python layer.
        keys = venv._state_keys
        i_obs, ids = keys.index("obs"), np.arange(B, dtype=np.int32)
        own, direct, ours, ratios, ratios_direct = [], [], [], [], []
        t_end, itr = time.perf_counter() + 2 * seconds, 1
        while time.perf_counter() < t_end or len(ratios) < 5:
            t0 = time.perf_counter()
            for _ in range(64 * chunk_batches):
                if peer_agent is None:
                    actions = rng.integers(0, 2, B)
                else:
                    actions = peer_agent.step(torch.as_tensor(obs), prev_a, prev_r).action.numpy()
                obs = venv.step(actions)[0]
            t1 = time.perf_counter()
            for _ in range(chunk_batches):
                sampler.obtain_samples(itr)
                itr += 1
            t2 = time.perf_counter()
            for _ in range(64 * chunk_batches):
                if peer_agent is None:
                    actions = rng.integers(0, 2, B)
                else:
                    actions = peer_agent.step(torch.as_tensor(obs), prev_a, prev_r).action.numpy()
                venv._send([ids, ids, actions.astype(np.int32)])
                obs = venv._recv()[i_obs]
            t3 = time.perf_counter()
            n = 64 * chunk_batches * B
            own.append(n / (t1 - t0))
            ours.append(n / (t2 - t1))
            direct.append(n / (t3 - t2))
            ratios.append(ours[-1] / own[-1])
            ratios_direct.append(ours[-1] / direct[-1])
        return {"envpool_steps_per_s": float(np.median(own)), "sampler_steps_per_s": float(np.median(ours)),
                "ratio_median": float(np.median(ratios)), "pairs": len(ratios),
                "envpool_direct_steps_per_s": float(np.median(direct)),
                "ratio_to_direct_median": float(np.median(ratios_direct))}
    finally:
        sampler.shutdown()
        venv.close()


def sb3_subproc(env_id: str, B: int, policy: str, seconds: float) -> float:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = SubprocVecEnv([lambda: gym.make(env_id) for _ in range(B)], start_method="fork")
    try:
        return vec_env_loop(venv, B, policy, seconds, env_id)
    finally:
        venv.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    parser.add_argument("--quick", action="store_true", help="0.5 s per figure")
    parser.add_argument("--start-method", default="forkserver")
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--B", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--policies", nargs="+", default=["random", "mlp"])
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over all designs (interleaved); each figure is the median of its rounds")
    parser.add_argument("--designs", nargs="+", help="only designs whose name contains one of these words")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else args.seconds
    torch.set_num_threads(1)
    try:
        import stable_baselines3  # noqa: F401
        have_sb3 = True
    except ImportError:
        have_sb3 = False

    designs: Dict[str, Callable[[str, int, str], float]] = {
        "SerialSampler": lambda e, B, p: rlframe_sampler(SerialSampler, e, B, p, args.workers, seconds, args.start_method),
        "CpuSampler": lambda e, B, p: rlframe_sampler(CpuSampler, e, B, p, args.workers, seconds, args.start_method),
        "GpuSampler": lambda e, B, p: rlframe_sampler(GpuSampler, e, B, p, args.workers, seconds, args.start_method),
        "AlternatingSampler": lambda e, B, p: rlframe_sampler(AlternatingSampler, e, B, p, args.workers, seconds,
                                                              args.start_method),
        "gymnasium SyncVectorEnv": lambda e, B, p: gymnasium_vec("sync", e, B, p, seconds),
        "gymnasium AsyncVectorEnv(shm)": lambda e, B, p: gymnasium_vec("async", e, B, p, seconds),
    }
    designs["SerialSampler + GymVectorEnv(sync)"] = lambda e, B, p: rlframe_sampler(
        SerialSampler, e, B, p, args.workers, seconds, args.start_method, EnvCls=GymVectorEnv)
    try:
        import envpool  # noqa: F401
        have_envpool = True
    except ImportError:
        have_envpool = False
    if have_envpool:
        designs["EnvPool (own batched step loop)"] = lambda e, B, p: envpool_loop(e, B, p, seconds)
        designs["SerialSampler + EnvPoolEnv"] = lambda e, B, p: rlframe_sampler(
            SerialSampler, e, B, p, args.workers, seconds, args.start_method, EnvCls=EnvPoolEnv)
    if have_sb3:
        designs["SB3 SubprocVecEnv"] = lambda e, B, p: sb3_subproc(e, B, p, seconds)
    if args.designs:
        designs = {k: v for k, v in designs.items() if any(d.lower() in k.lower() for d in args.designs)}

    results: List[dict] = []
    limit: Dict[str, float] = {}
    limit_lean: Dict[str, float] = {}
    concurrent: Dict[str, float] = {}
    for name in args.envs:
        env_id = ENVS[name]
        limit[name] = raw_steps_per_s(env_id, seconds) * args.workers
        limit_lean[name] = raw_steps_per_s(env_id, seconds, lean=True) * args.workers
        concurrent[name] = concurrent_raw_steps_per_s(env_id, seconds, args.workers)
        print(f"\n{name}: physical limit (raw single-process step loop x {args.workers}) = {limit[name]:,.0f} steps/s;"
              f" over GymEnv's lean stack (lean_stack) = {limit_lean[name]:,.0f}; {args.workers} raw loops at once = "
              f"{concurrent[name]:,.0f} steps/s")
        print(f"{'policy':7} {'B':>3}  {'design':32} {'steps/s':>10}  {'% limit':>7}  {'% lean':>6}  {'% concurrent':>12}")
        for policy in args.policies:
            for B in args.B:
                runs: Dict[str, List[float]] = {}
                for _ in range(args.repeat):  # rounds interleave the designs: load swings hit all of them
                    for design, fn in designs.items():
                        if "EnvPool" in design and env_id not in ENVPOOL_IDS:
                            continue  # EnvPool has its own C++ envs only
                        runs.setdefault(design, []).append(fn(env_id, B, policy))
                for design, samples in runs.items():
                    sps = float(np.median(samples))
                    results.append({"env": name, "B": B, "policy": policy, "design": design, "steps_per_s": sps,
                                    "rounds": samples, "pct_limit": 100 * sps / limit[name],
                                    "pct_limit_lean": 100 * sps / limit_lean[name]})
                    print(f"{policy:7} {B:>3}  {design:32} {sps:>10,.0f}  {100 * sps / limit[name]:>6.1f}%"
                          f"  {100 * sps / limit_lean[name]:>5.1f}%  {100 * sps / concurrent[name]:>11.1f}%", flush=True)
    paired: List[dict] = []
    if have_envpool and "CartPole-v1" in args.envs and (not args.designs or any("envpool" in d.lower()
                                                                                for d in args.designs)):
        print("\nEnvPool vs SerialSampler + EnvPoolEnv, alternating chunks (median of per-pair ratios):")
        for policy in args.policies:
            for B in args.B:
                row = {"env": "CartPole-v1", "B": B, "policy": policy,
                       **envpool_paired("CartPole-v1", B, policy, seconds * args.repeat)}
                paired.append(row)
                print(f"{policy:7} {B:>3}  EnvPool {row['envpool_steps_per_s']:>10,.0f}  sampler "
                      f"{row['sampler_steps_per_s']:>10,.0f}  ratio {row['ratio_median']:.2f} ({row['pairs']} pairs);"
                      f"  EnvPool via C++ send/recv {row['envpool_direct_steps_per_s']:>10,.0f}, ratio "
                      f"{row['ratio_to_direct_median']:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "envpool_paired": paired, "limit": limit, "limit_lean": limit_lean,
                       "concurrent_raw_limit": concurrent, "workers": args.workers,
                       "start_method": args.start_method, "seconds_per_figure": seconds,
                       "repeat": args.repeat, "meta": run_meta()}, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
