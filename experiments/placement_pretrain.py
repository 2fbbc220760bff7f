"""Pre-train one MaskPlace CNN placement policy over many netlists (Mirhoseini et al., Nature 2021 pre-train
Circuit Training's policy on a set of blocks, then fine-tune on a new one; Lai et al., NeurIPS 2022 for the
MaskPlace CNN, rlframe/placement/policies/maskplace_cnn.py).

The training set: synthetic netlists from rlframe/placement/synthetic.py with varied sizes (hard macros,
soft macros per macro, utilisation, ports; drawn from ``--seed``) plus small shipped designs (``--designs``).
PPO (rlframe.placement.rl.PolicyTrainer, reward ``mix``: dense -ΔHPWL plus the final -proxy cost) trains on
one netlist for ``--iters-per-phase`` iterations, then moves to the next one (shuffled cycles); the weights
and Adam's state carry over (the policy's parameters do not depend on the grid). The run stops after
``--minutes`` of wall-clock time or ``--steps`` env steps, and writes the checkpoint (``--out``, atomically,
also every ``--save-every`` phases, so a killed run leaves its last weights) and ``<out>.json`` beside it:
the command, the netlists and their generator specs, steps, time and the per-phase mean sampled proxy cost.

    python experiments/placement_pretrain.py --minutes 35            # the shipped weights (data/pretrained/)
    python experiments/placement_pretrain.py --minutes 1 --out /tmp/cnn.pt --netlists 3   # a smoke test

Measure a checkpoint on netlists it has not seen (zero-shot vs greedy vs random, fine-tuning vs from scratch):

    python experiments/placement_pretrain.py --evaluate pretrained --eval-json results.json

Then ``rlframe placement rl --netlist N --checkpoint /tmp/cnn.pt --time 0 --out N.plc`` places a netlist
zero-shot (``--checkpoint pretrained`` for the shipped weights). Netlists held out of the default set: the
synthetic seeds 0-99 (``rlframe placement synth --seed S``) and the demo design (experiments/placement_demo.py).
"""
import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch

from rlframe.placement.cli import add_fine_tuning_arguments, fine_tuning_kwargs, fine_tuning_schedule
from rlframe.placement.rl import (EVAL_EVERY, PPO_KWARGS, PRETRAINED, PRIOR_TEMPERATURE, SAMPLE_SHARE, SAMPLES,
                                  PolicyTrainer, load_checkpoint, rl_place)
from rlframe.placement.synthetic import SyntheticSpec, write_synthetic

#: held-out synthetic netlists of the zero-shot table (docs/placement.md): sizes below, inside and above the
#: pre-training's 4-24 hard macros, 2-6 soft macros per hard macro, utilisation 0.4-0.7
HELD_OUT = ["6:21:6", "12:22:2", "16:23:4:0.4", "24:1", "32:24:3", "48:25:4:0.7"]

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", default=PRETRAINED, help="checkpoint path (default: the package's pre-trained weights)")
p.add_argument("--work-dir", default="runs/pretrain_netlists", help="where the synthetic netlists are written")
p.add_argument("--netlists", type=int, default=12, help="synthetic netlists in the training set")
p.add_argument("--designs", nargs="*", default=["toy_macro_stdcell", "macro_tiles_10x10"],
               help="shipped designs added to the training set")
p.add_argument("--minutes", type=float, default=35.0, help="wall-clock budget")
p.add_argument("--steps", type=int, default=10 ** 9, help="env-step budget")
p.add_argument("--iters-per-phase", type=int, default=3, help="PPO iterations on a netlist before the next")
p.add_argument("--batch-T", type=int, default=64)
p.add_argument("--batch-B", type=int, default=4)
p.add_argument("--lr", type=float, default=5e-4)
p.add_argument("--reward", choices=("mix", "proxy", "hpwl"), default="mix",
               help="env reward: mix (dense -ΔHPWL + final -proxy cost; the HPWL part dominates, so the policy "
                    "learns to follow the wire mask), proxy (only the final -proxy cost: density and congestion count)")
p.add_argument("--entropy", type=float, default=PPO_KWARGS["entropy_loss_coeff"], help="PPO entropy bonus")
p.add_argument("--channels", type=int, default=16)
p.add_argument("--save-every", type=int, default=10, help="phases between checkpoint writes")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--init", default=None, help="start from this checkpoint (continue a pre-training)")
e = p.add_argument_group("measuring a checkpoint instead of training (docs/placement.md, 'Pre-trained placer')")
e.add_argument("--evaluate", default=None, metavar="CHECKPOINT",
               help="measure CHECKPOINT ('pretrained' for the shipped one) on netlists it has not seen: zero-shot "
                    "vs greedy vs random legal placements, then fine-tuning vs training from scratch")
e.add_argument("--eval-designs", nargs="*", default=["ariane133"],
               help="shipped designs or netlist paths (a .plc beside each) for the zero-shot table")
e.add_argument("--eval-synthetic", nargs="*", default=HELD_OUT, metavar="MACROS:SEED[:SOFT[:UTIL]]",
               help="held-out synthetic netlists (generator seeds 0-99) for the zero-shot table")
e.add_argument("--eval-seconds", type=float, default=90.0, help="budget of each fine-tuning / from-scratch run")
e.add_argument("--eval-finetune", nargs="*", default=["16:0", "24:1"], metavar="MACROS:SEED[:SOFT[:UTIL]]|NETLIST",
               help="netlists for fine-tuning vs from scratch: held-out synthetic specs, shipped design names or "
                    "netlist paths (a .plc beside each)")
e.add_argument("--eval-reward", choices=("mix", "proxy", "hpwl"), default="mix",
               help="reward of the fine-tuning / from-scratch runs")
e.add_argument("--eval-batch-B", type=int, default=4, help="envs of those runs (x 32 steps per iteration)")
e.add_argument("--eval-epochs", type=int, default=PPO_KWARGS["epochs"], help="PPO epochs of those runs")
e.add_argument("--eval-every", type=int, default=EVAL_EVERY,
               help="PPO iterations between deterministic evaluations in those runs (1: session 4's runs)")
add_fine_tuning_arguments(e, prefix="eval-", defaults=dict(   # the fine-tuning runs' schedule
    samples=SAMPLES, sample_share=SAMPLE_SHARE, prior_temperature=PRIOR_TEMPERATURE))
e.add_argument("--eval-json", default=None, help="write the measurements here")


def synthetic_specs(n: int, seed: int):
    """``n`` generator specs of varied size and density; seeds 1000 + i (0-99 stay unseen)."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n):
        specs.append(SyntheticSpec(
            n_macros=int(rng.choice([4, 6, 8, 12, 16, 20, 24])), seed=1000 + seed * 100 + i,
            soft_per_macro=float(rng.choice([2.0, 4.0, 6.0])), n_ports=int(rng.choice([8, 16, 24])),
            utilization=float(rng.choice([0.4, 0.5, 0.6])), soft_area_ratio=float(rng.choice([0.5, 1.0, 2.0]))))
    return specs


def save(trainer, path, trained_on, seconds, meta):
    tmp = path + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(trainer.checkpoint(trained_on, seconds, pretrain=meta["config"]), tmp)
    os.replace(tmp, path)
    with open(path + ".json.tmp", "w") as f:
        json.dump({**meta, "env_steps": trainer.env_steps, "seconds": round(seconds, 1)}, f, indent=1)
    os.replace(path + ".json.tmp", path + ".json")


def zero_shot_row(name, checkpoint, out_dir, seed, samples, plc=None):
    """Zero-shot on one netlist: the policy's deterministic placement and the best of it and ``samples``
    placements sampled from the policy (no training), against greedy, the mean of five random legal
    placements and the best random legal placement found in the time the best-of-N took."""
    from rlframe.placement.baselines import greedy_placement, random_placement
    from rlframe.placement.state import PlacementProblem
    z = rl_place(name, os.path.join(out_dir, "zero_shot.plc"), plc=plc, checkpoint=checkpoint, seconds=0,
                 seed=seed, samples=samples)
    problem = PlacementProblem(name, plc=plc)
    g = greedy_placement(problem)
    rand = [random_placement(problem, seed=s) for s in range(5)]
    rb = random_placement(problem, seed=seed, time_budget=z.seconds)
    return dict(netlist=os.path.basename(name), macros=problem.n_macros,
                soft_macros=len(problem.netlist.soft_macro_indices), deterministic=z.zero_shot_cost,
                best_of_n=z.costs["proxy_cost"], samples=z.sampled, zero_shot_s=round(z.seconds, 2),
                greedy=g.costs["proxy_cost"], greedy_s=round(g.seconds, 2),
                random_mean5=float(np.mean([r.costs["proxy_cost"] for r in rand])),
                random_best_same_time=rb.costs["proxy_cost"], random_best_samples=rb.evaluations)


def is_spec(text):
    """``MACROS:SEED[...]`` (a synthetic netlist) rather than a design name or a path."""
    return all(v.replace(".", "", 1).isdigit() for v in text.split(":")) and ":" in text


def best_at(history, seconds):
    """The best cost reached within ``seconds`` of a run's ``history`` (None: nothing yet)."""
    costs = [h[2] for h in history if h[0] <= seconds]
    return min(costs) if costs else None


def synthetic_spec(text):
    """``MACROS:SEED[:SOFT_PER_MACRO[:UTILIZATION]]`` -> SyntheticSpec (held out: seeds 0-99)."""
    v = text.split(":")
    kw = dict(n_macros=int(v[0]), seed=int(v[1]))
    if len(v) > 2:
        kw["soft_per_macro"] = float(v[2])
    if len(v) > 3:
        kw["utilization"] = float(v[3])
    return SyntheticSpec(**kw)


def tuning_run(name, checkpoint, seconds, out_dir, seed, reward="mix", batch_B=4, epochs=PPO_KWARGS["epochs"],
               eval_every=EVAL_EVERY, **tuning):
    """Best proxy cost against wall-clock time of a fine-tuning (checkpoint) or from-scratch (None) run of
    ``rl_place`` (PPO with ``reward``, ``batch_B`` envs x 32 steps, ``epochs``, ``eval_every``; ``tuning``:
    rl_place's best-of-N and fine-tuning schedule, rlframe/placement/cli.py FINE_TUNING_DEFAULTS).
    ``trace``: the best after each PPO iteration (seconds, PPO env steps, cost); ``history``: every improvement
    of the best (seconds, env steps of PPO and sampling, cost, which kind of placement)."""
    trace, start = [], []

    def record(tr, elapsed):
        start.append(start[0] if start else tr.env_steps - tr.batch_T * tr.batch_B)
        trace.append((round(elapsed, 1), tr.env_steps - start[0], tr.best.cost if tr.best else None))

    res = rl_place(name, os.path.join(out_dir, "tune.plc"), checkpoint=checkpoint, seconds=seconds, seed=seed,
                   on_iteration=record, eval_every=eval_every, reward=reward, batch_B=batch_B,
                   algo_kwargs=dict(epochs=epochs), **fine_tuning_schedule(tuning))
    history = [(round(t, 2), n, c, src) for t, n, c, src in res.history]
    return dict(final=res.costs["proxy_cost"], seconds=round(res.seconds, 1), env_steps=res.env_steps,
                deterministic=res.evaluations, sampled=res.sampled, winner=res.source, trace=trace,
                history=history)


def time_to(history, target):
    """``(seconds, env steps)`` at which the best cost first reached ``target`` (None: never). The costs of
    sampled training episodes come from float32 buffers, hence the tolerance."""
    return next(((h[0], h[1]) for h in history if h[2] is not None and h[2] <= target + 1e-6 * max(1.0, target)),
                None)


def evaluate_checkpoint(args):
    import tempfile
    out_dir = tempfile.mkdtemp(prefix="pretrain_eval_")
    synth_dir = os.path.join(out_dir, "netlists")
    held_out = [write_synthetic(synth_dir, synthetic_spec(x))[0] for x in args.eval_synthetic]
    synth = [write_synthetic(synth_dir, synthetic_spec(x))[0] if is_spec(x) else x for x in args.eval_finetune]
    rows = []
    result = dict(checkpoint=args.evaluate, seed=args.seed, samples=args.eval_samples, zero_shot=rows, tuning=[],
                  command="python experiments/placement_pretrain.py " + " ".join(args.argv))
    for name in held_out + list(args.eval_designs):
        rows.append(zero_shot_row(name, args.evaluate, out_dir, args.seed, args.eval_samples))
        print(json.dumps(rows[-1]), flush=True)
        write_json(args.eval_json, result)   # after every row: a long run stopped early keeps its rows
    tuning = []
    for name in synth:
        ppo = dict(reward=args.eval_reward, batch_B=args.eval_batch_B, epochs=args.eval_epochs,
                   eval_every=args.eval_every, **fine_tuning_kwargs(args, "eval-"))
        ft = tuning_run(name, args.evaluate, args.eval_seconds, out_dir, args.seed, **ppo)
        sc = tuning_run(name, None, args.eval_seconds, out_dir, args.seed, **ppo)
        target = sc["final"]   # the cost training from scratch reaches in the budget
        half = best_at(sc["history"], args.eval_seconds / 2)   # a second target: scratch's best at half budget
        tuning.append(dict(netlist=os.path.basename(name), budget_s=args.eval_seconds, target=target, **ppo,
                           fine_tune_time_to_target=time_to(ft["history"], target),
                           scratch_time_to_target=time_to(sc["history"], target),
                           half_budget_target=half,
                           fine_tune_time_to_half_budget_target=None if half is None else time_to(ft["history"], half),
                           scratch_time_to_half_budget_target=None if half is None else time_to(sc["history"], half),
                           fine_tune=ft, scratch=sc))
        write_json(args.eval_json, dict(result, tuning=tuning))
        print(json.dumps({k: v for k, v in tuning[-1].items() if k not in ("fine_tune", "scratch")}), flush=True)
    result["tuning"] = tuning
    print(f"\n| netlist | hard / soft macros | zero-shot: deterministic | best of 1 + {args.eval_samples} sampled "
          "(time) | greedy | random (mean of 5) | random best, same time |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        det = "dead end" if r["deterministic"] is None else f"{r['deterministic']:.4f}"
        print(f"| {r['netlist']} | {r['macros']} / {r['soft_macros']} | {det} | "
              f"{r['best_of_n']:.4f} ({r['zero_shot_s']:.1f} s) | {r['greedy']:.4f} | {r['random_mean5']:.4f} | "
              f"{r['random_best_same_time']:.4f} |")
    wins = sum(beats(r["best_of_n"], r) for r in rows)
    print(f"best-of-N beats greedy and random (mean of 5) on {wins} of {len(rows)}; deterministic alone on "
          f"{sum(beats(r['deterministic'], r) for r in rows)} of {len(rows)}")
    print("\n| netlist | budget | from scratch: final | fine-tuned: final | to scratch's final (s, env steps): "
          "fine-tune | scratch | scratch at half budget | to it: fine-tune | scratch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t in tuning:
        half = "-" if t["half_budget_target"] is None else f"{t['half_budget_target']:.4f}"
        print(f"| {t['netlist']} | {t['budget_s']:g} s | {t['scratch']['final']:.4f} | {t['fine_tune']['final']:.4f} | "
              f"{t['fine_tune_time_to_target']} | {t['scratch_time_to_target']} | {half} | "
              f"{t['fine_tune_time_to_half_budget_target']} | {t['scratch_time_to_half_budget_target']} |")
    write_json(args.eval_json, result)
    return 0


def beats(cost, row):
    """``cost`` (None: a dead end) below both greedy's and the mean random placement's in ``row``."""
    return cost is not None and cost < min(row["greedy"], row["random_mean5"])


def write_json(path, result):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(result, f, indent=1)


def main(argv=None):
    args = p.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(1)
    if args.evaluate:
        return evaluate_checkpoint(args)
    t0 = time.perf_counter()
    specs = synthetic_specs(args.netlists, args.seed)
    netlists = [(write_synthetic(args.work_dir, s)[0], dataclasses.asdict(s)) for s in specs]
    netlists += [(d, None) for d in args.designs]
    config = dict(policy="cnn", model_kwargs=dict(channels=args.channels), reward=args.reward,
                  batch_T=args.batch_T, batch_B=args.batch_B, iters_per_phase=args.iters_per_phase,
                  algo={**PPO_KWARGS, "learning_rate": args.lr, "entropy_loss_coeff": args.entropy},
                  seed=args.seed, minutes=args.minutes, init=args.init)
    meta = dict(command="python experiments/placement_pretrain.py " + " ".join(argv if argv is not None
                                                                                 else sys.argv[1:]),
                config=config, torch=torch.__version__,
                netlists=[dict(path=n if s is None else os.path.basename(n), spec=s) for n, s in netlists],
                phases=[])
    init = load_checkpoint(args.init) if args.init else None
    tr = PolicyTrainer("cnn", config["model_kwargs"], init["state_dict"] if init else None, args.reward,
                       args.batch_T, args.batch_B, config["algo"], args.seed)
    if init:   # continue counting the earlier stage's steps and phases
        tr.env_steps = int(init.get("env_steps", 0))
        meta["earlier_stages"] = [init.get("pretrain", {})]
    rng = np.random.default_rng(args.seed)
    names = [n for n, _ in netlists]
    phase, order = 0, []
    try:
        while time.perf_counter() - t0 < 60 * args.minutes and tr.env_steps < args.steps:
            if not order:
                order = list(rng.permutation(len(netlists)))
            k = int(order.pop())
            tr.use(names[k])
            costs = []
            for _ in range(args.iters_per_phase):
                costs += tr.iterate()
            det = tr.evaluate()
            meta["phases"].append(dict(phase=phase, netlist=k, env_steps=tr.env_steps,
                                       seconds=round(time.perf_counter() - t0, 1),
                                       sampled_mean=float(np.mean(costs)) if costs else None,
                                       deterministic=det))
            print(f"phase {phase:4d} {os.path.basename(names[k]):28s} steps {tr.env_steps:7d} "
                  f"t {time.perf_counter() - t0:6.0f}s sampled {np.mean(costs) if costs else float('nan'):.4f} "
                  f"det {det if det is not None else float('nan'):.4f}", flush=True)
            phase += 1
            if phase % args.save_every == 0:
                tr.close()
                save(tr, args.out, names, time.perf_counter() - t0, meta)
    finally:
        tr.close()
        save(tr, args.out, names, time.perf_counter() - t0, meta)
    print(f"wrote {args.out} ({tr.env_steps} env steps, {time.perf_counter() - t0:.0f} s, {phase} phases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
