"""Where PPO's optimisation time goes on CartPole (RL-zoo set: 8 envs x 32 steps, one 256-sample minibatch, 20
epochs, separate 64x64 tanh actor and critic): CPU microseconds per minibatch (gradient step), component by
component, for this code and, with ``--baseline-rev``, a git revision's ``rlframe/`` alternated process by process.

One real batch (``ppo_gradient_paths.one_batch``), a PPO initialised as in ``ppo_cartpole_vs_sb3.py``, then:

- ``per_minibatch``: ``optimize_agent`` CPU time (the thread's) / its 20 steps, no instrumentation (median of
  ``--calls`` calls);
- the parts, timed in the same calls by wrapping the functions PPO calls (each wrapper adds ~0.5 us, to both codes
  alike): ``model_forward`` (the twin MLP's forward pass), ``logp_entropy`` (the closed form's forward minus the
  model's: log-softmax, log p(a), entropy), ``loss_grads`` (the surrogate/value gradients), ``backward`` (the
  written-out backward pass), ``clip`` (gradient-norm clipping), ``adam`` (the optimiser's ``step``), and
  ``glue`` = instrumented ``optimize_agent`` per step minus all of those (per-step Python, per-iteration work
  such as returns, batch flattening and statistics, spread over the 20 steps, and the wrappers).

    python experiments/benchmarks/ppo_step_breakdown.py --baseline-rev b5e083d --repeats 5 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PARTS = ("model_forward", "logp_entropy", "loss_grads", "backward", "clip", "adam", "glue")


def measure(calls: int) -> Dict[str, Any]:
    """This process's rlframe: per-minibatch CPU us, plain and split into :data:`PARTS`."""
    import torch

    import rlframe
    import rlframe.algos.base as algos_base
    import rlframe.algos.pg.closed_form as cf
    from ppo_gradient_paths import one_batch
    from rlframe.algos.pg import PPO
    from rlframe.models.pg import ActorCriticModel

    torch.set_num_threads(1)
    clock = time.thread_time_ns
    agent, samples, spec = one_batch(0)
    algo = PPO(discount=0.98, gae_lambda=0.8, learning_rate=1e-3, linear_lr_schedule=True, value_loss_coeff=0.5,
               entropy_loss_coeff=0.0, max_grad_norm=0.5, normalize_advantage=True, epochs=20, minibatches=1,
               ratio_clip=0.2, linear_clip_schedule=True)
    algo.initialize(agent, n_itr=400, batch_spec=spec)
    agent.train_mode(0)
    state = {k: v.clone() for k, v in agent.model.state_dict().items()}
    steps = algo.epochs * algo.minibatches

    def one_call() -> float:
        agent.model.load_state_dict(state)  # the same parameters every call
        t = clock()
        algo.optimize_agent(10, samples)
        return (clock() - t) / 1e3 / steps

    for i in range(3):
        algo.optimize_agent(i, samples)
    plain = statistics.median(one_call() for _ in range(calls))

    spent = {k: 0 for k in PARTS}
    restore: List[Callable[[], None]] = []

    def timed(owner: Any, name: str, part: str, minus: Optional[str] = None) -> None:
        fn = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t = clock()
            out = fn(*args, **kwargs)
            spent[part] += clock() - t
            return out

        setattr(owner, name, wrapper)
        restore.append(lambda: setattr(owner, name, fn))

    model_fn = "forward_saving_features" if hasattr(ActorCriticModel, "forward_saving_features") else "forward_saving"
    timed(ActorCriticModel, model_fn, "model_forward")
    timed(cf.CategoricalClosedForm, "forward", "logp_entropy")  # minus the model's forward, below
    timed(cf.CategoricalClosedForm, "backward", "backward")
    timed(PPO, "_surrogate_grads", "loss_grads")
    timed(algos_base, "clip_grad_norm", "clip")
    timed(algo.optimizer, "step", "adam")
    parts_total = []
    for _ in range(calls):
        parts_total.append(one_call())
    for undo in reversed(restore):
        undo()
    n = calls * steps
    out = {k: v / 1e3 / n for k, v in spent.items()}
    out["logp_entropy"] -= out["model_forward"]
    out["glue"] = statistics.mean(parts_total) - sum(v for k, v in out.items() if k != "glue")
    return {"rlframe": os.path.dirname(rlframe.__file__), "per_minibatch_us": plain,
            "instrumented_per_minibatch_us": statistics.mean(parts_total), "parts_us": out}


def _child(path: Optional[str], calls: int) -> Dict[str, Any]:
    from collector_overhead import ROOT

    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (path or ROOT, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--calls", str(calls)], env=env,
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-rev", default=None, help="also measure rlframe/ as it was at this git revision")
    p.add_argument("--repeats", type=int, default=3, help="alternating child processes per code (medians reported)")
    p.add_argument("--calls", type=int, default=30, help="optimize_agent calls per child and measurement")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.calls)))
        return {}
    from collector_overhead import alternate_revisions

    runs = alternate_revisions(args.baseline_rev, args.repeats, lambda path: _child(path, args.calls),
                               lambda r: f"{r['per_minibatch_us']:.1f} us per minibatch")
    medians = {name: {"per_minibatch_us": statistics.median(r["per_minibatch_us"] for r in rs),
                      **{k: statistics.median(r["parts_us"][k] for r in rs) for k in PARTS}}
               for name, rs in runs.items()}
    print(f"{'CPU us per minibatch (CartPole, 256 samples, 64x64 twin MLP)':62}" + "".join(f"{n:>18}" for n in medians))
    for k in ("per_minibatch_us",) + PARTS:
        print(f"{k:62}" + "".join(f"{m[k]:>18.1f}" for m in medians.values()))
    out = {"medians": medians, "runs": runs, "repeats": args.repeats, "calls": args.calls,
           "baseline_rev": args.baseline_rev}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
