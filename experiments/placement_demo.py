"""rlframe's flagship demo: the shipped pre-trained placement policy is fine-tuned on a design it has never
seen, then meets the classical baselines with the same wall-clock budget each.

Circuit Training's formulation (Mirhoseini et al., Nature 2021): one hard macro per step, largest first,
the action a grid cell, infeasible cells masked out; MaskPlace's image observations and CNN policy (Lai et
al., NeurIPS 2022; rlframe/placement/policies/maskplace_cnn.py). The policy was pre-trained on synthetic and
small shipped netlists (rlframe/placement/data/pretrained/README.md, experiments/placement_pretrain.py);
here the pre-trained policy first samples 64 placements without training (its zero-shot best-of-N), PPO
fine-tunes it (reward: the final -proxy cost; 16 envs x 32 steps, one epoch per iteration) for 70 % of
``--budget`` seconds, then the fine-tuned policy samples placements without training for the rest
(``--sample-share``; ``rlframe placement rl``, rlframe/placement/rl.py). The result is the best of the
policy's own placements in that time (best-of-N: the deterministic placement after every 4th iteration and
the last, every complete sampled training episode and every placement of the sampling phases; the counts
are printed). Greedy and simulated annealing are never called by the policy.

The default design, ``rlframe/placement/data/synthetic/demo_16`` (16 hard macros, 64 soft macros; made
by ``rlframe placement synth``, see the README there), is one where greedy is not optimal: the greedy
wire-mask placer (least HPWL increase per macro, largest first) scores worse than random legal placements
(0.9815 against a mean of 0.9304 for five of them): putting every macro where it adds the least wire packs
the macros into one block, the lowest wirelength cost of all placers but a density cost of 0.85 against
~0.6 for random legal placements.

    python experiments/placement_demo.py                       # 60 s per placer, ~3.5 min on 2 cores
    python experiments/placement_demo.py --budget 5 --json demo.json         # a smoke test

Every placer gets ``--budget`` seconds: the policy (loading, fine-tuning, its final placement), random
search (best of as many legal placements as fit), simulated annealing (from greedy); greedy is one
deterministic pass (its own time is printed). Every score follows the evaluation protocol (soft macros
by force-directed placement from the canvas centre, docs/placement.md); each placer's ``.plc`` in the run
directory holds the soft macros where that score put them, so ``rlframe placement cost --netlist N --plc P``
gives the printed value. ``--json PATH`` writes the netlist, and per placer its proxy cost, the three
components and its ``.plc`` path.

TensorBoard (``tensorboard --logdir runs``), at every log interval of the fine-tuning:
``placement/best_proxy_cost``, ``placement/deterministic_proxy_cost``, ``placement/sampled_proxy_cost``
against env steps, and images of the best placement so far: ``placement/layout``, ``placement/density``
and ``placement/congestion`` (heat maps, white = 0, dark red = the map's maximum); at the end the density
and congestion maps of every placer under ``final/<placer>/``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from rlframe.logging import logger_context
from rlframe.placement.baselines import greedy_placement, random_placement, simulated_annealing
from rlframe.placement.cost import PlacementCost
from rlframe.placement.designs import DATA_DIR, companion_plc, load_design, resolve_plc
from rlframe.placement.protocol import evaluate
from rlframe.placement.rl import SAMPLE_SHARE, rl_place
from rlframe.placement.state import PlacementProblem

DEMO_NETLIST = os.path.join(DATA_DIR, "synthetic", "demo_16", "netlist.pb.txt")
COMPONENTS = ("proxy_cost", "wirelength_cost", "density_cost", "congestion_cost")
#: PPO batch of the fine-tuning: many envs, one epoch (docs/placement.md, "The demo": sampling a placement
#: costs ~20 ms of CPU here, a PPO epoch over it ~150 ms, so more placements per update pays)
BATCH_B, EPOCHS = 16, 1

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--design", default=DEMO_NETLIST, help="shipped design name or netlist path (default: demo_16)")
p.add_argument("--plc", default=None, help="initial .plc (default: the one beside the netlist)")
p.add_argument("--budget", type=float, default=60.0, help="wall-clock seconds per placer")
p.add_argument("--checkpoint", default="pretrained", help="policy checkpoint to fine-tune (default: shipped)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--log-dir", default="runs")
p.add_argument("--log-interval", type=int, default=2, help="PPO iterations between log rows and images")
p.add_argument("--reward", choices=("proxy", "mix", "hpwl"), default="proxy",
               help="fine-tuning reward (default proxy: the final -proxy cost, the table's objective)")
p.add_argument("--batch-T", type=int, default=32, help="PPO batch: time steps per env")
p.add_argument("--batch-B", type=int, default=BATCH_B, help="PPO batch: envs (one batched forward per step)")
p.add_argument("--epochs", type=int, default=EPOCHS,
               help="PPO epochs per iteration (the update is most of the learner's CPU time: see the docstring)")
p.add_argument("--sample-share", type=float, default=SAMPLE_SHARE,
               help="share of the policy's budget spent sampling from the fine-tuned policy after PPO (best-of-N)")
p.add_argument("--json", default=None, help="write the results here")


def heat_map(values: np.ndarray, cell_px: int = 12) -> np.ndarray:
    """``[rows, cols]`` map (row 0 at the bottom) -> RGB uint8 image, white (0) to dark red (max)."""
    v = np.asarray(values, float)
    top = float(v.max()) if v.size and v.max() > 0 else 1.0
    t = np.clip(v / top, 0.0, 1.0)[::-1]
    stops = np.array([[255, 255, 255], [255, 220, 80], [240, 80, 30], [120, 0, 0]], float)
    x = t * (len(stops) - 1)
    i = np.minimum(x.astype(int), len(stops) - 2)
    f = (x - i)[..., None]
    rgb = (stops[i] * (1 - f) + stops[i + 1] * f).astype(np.uint8)
    return np.kron(rgb, np.ones((cell_px, cell_px, 1), np.uint8))


def maps(pc):
    """Density and congestion (max of the horizontal and vertical maps) of a PlacementCost as images."""
    h, v = pc.congestion_grids()
    return heat_map(pc.density_grid()), heat_map(np.maximum(h, v))


def log_policy(logger, every):
    """``on_iteration`` callback of rl_place: scalars and the best placement's images every ``every`` iterations."""
    def log(tr, elapsed):
        if tr.itr % every:
            return
        row = {"time/seconds": elapsed, "placement/best_proxy_cost": tr.best.cost if tr.best else float("nan"),
               "placement/sampled_episodes": tr.sampled}
        if tr.last_costs:
            row["placement/sampled_proxy_cost"] = float(np.mean(tr.last_costs))
        if tr.last_deterministic is not None:
            row["placement/deterministic_proxy_cost"] = tr.last_deterministic
        logger.log(row, step=tr.env_steps)
        print(f"  fine-tuning: {elapsed:5.1f} s, {tr.env_steps:,d} env steps, "
              f"best proxy cost {row['placement/best_proxy_cost']:.4f}"
              f" ({tr.evaluations} deterministic + {tr.sampled} sampled placements)", flush=True)
        if tr.best is not None:
            env = tr.replay(tr.best)
            density, congestion = maps(env.problem.cost)
            logger.add_image("placement/layout", env.render(), step=tr.env_steps)
            logger.add_image("placement/density", density, step=tr.env_steps)
            logger.add_image("placement/congestion", congestion, step=tr.env_steps)
    return log


def row_of(netlist, plc_path, seconds, **extra):
    """A placer's result: the components of its .plc scored as written (soft macros where FD put them)."""
    ev = evaluate(netlist, plc_path, fd="none")
    return dict({k: float(ev.costs[k]) for k in COMPONENTS + ("hpwl",)}, plc=os.path.abspath(plc_path),
                seconds=round(seconds, 2), **extra)


def main(argv=None):
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    torch.set_num_threads(1)
    netlist, plc = args.design, resolve_plc(args.design, args.plc)
    if plc is None and os.path.isfile(companion_plc(netlist)):
        plc = companion_plc(netlist)
    config = dict(design=netlist, plc=plc, budget=args.budget, checkpoint=args.checkpoint, seed=args.seed,
                  fd="centre", reward=args.reward, batch_T=args.batch_T, batch_B=args.batch_B, epochs=args.epochs,
                  sample_share=args.sample_share)
    results = {}
    with logger_context(args.log_dir, name="placement_demo", params=config, console=False) as logger:
        run_dir = logger.run_dir
        out = os.path.join(run_dir, "policy.plc")
        res = rl_place(netlist, out, plc=plc, checkpoint=args.checkpoint, seconds=args.budget, seed=args.seed,
                       reward=args.reward, batch_T=args.batch_T, batch_B=args.batch_B,
                       algo_kwargs=dict(epochs=args.epochs), sample_share=args.sample_share,
                       on_iteration=log_policy(logger, args.log_interval))
        results["policy"] = row_of(netlist, out, res.seconds, env_steps=res.env_steps,
                                   best_of=dict(deterministic=res.evaluations, sampled=res.sampled),
                                   winner=res.source)
        problem = PlacementProblem(netlist, plc=plc)
        for name, run in (("greedy", lambda: greedy_placement(problem)),
                          ("sa", lambda: simulated_annealing(problem, time_budget=args.budget, seed=args.seed)),
                          ("random", lambda: random_placement(problem, seed=args.seed, time_budget=args.budget))):
            r = run()
            path = os.path.join(run_dir, f"{name}.plc")
            r.write(path, "centre")
            results[name] = row_of(netlist, path, r.seconds, evaluations=r.evaluations)
        for name, r in results.items():
            nl, pl = load_design(netlist, r["plc"])
            density, congestion = maps(PlacementCost.from_plc(nl, pl))
            logger.add_image(f"final/{name}/density", density, step=res.env_steps)
            logger.add_image(f"final/{name}/congestion", congestion, step=res.env_steps)
        tb = logger.tensorboard_command()

    n = problem.n_macros
    print(f"\n{os.path.relpath(netlist) if os.path.isabs(netlist) else netlist}: {n} hard macros, "
          f"{len(problem.netlist.soft_macro_indices)} soft macros, {problem.grid.cols} x {problem.grid.rows} grid; "
          f"{args.budget:g} s per placer, seed {args.seed}. Proxy cost (lower is better), soft macros by FD from the "
          "centre.")
    names = {"policy": "RL policy (pre-trained + fine-tuned)", "greedy": "greedy (wire mask)",
             "sa": "simulated annealing", "random": "random search (best legal)"}
    print(f"{'placer':38s} {'proxy':>7s} {'wirelen':>8s} {'density':>8s} {'congest':>8s} {'time s':>7s}")
    for name, r in results.items():
        print(f"{names[name]:38s} {r['proxy_cost']:7.4f} {r['wirelength_cost']:8.4f} {r['density_cost']:8.4f} "
              f"{r['congestion_cost']:8.4f} {r['seconds']:7.1f}")
    pol = results["policy"]
    print(f"  policy: best of {pol['best_of']['deterministic']} deterministic and {pol['best_of']['sampled']} "
          f"sampled placements ({pol['env_steps']:,d} env steps incl. pre-training); the {pol['winner']} one won")
    for name in ("greedy", "sa", "random"):
        d = results[name]["proxy_cost"] - pol["proxy_cost"]
        verdict = "better" if d > 1e-9 else ("worse" if d < -1e-9 else "equal")
        pct = 100 * abs(d) / results[name]["proxy_cost"]
        print(f"  policy vs {names[name]}: {verdict} by {abs(d):.4f} ({pct:.1f}%)")
    print(f"Placements: {run_dir}/{{policy,greedy,sa,random}}.plc\nTensorBoard: {tb}")
    print(f"Total wall-clock: {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(netlist=os.path.abspath(netlist) if os.path.exists(netlist) else netlist, plc=plc,
                           budget_s=args.budget, seed=args.seed, fd="centre", placers=results), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
