"""Off-policy algorithms, rlframe vs stable-baselines3: DQN on CartPole-v1, SAC and TD3 on Pendulum-v1, with the
RL zoo's hyper-parameters on both sides, seeds interleaved in one run.

- ``dqn`` (CartPole-v1, target 475, budget 50k): lr 2.3e-3, batch 64, replay 100k, learning from 1,000 steps,
  gamma 0.99, 128 gradient steps every 256 env steps, target copied after each training phase, epsilon
  1 -> 0.04 over the first 16% of the budget, 256x256 ReLU Q-network, gradient norm clipped at 10.
- ``sac`` (Pendulum-v1, target -200, budget 20k): SB3's SAC defaults with lr 1e-3 (256x256 actor and twin
  critics, batch 256, replay 1M, 100 random warm-up steps, tau 0.005, gamma 0.99, one gradient step per env
  step, automatic entropy tuning, target entropy -1).
- ``td3`` (Pendulum-v1, target -200, budget 20k): lr 1e-3, gamma 0.98, replay 200k, 10k random warm-up steps,
  Gaussian exploration noise 0.1, 400x300 nets, one 200-step episode then 200 gradient steps, batch 256,
  tau 0.005, policy delay 2, target smoothing 0.2 clipped at 0.5.

A run stops when the mean return of the last 10 finished episodes reaches the target (checked at every
episode end for rlframe's Pendulum runs, at every 256-step iteration for its DQN run, and at every env step
for SB3: this can only favour SB3). Reported per run: wall-clock seconds from building the envs to the stop
(both frameworks imported before any clock starts), env steps, process CPU seconds, and the time split:
rlframe's sampling / optimisation seconds (the runner's ``time/sample_s`` and ``time/optimize_s``; the
latter includes replay writes and batch sampling) and SB3's seconds inside ``train()`` (gradient updates
with their replay sampling), plus milliseconds per gradient update on both sides, in wall-clock and in
process CPU time (the latter barely moves with other processes' load on a shared machine). Torch threads: 1 on both
sides (``--threads``).

    python experiments/benchmarks/offpolicy_vs_sb3.py --seeds 3 --json experiments/benchmarks/results/offpolicy_vs_sb3.json
    python experiments/benchmarks/offpolicy_vs_sb3.py --algos sac --seeds 1
    python experiments/benchmarks/offpolicy_vs_sb3.py --profile-updates 300 --seeds 2   # update cost only
    python experiments/benchmarks/offpolicy_vs_sb3.py --breakdown 300 --seeds 2         # where the time goes
    python experiments/benchmarks/offpolicy_vs_sb3.py --seed-major --seeds 3 --json R.json  # under a time limit

``--profile-updates N`` measures the cost of the machinery alone: each run warms up on at most 1,000 random
steps, then takes about ``N`` gradient updates (no stop on the return), and the summary compares milliseconds
per update (``ratio_ms_per_update_median``) next to the wall-clock ratio of those short runs.

``--breakdown N`` does the same short runs with timers wrapped around the same phases on both sides (replay
sampling, every ``backward()``, optimizer steps with gradient clipping, target updates; the forward passes and
loss arithmetic are the rest of the update time) and prints CPU milliseconds per update per phase, plus the
CPU milliseconds per env step spent outside the updates (env, acting, replay writes, the loop itself).

The JSON holds ``{"<algo>": {"rlframe": {"wall_s": [...], "steps": [...], ...}, "sb3": {...},
"ratio_median": ...}}`` for each algorithm run (``ratio_median`` = median rlframe wall_s / median SB3 wall_s).
"""
from __future__ import annotations

import argparse
import copy
import inspect
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_sb3 import Clock, interleave, median, only, rlframe_stopper, sb3_stopper, summarise, write_json  # noqa: E402

WINDOW = 10
SETTINGS: Dict[str, Dict[str, Any]] = {
    "dqn": dict(env="CartPole-v1", target=475.0, budget=50_000,
                hp=dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                        train_freq=256, gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                        net_arch=[256, 256], max_grad_norm=10.0)),
    "sac": dict(env="Pendulum-v1", target=-200.0, budget=20_000,
                hp=dict(learning_rate=1e-3, batch_size=256, buffer_size=1_000_000, learning_starts=100, gamma=0.99,
                        tau=0.005, train_freq=1, gradient_steps=1, net_arch=[256, 256])),
    "td3": dict(env="Pendulum-v1", target=-200.0, budget=20_000,
                hp=dict(learning_rate=1e-3, batch_size=256, buffer_size=200_000, learning_starts=10_000, gamma=0.98,
                        tau=0.005, episode_steps=200, noise_std=0.1, policy_delay=2, target_policy_noise=0.2,
                        target_noise_clip=0.5, net_arch=[400, 300])),
}


# --- rlframe side ---------------------------------------------------------------------------------------------
def _rlframe_parts(algo: str, hp: Dict[str, Any], budget: int, compute_dtype: Optional[torch.dtype] = None):
    """``(agent, algorithm, batch_T, log_interval_steps)`` of rlframe for ``algo`` with the zoo's settings
    (``compute_dtype``: the SAC/TD3 networks' mixed-precision knob, ``rlframe/models/mlp_function.py``)."""
    net = dict(hidden_sizes=hp["net_arch"], compute_dtype=compute_dtype)
    if algo == "dqn":
        from rlframe.agents.dqn import DqnAgent
        from rlframe.algos.dqn import DQN

        agent = DqnAgent(model_kwargs=dict(hidden_sizes=hp["net_arch"]), eps_init=1.0,
                         eps_final=hp["exploration_final_eps"], eps_steps=int(hp["exploration_fraction"] * budget),
                         eps_eval=0.0)
        T = hp["train_freq"]
        algorithm = DQN(discount=hp["gamma"], learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
                        replay_size=hp["buffer_size"], min_steps_learn=hp["learning_starts"],
                        replay_ratio=hp["gradient_steps"] / T, target_update_interval=T, target_update_tau=1.0,
                        double_dqn=False, clip_grad_norm=hp["max_grad_norm"])
        return agent, algorithm, T, T
    if algo == "sac":
        from rlframe.agents.qpg import SacAgent
        from rlframe.algos.qpg import SAC

        agent = SacAgent(model_kwargs=net, q_model_kwargs=net)
        algorithm = SAC(discount=hp["gamma"], learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
                        replay_size=hp["buffer_size"], min_steps_learn=hp["learning_starts"], replay_ratio=1.0,
                        target_update_tau=hp["tau"])
        return agent, algorithm, 1, 200  # Pendulum episodes are 200 steps: check at every episode end
    from rlframe.agents.qpg import Td3Agent
    from rlframe.algos.qpg import TD3

    agent = Td3Agent(model_kwargs=net, q_model_kwargs=net, exploration_noise=hp["noise_std"], noise_type="normal")
    # SB3 trains at the end of an episode only once more than learning_starts steps were taken: the first
    # training episode is the one after the warm-up, hence + 1 (same number of updates on both sides).
    algorithm = TD3(discount=hp["gamma"], learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
                    replay_size=hp["buffer_size"], min_steps_learn=hp["learning_starts"] + 1,
                    random_steps=hp["learning_starts"], replay_ratio=1.0,
                    target_update_tau=hp["tau"], policy_delay=hp["policy_delay"],
                    target_noise=hp["target_policy_noise"], target_noise_clip=hp["target_noise_clip"])
    T = hp["episode_steps"]
    return agent, algorithm, T, T


def run_rlframe(algo: str, seed: int, compute_dtype: Optional[torch.dtype] = None) -> Dict[str, Any]:
    from rlframe.envs.gym import GymEnv
    from rlframe.logging import logger_context
    from rlframe.runners.minibatch_rl import MinibatchRl
    from rlframe.samplers.serial import SerialSampler

    s = SETTINGS[algo]
    clock = Clock()
    result: Dict[str, Any] = {}
    agent, algorithm, T, log_steps = _rlframe_parts(algo, s["hp"], s["budget"], compute_dtype)
    result["optimize_cpu_s"] = 0.0
    optimize_agent = algorithm.optimize_agent

    def timed_optimize_agent(itr, samples):  # CPU seconds too: robust to other processes' load
        c = time.process_time()
        opt_info = optimize_agent(itr, samples)
        result["optimize_cpu_s"] += time.process_time() - c
        return opt_info

    algorithm.optimize_agent = timed_optimize_agent
    sampler = SerialSampler(GymEnv, dict(id=s["env"]), batch_T=T, batch_B=1, max_decorrelation_steps=0)
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name=f"{algo}_bench", use_tensorboard=False, console=False):
            runner = MinibatchRl(algorithm, agent, sampler, n_steps=s["budget"], seed=seed,
                                 log_interval_steps=log_steps, checkpoint=False,
                                 callbacks=[rlframe_stopper(result, clock, s["target"], WINDOW)])
            runner.train()
    if not result["solved"]:
        result.update(steps=runner.env_steps, **clock.stamp())
    result["updates"] = int(runner.updates)
    result["ms_per_update"] = 1e3 * result["optimize_s"] / max(runner.updates, 1)
    result["cpu_ms_per_update"] = 1e3 * result["optimize_cpu_s"] / max(runner.updates, 1)
    return result


BF16_SIDE = "rlframe_bf16"  # --bf16: rlframe with bf16 hidden-layer matmuls (SAC and TD3 only)
BF16_ALGOS = ("sac", "td3")


def _sides(algo: str, args: argparse.Namespace) -> Dict[str, Callable[[int], Dict[str, Any]]]:
    """The runs to compare for ``algo``: rlframe (default configuration) and SB3, plus ``rlframe_bf16``."""
    runs: Dict[str, Callable[[int], Dict[str, Any]]] = {
        "rlframe": lambda seed: run_rlframe(algo, seed), "sb3": lambda seed: run_sb3(algo, seed)}
    runs = only(args.only, runs)
    if (args.bf16 or args.only == BF16_SIDE) and algo in BF16_ALGOS:
        runs[BF16_SIDE] = lambda seed: run_rlframe(algo, seed, torch.bfloat16)
    return runs


# --- SB3 side ---------------------------------------------------------------------------------------------------
def _sb3_model(algo: str, env, hp: Dict[str, Any], budget: int, seed: int):
    if algo == "dqn":
        from stable_baselines3 import DQN

        return DQN("MlpPolicy", env, learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
                   buffer_size=hp["buffer_size"], learning_starts=hp["learning_starts"], gamma=hp["gamma"],
                   target_update_interval=10, train_freq=hp["train_freq"], gradient_steps=hp["gradient_steps"],
                   exploration_fraction=hp["exploration_fraction"],
                   exploration_final_eps=hp["exploration_final_eps"], max_grad_norm=hp["max_grad_norm"],
                   policy_kwargs=dict(net_arch=hp["net_arch"]), seed=seed, device="cpu", verbose=0)
    if algo == "sac":
        from stable_baselines3 import SAC

        return SAC("MlpPolicy", env, learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
                   buffer_size=hp["buffer_size"], learning_starts=hp["learning_starts"], gamma=hp["gamma"],
                   tau=hp["tau"], train_freq=hp["train_freq"], gradient_steps=hp["gradient_steps"],
                   policy_kwargs=dict(net_arch=hp["net_arch"]), seed=seed, device="cpu", verbose=0)
    import numpy as np
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    n = env.action_space.shape[0]
    return TD3("MlpPolicy", env, learning_rate=hp["learning_rate"], batch_size=hp["batch_size"],
               buffer_size=hp["buffer_size"], learning_starts=hp["learning_starts"], gamma=hp["gamma"], tau=hp["tau"],
               train_freq=(1, "episode"), gradient_steps=-1, policy_delay=hp["policy_delay"],
               target_policy_noise=hp["target_policy_noise"], target_noise_clip=hp["target_noise_clip"],
               action_noise=NormalActionNoise(np.zeros(n), hp["noise_std"] * np.ones(n)),
               policy_kwargs=dict(net_arch=hp["net_arch"]), seed=seed, device="cpu", verbose=0)


def run_sb3(algo: str, seed: int) -> Dict[str, Any]:
    from stable_baselines3.common.env_util import make_vec_env

    s = SETTINGS[algo]
    clock = Clock()
    result: Dict[str, Any] = {"train_s": 0.0, "train_cpu_s": 0.0, "updates": 0}
    env = make_vec_env(s["env"], n_envs=1, seed=seed)
    model = _sb3_model(algo, env, s["hp"], s["budget"], seed)
    train = model.train

    def timed_train(gradient_steps: int, batch_size: int = 100) -> None:
        t, c = time.perf_counter(), time.process_time()
        train(gradient_steps=gradient_steps, batch_size=batch_size)
        result["train_s"] += time.perf_counter() - t
        result["train_cpu_s"] += time.process_time() - c
        result["updates"] += int(gradient_steps)

    model.train = timed_train
    model.learn(total_timesteps=s["budget"], callback=sb3_stopper(result, clock, s["target"], WINDOW))
    if not result["solved"]:
        result.update(steps=model.num_timesteps, **clock.stamp())
    result["ms_per_update"] = 1e3 * result["train_s"] / max(result["updates"], 1)
    result["cpu_ms_per_update"] = 1e3 * result["train_cpu_s"] / max(result["updates"], 1)
    env.close()
    return result


def _profile_settings(setting: Dict[str, Any], n_updates: int) -> None:
    """Short runs for timing updates: warm-up of at most 1,000 steps, about ``n_updates`` updates, no target."""
    hp = setting["hp"]
    hp["learning_starts"] = min(hp["learning_starts"], 1000)
    per_step = hp["gradient_steps"] / hp["train_freq"] if "train_freq" in hp and hp["train_freq"] > 1 else 1.0
    setting["budget"] = hp["learning_starts"] + int(n_updates / per_step)
    setting["target"] = float("inf")
    if "exploration_fraction" in hp:  # keep DQN's epsilon schedule over the short run
        hp["exploration_fraction"] = min(1.0, hp["exploration_fraction"])


def _warm_imports(algos: List[str]) -> None:
    import gymnasium as gym
    import stable_baselines3  # noqa: F401
    from stable_baselines3.common.env_util import make_vec_env  # noqa: F401

    import rlframe.logging  # noqa: F401
    import rlframe.runners.minibatch_rl  # noqa: F401
    import rlframe.samplers.serial  # noqa: F401

    for algo in algos:
        _rlframe_parts(algo, SETTINGS[algo]["hp"], SETTINGS[algo]["budget"])
        gym.make(SETTINGS[algo]["env"]).close()
    # The first torch optimiser of a process imports torch._dynamo (1-3 s): a one-off cost that would land on
    # whichever framework happens to run first.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _time_split(res: Dict[str, Any]) -> None:
    rl, sb = res.get("rlframe"), res.get("sb3")
    if rl and rl["wall_s"]:
        w, s, o = sum(rl["wall_s"]), sum(rl["sample_s"]), sum(rl["optimize_s"])
        ms = [m for m in rl["ms_per_update"]]
        cpu = [m for m in rl["cpu_ms_per_update"]]
        print(f"rlframe time split: sampling {s / w:.0%}, optimisation (replay + updates) {o / w:.0%}, other "
              f"{(w - s - o) / w:.0%}; {sum(ms) / len(ms):.2f} ms per update ({sum(cpu) / len(cpu):.2f} ms CPU)")
    if sb and sb["wall_s"]:
        w, t = sum(sb["wall_s"]), sum(sb["train_s"])
        ms = [m for m in sb["ms_per_update"]]
        cpu = [m for m in sb["cpu_ms_per_update"]]
        print(f"sb3 time split: train() {t / w:.0%}, rest (env steps, acting, callbacks) {(w - t) / w:.0%}; "
              f"{sum(ms) / len(ms):.2f} ms per update ({sum(cpu) / len(cpu):.2f} ms CPU)")


# --- where the time goes (--breakdown) ------------------------------------------------------------------------
class _PhaseTimers:
    """Wraps callables (``owner.name``) with process-CPU-time timers for the duration of a ``with`` block
    (CPU time: steady under other processes' load; one torch thread, so it is this thread's work)."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._undo: List[Any] = []

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        raw = vars(owner).get(name, _MISSING)  # what to put back (a class may inherit ``name``)
        original = getattr(owner, name)
        seconds = self.seconds
        seconds.setdefault(phase, 0.0)

        def timed(*args, **kwargs):
            t = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[phase] += time.process_time() - t

        timed.__dict__.update(getattr(original, "__dict__", {}))  # e.g. torch's optimizer-hook marker
        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        setattr(owner, name, staticmethod(timed) if static else timed)
        self._undo.append((owner, name, raw))

    def __enter__(self) -> "_PhaseTimers":
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, raw in reversed(self._undo):
            if raw is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, raw)


_MISSING = object()


def _breakdown_side(side: str, algo: str, seed: int) -> Dict[str, float]:
    """One short run of ``side`` with its update phases timed; CPU milliseconds per update (and, outside the
    updates, per env step; rlframe's replay writes are counted there, as SB3's happen outside ``train()``)."""
    with _PhaseTimers() as timers:
        timers.wrap(torch.Tensor, "backward", "backward")
        if side == "rlframe":
            import rlframe.algos.dqn.dqn as dqn_mod
            import rlframe.algos.qpg.ddpg as ddpg_mod
            import rlframe.algos.qpg.sac as sac_mod
            from rlframe.algos.optim import FastAdam
            from rlframe.replays.base import BaseReplayBuffer

            timers.wrap(BaseReplayBuffer, "sample_batch", "replay_sample")
            timers.wrap(BaseReplayBuffer, "append_samples", "replay_write")
            timers.wrap(FastAdam, "step", "optimizer")
            for mod in (dqn_mod, ddpg_mod, sac_mod):
                timers.wrap(mod, "clip_grad_norm", "optimizer")
            for cls in (dqn_mod.DQN, ddpg_mod.DDPG, sac_mod.SAC):
                timers.wrap(cls, "update_targets", "targets")
            res = run_rlframe(algo, seed)
            update_s = res["optimize_cpu_s"] - timers.seconds["replay_write"]
            outside_s = res["cpu_s"] - update_s
        else:
            import stable_baselines3.dqn.dqn as dqn_mod
            import stable_baselines3.sac.sac as sac_mod
            import stable_baselines3.td3.td3 as td3_mod
            from stable_baselines3.common.buffers import ReplayBuffer

            timers.wrap(ReplayBuffer, "sample", "replay_sample")
            timers.wrap(torch.optim.Adam, "step", "optimizer")
            timers.wrap(torch.nn.utils, "clip_grad_norm_", "optimizer")
            for mod in (dqn_mod, sac_mod, td3_mod):
                timers.wrap(mod, "polyak_update", "targets")
            res = run_sb3(algo, seed)
            update_s = res["train_cpu_s"]
            outside_s = res["cpu_s"] - update_s
    n = max(int(res["updates"]), 1)
    phases = {k: 1e3 * v / n for k, v in timers.seconds.items() if k != "replay_write"}
    phases["forward_loss_rest"] = 1e3 * update_s / n - sum(phases.values())
    phases["update_total"] = 1e3 * update_s / n
    phases["outside_updates_ms_per_env_step"] = 1e3 * outside_s / max(int(res["steps"]), 1)
    return phases


def breakdown(algos: List[str], n_updates: int, seeds: int) -> Dict[str, Any]:
    """``--breakdown``: per-phase milliseconds per update, both sides, seeds interleaved; medians printed."""
    out: Dict[str, Any] = {}
    for algo in algos:
        _profile_settings(SETTINGS[algo], n_updates)
    _warm_imports(algos)
    for algo in algos:
        runs: Dict[str, List[Dict[str, float]]] = {"rlframe": [], "sb3": []}
        for seed in range(seeds):
            for side in runs:
                runs[side].append(_breakdown_side(side, algo, seed))
        out[algo] = {side: {k: median([r[k] for r in rs]) for k in rs[0]} for side, rs in runs.items()}
        print(f"[{algo}] CPU ms per update (median of {seeds}):  " + "  ".join(
            f"{k}: {out[algo]['rlframe'][k]:.3f} / {out[algo]['sb3'][k]:.3f}" for k in out[algo]["rlframe"])
              + "   (rlframe / sb3)")
    return out


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="runs per framework and algorithm (seeds 0..N-1), interleaved")
    p.add_argument("--algos", default="dqn,sac,td3", help="comma-separated subset of dqn,sac,td3")
    p.add_argument("--threads", type=int, default=1, help="torch threads for both frameworks")
    p.add_argument("--only", choices=["rlframe", "sb3", BF16_SIDE], default=None, help="run one side only")
    p.add_argument("--json", type=str, default=None, help="write the results here")
    p.add_argument("--profile-updates", type=int, default=None, metavar="N",
                   help="time about N updates after a short warm-up instead of running to the target")
    p.add_argument("--seed-major", action="store_true",
                   help="seed 0 of every algorithm first, then seed 1, ...; the JSON is rewritten after every run")
    p.add_argument("--bf16", action="store_true",
                   help=f"also run rlframe with bf16 hidden-layer matmuls ({', '.join(BF16_ALGOS)}; JSON key {BF16_SIDE})")
    p.add_argument("--breakdown", type=int, default=None, metavar="N",
                   help="time the phases of about N updates per run on both sides (where the time goes)")
    args = p.parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in SETTINGS]
    if unknown:
        p.error(f"unknown algorithm(s) {unknown}; choose from {sorted(SETTINGS)}")
    torch.set_num_threads(args.threads)
    if args.breakdown:
        out = breakdown(algos, args.breakdown, args.seeds)
        write_json(args.json, out)
        return out
    if args.profile_updates:
        for algo in algos:
            _profile_settings(SETTINGS[algo], args.profile_updates)
    _warm_imports(algos)

    if args.seed_major:
        return _run_seed_major(algos, args)
    out: Dict[str, Any] = {}
    for algo in algos:
        res = summarise(interleave(args.seeds, _sides(algo, args), label=f"[{algo}] "), label=f"[{algo}] ")
        out[algo] = _finish(algo, res, args)
        write_json(args.json, out)  # after every algorithm, so a long run keeps what it has measured
    return out


def _finish(algo: str, res: Dict[str, Any], args: argparse.Namespace) -> Dict[str, Any]:
    """Add the per-update ratios, the bf16 side's ratio and the settings to one algorithm's summary."""
    _time_split(res)
    bf, sb = res.get(BF16_SIDE), res.get("sb3")
    if bf and bf["wall_s"]:
        bf["us_per_step"] = [1e6 * w / max(n, 1) for w, n in zip(bf["wall_s"], bf["steps"])]
        res[f"ratio_median_{BF16_SIDE}"] = (median(bf["wall_s"]) / median(sb["wall_s"]) if sb and sb["wall_s"]
                                            else None)
        bf["ratio_median"] = res[f"ratio_median_{BF16_SIDE}"]
        print(f"[{algo}] {BF16_SIDE}: median wall_s {median(bf['wall_s']):.2f}, steps {median(bf['steps']):,.0f}, "
              f"solved {sum(map(bool, bf['solved']))}/{len(bf['solved'])}; ratio to sb3 {bf['ratio_median']}")
    for key in ("ms_per_update", "cpu_ms_per_update"):
        res[f"ratio_{key}_median"] = (median(res["rlframe"][key]) / median(res["sb3"][key])
                                      if res.get("rlframe") and res.get("sb3") and res["rlframe"][key]
                                      and res["sb3"][key] else None)
    if res["ratio_ms_per_update_median"] is not None:
        print(f"[{algo}] per update, median rlframe / median sb3: wall-clock {res['ratio_ms_per_update_median']:.3f}, "
              f"CPU time {res['ratio_cpu_ms_per_update_median']:.3f}")
    res["profile_updates"] = args.profile_updates
    res["env"], res["target"], res["budget"] = SETTINGS[algo]["env"], SETTINGS[algo]["target"], SETTINGS[algo]["budget"]
    res["hyper_parameters"] = SETTINGS[algo]["hp"]
    res["threads"] = args.threads
    return res


def _run_seed_major(algos: List[str], args: argparse.Namespace) -> Dict[str, Any]:
    """``--seed-major``: seed 0 of every algorithm (both sides, alternating which goes first), then seed 1, ...;
    the JSON is rewritten after every run (``seeds_done`` per side), so a run stopped by a time limit keeps
    every finished pair. Algorithms already in an existing ``--json`` file and not run now are kept."""
    out: Dict[str, Any] = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            out = {k: v for k, v in json.load(f).items() if k not in algos}
    keys = ("wall_s", "steps", "cpu_s", "solved")
    raw: Dict[str, Dict[str, Dict[str, List[Any]]]] = {a: {} for a in algos}
    for seed in range(args.seeds):
        for algo in algos:
            runs = _sides(algo, args)
            sides = list(runs)
            for side in (sides if seed % 2 == 0 else sides[::-1]):
                r = runs[side](seed)
                store = raw[algo].setdefault(side, {k: [] for k in keys})
                for k, v in r.items():
                    store.setdefault(k, []).append(v)
                print(f"[{algo}] seed {seed} {side:12s} {'solved' if r['solved'] else 'NOT solved'} after "
                      f"{r['steps']:7,d} steps in {r['wall_s']:7.2f} s (cpu {r['cpu_s']:7.2f} s)", flush=True)
                res = summarise(copy.deepcopy(raw[algo]), label=f"[{algo}] ")
                out[algo] = _finish(algo, res, args)
                out[algo]["seeds_done"] = {s: len(d["wall_s"]) for s, d in raw[algo].items()}
                write_json(args.json, out)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
