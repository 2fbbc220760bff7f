"""``rlframe placement rl``: place a netlist with a learned policy -- zero-shot from a checkpoint
(``time=0``) or after fine-tuning it (or training from scratch) with PPO for a wall-clock budget.

The policy is one of :data:`rlframe.placement.policies.POLICIES` (its weights do not depend on the
netlist or the grid, so a checkpoint trained on one design places another). During fine-tuning the
deterministic policy's placement is scored after every PPO iteration and the best one is kept
(best-of-iterations, stated in the result as ``evaluations``); no baseline placer is called. The
written ``.plc`` is scored under the protocol (:func:`rlframe.placement.evaluate`).

Checkpoint format (``torch.save``): ``{"policy": name, "model_kwargs": {...}, "state_dict": {...},
"trained_on": [netlist paths], "env_steps": int, "seconds": float}``.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, List, Optional

import torch

from rlframe.errors import ConfigError

OBSERVATION = {"cell": "image", "cnn": "image", "gnn": "graph"}


@dataclasses.dataclass
class RlResult:
    """What :func:`rl_place` did: the protocol score of ``out``, time, steps and the checkpoint it saved."""

    out: str
    costs: Dict[str, float]
    seconds: float
    env_steps: int
    evaluations: int
    checkpoint: Optional[str]


def load_checkpoint(path: str) -> Dict[str, Any]:
    """A checkpoint written by :func:`rl_place` (``save_checkpoint=``); named errors otherwise."""
    if not os.path.isfile(path):
        raise ConfigError(f"rlframe placement rl: checkpoint {path!r} does not exist; train one with "
                          "--time SECONDS --save-checkpoint PATH (no pre-trained weights ship yet)")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "state_dict" not in ck or ck.get("policy") not in OBSERVATION:
        raise ConfigError(f"rlframe placement rl: {path!r} is not a placement-policy checkpoint "
                          "(expected keys policy, model_kwargs, state_dict)")
    return ck


def rl_place(netlist: str, out: str, plc: Optional[str] = None, checkpoint: Optional[str] = None,
             policy: str = "cnn", seconds: float = 0.0, seed: int = 0, fd: str = "centre",
             reward: str = "mix", save_checkpoint: Optional[str] = None, batch_T: int = 100,
             batch_B: int = 4) -> RlResult:
    """Place ``netlist`` with a policy; see the module docstring."""
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-step forwards of one env: a thread pool only costs time
    try:
        return _rl_place(netlist, out, plc, checkpoint, policy, seconds, seed, fd, reward, save_checkpoint,
                         batch_T, batch_B, t0)
    finally:
        torch.set_num_threads(threads)


def _rl_place(netlist, out, plc, checkpoint, policy, seconds, seed, fd, reward, save_checkpoint,
              batch_T, batch_B, t0) -> RlResult:
    from rlframe.agents import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.envs.gym import GymEnv
    from rlframe.placement.designs import list_designs, resolve_plc
    from rlframe.placement.env import MacroPlacementEnv
    from rlframe.placement.env.rollout import policy_placement
    from rlframe.placement.policies import POLICIES
    from rlframe.placement.protocol import evaluate
    from rlframe.samplers.serial import SerialSampler

    ck = load_checkpoint(checkpoint) if checkpoint else None
    if ck is None and seconds <= 0:
        raise ConfigError("rlframe placement rl: --time 0 needs --checkpoint (zero-shot); give --time "
                          "SECONDS to train from scratch")
    policy = ck["policy"] if ck else policy
    if policy not in POLICIES:
        raise ConfigError(f"rlframe placement rl: policy {policy!r}; choose one of {sorted(POLICIES)}")
    plc = resolve_plc(netlist, plc)
    key = "design" if netlist in list_designs() else "netlist"
    env_kwargs = {"id": "rlframe.placement:rlframe/MacroPlacement-v0", key: netlist, "plc": plc,
                  "observation": OBSERVATION[policy], "reward": reward,
                  # the masked policy never picks an infeasible cell; the sampler's start-up probe
                  # (rlframe/samplers/checks.py) steps a random action, which "error" would refuse
                  "infeasible_action": "penalty"}
    grid = MacroPlacementEnv(**{k: v for k, v in env_kwargs.items() if k != "id"}).problem.grid
    model_kwargs = dict(ck["model_kwargs"]) if ck else {}
    if policy == "gnn":
        model_kwargs["grid"] = (grid.rows, grid.cols)
    agent = CategoricalPgAgent(POLICIES[policy], model_kwargs=model_kwargs,
                               initial_model_state_dict=ck["state_dict"] if ck else None)
    torch.manual_seed(seed)
    show = GymEnv(**env_kwargs)
    best, best_cost, steps, evals = None, float("inf"), int(ck.get("env_steps", 0)) if ck else 0, 0

    def score() -> None:
        nonlocal best, best_cost, evals
        agent.eval_mode(0)
        info = policy_placement(agent, show)
        evals += 1
        if not getattr(info, "dead_end", False) and float(info.proxy_cost) < best_cost:
            best_cost, best = float(info.proxy_cost), show.unwrapped.placement()

    if seconds > 0:
        sampler = SerialSampler(GymEnv, env_kwargs, batch_T=batch_T, batch_B=batch_B, max_decorrelation_steps=0)
        algo = PPO(discount=0.99, gae_lambda=0.95, learning_rate=1e-3, epochs=4, minibatches=4,
                   ratio_clip=0.2, entropy_loss_coeff=0.003)
        try:
            sampler.initialize(agent, seed=seed, bootstrap_value=algo.bootstrap_value)
            algo.initialize(agent, n_itr=10 ** 9, batch_spec=sampler.batch_spec,
                            mid_batch_reset=sampler.mid_batch_reset)
            itr = 0
            if ck:
                score()
            while True:  # at least one iteration, then until the budget is spent
                agent.sample_mode(itr)
                samples, _ = sampler.obtain_samples(itr)
                agent.train_mode(itr)
                algo.optimize_agent(itr, samples)
                steps += batch_T * batch_B
                itr += 1
                score()
                if time.perf_counter() - t0 >= seconds:
                    break
        finally:
            sampler.shutdown()
    else:
        agent.initialize(show.spaces)
        score()
    if best is None:
        raise RuntimeError(f"rlframe placement rl: the policy dead-ended on every evaluation of {netlist}; "
                           "train longer (--time) or check `rlframe placement info`")
    best.write(out)
    elapsed = time.perf_counter() - t0
    if save_checkpoint:
        trained_on: List[str] = list(ck.get("trained_on", [])) if ck else []
        torch.save({"policy": policy, "model_kwargs": {k: v for k, v in model_kwargs.items() if k != "grid"},
                    "state_dict": agent.state_dict(), "trained_on": trained_on + [str(netlist)],
                    "env_steps": steps, "seconds": elapsed + (ck.get("seconds", 0.0) if ck else 0.0)},
                   save_checkpoint)
    costs = evaluate(netlist, out, fd=fd).costs
    return RlResult(out=out, costs=dict(costs), seconds=elapsed, env_steps=steps, evaluations=evals,
                    checkpoint=save_checkpoint)
