"""PPO on chip macro placement (Circuit Training's formulation, Mirhoseini et al., Nature 2021) on a
small design: one hard macro per step, largest first, the action a grid cell, infeasible cells masked
out of the policy (the agent reads the env's ``action_mask``), reward -proxy cost at the end
(``--reward proxy``) or MaskPlace's dense -ΔHPWL (``--reward hpwl``), or both (``--reward mix``). The policy (``--policy``): ``mlp`` (an MLP over the image
planes -- position mask, wire mask, canvas -- and the macro descriptor), ``cell`` (CellConvPolicy), ``cnn``
(MaskPlace-style CNN, MaskPlaceCnnPolicy) or ``gnn`` (Circuit Training's edge-GNN with a deconvolution
head over the graph observation, EdgeGnnPolicy); see rlframe/placement/policies/.

    python experiments/placement_ppo.py --steps 40000                  # macro_tiles_10x10, 100 macros
    python experiments/placement_ppo.py --design toy_macro_stdcell --steps 20000
    python experiments/placement_ppo.py --steps 40000 --reward hpwl --sampler cpu --workers 2
    python experiments/placement_ppo.py --policy gnn --reward mix --steps 20000
    python experiments/placement_ppo.py --policy cnn --next-macro-planes --steps 20000   # 5 image planes

Logged like every run (progress.csv, TensorBoard); the final deterministic evaluation's return is
minus the proxy cost (proxy reward) of the placement the policy makes. TensorBoard also holds the
placement tags of the training episodes (``placement/proxy_cost``, ``placement/wirelength_cost``,
``placement/density_cost``, ``placement/congestion_cost``, ``placement/hpwl``) and, at every log
interval, the deterministic policy's layout as the image ``placement/layout``. For the flagship demo
(a conv policy, the baselines table, the .plc) see ``experiments/placement_demo.py``.

**The recipe** (``--time SECONDS``; the default when ``--steps`` is not given): place a design with the
shipped pre-trained MaskPlace CNN (``--checkpoint pretrained``, default; ``none``: from scratch, ``PATH``: a
checkpoint of ``rlframe placement rl``), fine-tuned by PPO for a wall-clock budget
(rlframe/placement/rl.py, ``rl_place``: one process, serial sampler, 4 envs x 32 steps per iteration), and
write its best placement as a ``.plc`` (``--out``; best-of-N over the deterministic placement after every
iteration and every complete sampled training episode -- no baseline placer is called). The hard macros are
then scored under the evaluation protocol in every soft-macro regime (``centre``: FD from the canvas centre,
``refine``: FD from the design's initial soft-macro positions kept if better, ``none``), as the
``rlframe placement sa|random|greedy`` baselines are. ``--json PATH`` writes every regime's costs and where
the time went (sampling -- env steps and policy forwards --, the FD + proxy cost at each episode end, the PPO
updates, the deterministic evaluations)::

    python experiments/placement_ppo.py --design ariane133 --time 3600 --seed 0 --out a133.plc --json a133.json
    python experiments/placement_ppo.py --design ariane133 --time 0                  # zero-shot
    python experiments/placement_ppo.py --design ariane133 --time 600 --checkpoint none   # from scratch

``--regime refine`` makes the placement for the protocol's ``refine`` regime instead: the policy's reward and
the best-of-N are the proxy cost with the soft macros at the design's own ``.plc`` positions (the env's
``fd="none"``: no FD at the episode ends, so many more episodes per second; the cost ``rlframe placement sa``
searches on), and the best placement is then refined (FD from those positions, kept if it lowers the cost)
and written with the soft macros where that put them (``rlframe placement cost --plc OUT --fd none``
re-scores it). The default ``--regime centre`` trains on, selects by and writes the centre regime::

    python experiments/placement_ppo.py --design ariane133 --time 300 --checkpoint none --regime refine

Fine-tuning a checkpoint, the flags not given take the regime's measured settings (:data:`RECIPES`, since
session 9; docs/placement.md, "Results at a glance"): elite self-imitation (``--imitate 20 --imitate-top 8``)
with 90 % of the budget sampling (``--sample-share 0.9``) at the checkpoint's own temperature
(``--prior-temperature 1 --warm-temperature 1``); in the centre regime also ``--restore-best-policy`` (since
session 10: PPO's best weights put back after a late collapse), and with ``--regime refine`` instead the flags
below (``--wire-density 0.5 --density-reward 0.5 --wirelength-reward 1 --learning-rate 1e-4 --batch-B 8
--train-fd refine``; the lever is not measured there, ``--restore-best-policy`` turns it on). ``--plain``
(and ``--checkpoint none``) keeps the flags' own defaults, the schedule of sessions 4-6 (PPO for 70 % of the
budget, no self-imitation, temperatures 8 / 2).

For the refine regime the policy can be shown where the soft macros sit (docs/placement.md, session 6):
``--wire-density L`` (the wire mask plane adds the density already under the macro), ``--soft-canvas``, dense
``--density-reward C`` / ``--wirelength-reward C``; the setting measured best there::

    python experiments/placement_ppo.py --design ariane133 --time 600 --regime refine --wire-density 0.5 \
        --density-reward 0.5 --wirelength-reward 1 --learning-rate 1e-4 --batch-B 8 --train-fd refine --imitate 20

and since session 7 (docs/placement.md, "Session 7"), elite self-imitation with almost the whole budget spent
sampling, at the checkpoint's own temperature (the defaults 8 / 2 make the samples worse in this regime)::

    python experiments/placement_ppo.py --design ariane133 --time 600 --regime refine --wire-density 0.5 \
        --density-reward 0.5 --wirelength-reward 1 --learning-rate 1e-4 --batch-B 8 --train-fd refine --imitate 20 \
        --imitate-top 8 --sample-share 0.9 --prior-temperature 1 --warm-temperature 1
"""
import argparse
import contextlib
import json
import os
import sys
import time

from common import (make_run_affinity, make_runner, make_sampler, parse_args, report, resolve_config, run_fields,
                    run_main)

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg import PPO
from rlframe.errors import ConfigError
from rlframe.logging import logger_context
from rlframe.placement.cli import add_fine_tuning_arguments, fine_tuning_kwargs, fine_tuning_schedule
from rlframe.placement.env import MacroPlacementEnv
from rlframe.placement.policies import POLICIES
from rlframe.runners import MinibatchRlEval

ENV_ID = "rlframe.placement:rlframe/MacroPlacement-v0"
#: ``--regime``: the env's final-cost regime the policy trains and is selected on (rlframe/placement/env/env.py,
#: ``fd=``; None: the env's default, FD from the centre) for the protocol regime the placement is written in
REGIMES = {"centre": None, "refine": "none"}
#: the recipe's settings per ``--regime`` when fine-tuning a checkpoint (flags given on the command line win;
#: ``--plain``: the flags' own defaults, the schedule of sessions 4-6): elite self-imitation with 90 % of the
#: budget sampling at the checkpoint's own temperature (docs/placement.md, sessions 7-9), and in the refine regime
#: the policy shown where the soft macros sit, trained and selected on the refine cost (session 6)
RECIPES = {"centre": dict(imitate=20, imitate_top=8, sample_share=0.9, prior_temperature=1.0, warm_temperature=1.0,
                          restore_best_policy=True)}   # session 10: the late PPO collapse undone at one hour
RECIPES["refine"] = dict(RECIPES["centre"], wire_density=0.5, density_reward=0.5, wirelength_reward=1.0,
                         learning_rate=1e-4, batch_B=8, train_fd="refine",
                         restore_best_policy=False)    # refine's one-hour seeds ran without it; not measured there


def build_config(args):
    return dict(
        **run_fields(args),  # env, seed, steps, sampler, workers, torch_threads
        design=args.design,
        reward=args.reward,
        policy=args.policy,
        batch_T=200,  # two 100-macro episodes per env and batch
        batch_B=4,
        log_interval_steps=4_000,
        eval=dict(n_envs=1, max_trajectories=1, max_steps=1_000),
        env_kwargs=dict(observation="graph" if args.policy == "gnn" else "image", run_fd=True,
                        **(dict(next_macro_planes=True) if args.next_macro_planes else {})),
        model=dict(hidden_sizes=[256, 256]) if args.policy == "mlp" else {},
        algo=dict(discount=1.0, gae_lambda=0.95, learning_rate=3e-4, epochs=4, minibatches=4,
                  ratio_clip=0.2, entropy_loss_coeff=0.01),
    )


def recipe_args(argv):
    """The recipe's own flags (the runner flags of common.parse_args are not used by it); fine-tuning a
    checkpoint without ``--plain``, the flags not given take the regime's :data:`RECIPES` values."""
    p = recipe_parser()
    first = p.parse_args(argv)
    if first.checkpoint != "none" and not first.plain:
        p.set_defaults(**RECIPES[first.regime])
    return p.parse_args(argv)


def recipe_parser():
    p = argparse.ArgumentParser(
        description="The placement recipe: fine-tune (or train) a placement policy for a wall-clock budget and "
                    "write its best placement. With --steps N instead, a plain PPO run with the flags common to "
                    "every experiment (python experiments/placement_ppo.py --steps 1 --help lists them).",
        epilog="Also: --design NAME|PATH (default macro_tiles_10x10), --reward proxy|hpwl|mix (default proxy), "
               "--policy cnn|cell|gnn (default cnn; a checkpoint brings its own).")
    p.add_argument("--time", type=float, default=3600.0, help="wall-clock budget in seconds (0: zero-shot)")
    p.add_argument("--checkpoint", default="pretrained",
                   help="'pretrained' (the shipped CNN, default), 'none' (train from scratch) or a checkpoint path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="best placement .plc (default placement_ppo_<design>_s<seed>.plc)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the result (all regimes, timings) here")
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--entropy", type=float, default=0.003, help="PPO entropy bonus coefficient")
    p.add_argument("--epochs", type=int, default=4, help="PPO epochs per iteration")
    p.add_argument("--discount", type=float, default=0.99, help="PPO discount (the reward comes at the episode's end)")
    p.add_argument("--regime", choices=REGIMES, default="centre",
                   help="the soft-macro regime the placement is for: centre (reward and best-of-N by the proxy "
                        "cost with FD from the canvas centre, default) or refine (reward and best-of-N by the cost "
                        "with the soft macros at the design's .plc positions, then FD from there kept if better)")
    p.add_argument("--train-fd", choices=("none", "refine"), default=None,
                   help="--regime refine: the env's final-cost regime the policy trains and is selected on "
                        f"(default {REGIMES['refine']}; refine: FD from the .plc positions at every episode end)")
    p.add_argument("--soft-canvas", action="store_true",
                   help="the image's canvas plane also shows the soft macros at the design's .plc positions (env "
                        "soft_macro_canvas; same shape, the shipped checkpoint loads); for --regime refine")
    p.add_argument("--wire-density", type=float, default=0.0, metavar="L",
                   help="the image's wire mask plane adds L x the density already under the macro (soft macros at "
                        "the .plc positions included; env wire_mask_density; same shape; default 0: off)")
    p.add_argument("--density-reward", type=float, default=0.0, metavar="C",
                   help="dense density term in every step's reward: -C x the change of the proxy cost's density term "
                        "with the soft macros at the .plc positions (env density_reward; default 0: off)")
    p.add_argument("--wirelength-reward", type=float, default=0.0, metavar="C",
                   help="dense wirelength term in every step's reward: -C x the step's HPWL increase in the proxy "
                        "cost's wirelength units (env wirelength_reward; default 0: off)")
    add_fine_tuning_arguments(p)   # --samples, --sample-share, --imitate, --imitate-top, temperatures
    p.add_argument("--batch-B", type=int, default=4, help="envs per PPO iteration (default 4)")
    p.add_argument("--batch-T", type=int, default=32, help="steps per env per PPO iteration (default 32)")
    p.add_argument("--plain", action="store_true",
                   help="fine-tuning: the defaults printed here instead of the regime's recipe (placement_ppo.RECIPES: "
                        f"centre {RECIPES['centre']}, refine adds "
                        f"{ {k: v for k, v in RECIPES['refine'].items() if RECIPES['centre'].get(k) != v} })")
    return p


@contextlib.contextmanager
def timed_calls(targets):
    """Accumulate wall and CPU seconds of the calls to ``owner.method`` for each ``label: (owner, method)``
    while the block runs (the methods are wrapped, then restored): where the learner's time goes."""
    totals = {label: {"wall": 0.0, "cpu": 0.0, "calls": 0} for label in targets}
    saved = []
    for label, (owner, name) in targets.items():
        fn = getattr(owner, name)
        saved.append((owner, name, fn))

        def wrapper(*args, _fn=fn, _t=totals[label], **kwargs):
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return _fn(*args, **kwargs)
            finally:
                _t["wall"] += time.perf_counter() - w0
                _t["cpu"] += time.process_time() - c0
                _t["calls"] += 1
        setattr(owner, name, wrapper)
    try:
        yield totals
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def score_regimes(design, plc_path, write=None):
    """The hard macros of ``plc_path`` scored under every regime of the protocol, the soft macros starting
    from the design's own .plc (as the baselines score theirs): ``{regime: costs}``. ``write``: a regime
    whose placement (soft macros where it put them, its costs in the header) replaces ``plc_path``."""
    from rlframe.placement.designs import resolve_plc
    from rlframe.placement.formats.plc import make_placement, read_plc
    from rlframe.placement.state import Finisher, PlacementProblem, plc_header

    problem = PlacementProblem(design, plc=resolve_plc(design, None))
    placed = read_plc(plc_path)
    x, y = problem.x0.copy(), problem.y0.copy()
    where = {int(n): i for i, n in enumerate(placed.node_index)}
    hard = [int(n) for n in problem.order]
    x[hard] = [placed.x[where[n]] for n in hard]
    y[hard] = [placed.y[where[n]] for n in hard]
    fin = Finisher(problem)
    scored = {fd: fin.score(x, y, problem.orientation0, fd) for fd in ("centre", "refine", "none")}
    if write:
        ev = scored[write]
        make_placement(problem.netlist, ev.x, ev.y, ev.orientation,
                       header=plc_header(problem, ev.costs)).write(plc_path)
    return {fd: dict(ev.costs) for fd, ev in scored.items()}


def run_recipe(design, seconds, checkpoint="pretrained", seed=0, out=None, reward="proxy", learning_rate=3e-4,
               entropy=0.003, epochs=4, policy="cnn", discount=0.99, log=print, regime="centre", train_fd=None,
               soft_canvas=False, density_reward=0.0, batch_B=4, batch_T=32, wire_density=0.0,
               wirelength_reward=0.0, **tuning):
    """Fine-tune (or train from scratch, ``checkpoint=None``) for ``seconds`` and write the best placement
    for the soft-macro ``regime`` (``--regime``); returns the result dict of ``--json``. ``soft_canvas``,
    ``density_reward``, ``wire_density``, ``wirelength_reward``: the env's ``soft_macro_canvas`` /
    ``density_reward`` / ``wire_mask_density`` / ``wirelength_reward`` (rlframe/placement/env/env.py);
    ``tuning``: rl_place's best-of-N and fine-tuning schedule (``imitate``, ``sample_share``, the
    temperatures ...; rlframe/placement/cli.py FINE_TUNING_DEFAULTS), all recorded in the result."""
    import torch
    from rlframe.algos.pg import PPO
    from rlframe.placement.rl import PolicyTrainer, load_checkpoint, rl_place
    from rlframe.placement.state import Finisher
    from rlframe.samplers.serial import SerialSampler

    tuning = fine_tuning_schedule(tuning)
    out = out or f"placement_ppo_{os.path.basename(str(design)).split('.')[0]}_s{seed}.plc"
    torch.manual_seed(seed)
    start_steps = int(load_checkpoint(checkpoint).get("env_steps", 0)) if checkpoint else 0  # pre-training's
    progress = []

    def on_iteration(tr, elapsed):
        best = tr.best.cost if tr.best else None
        progress.append(dict(seconds=round(elapsed, 2), env_steps=tr.env_steps - start_steps, best=best,
                             deterministic=tr.last_deterministic,
                             sampled_mean=sum(tr.last_costs) / len(tr.last_costs) if tr.last_costs else None))
        if len(progress) % 10 == 0:
            log(f"{elapsed:7.1f} s  {tr.env_steps - start_steps:7,d} steps  best {best or float('nan'):.4f}")

    targets = {"sampling (env steps, forwards, episode ends)": (SerialSampler, "obtain_samples"),
               "ppo_update": (PPO, "optimize_agent"),
               "deterministic_evaluations": (PolicyTrainer, "evaluate"),
               "best_of_n_sampling (after PPO)": (PolicyTrainer, "sample"),
               "self_imitation": (PolicyTrainer, "imitate"),
               "fd_and_proxy_cost (inside the two above)": (Finisher, "evaluate"),
               "proxy_cost_in_the_env_fd_regime (inside the two above)": (Finisher, "score")}
    if train_fd is not None and regime != "refine":
        raise ConfigError("placement_ppo.py: --train-fd goes with --regime refine (the centre regime trains on "
                          "FD from the centre)")
    train_fd = train_fd or REGIMES[regime]
    env_kwargs = dict(fd=train_fd) if train_fd else {}
    if soft_canvas:
        env_kwargs["soft_macro_canvas"] = True
    if density_reward:
        env_kwargs["density_reward"] = density_reward
    if wire_density:
        env_kwargs["wire_mask_density"] = wire_density
    if wirelength_reward:
        env_kwargs["wirelength_reward"] = wirelength_reward
    c0, w0 = time.process_time(), time.perf_counter()
    with timed_calls(targets) as timing:
        res = rl_place(design, out, checkpoint=checkpoint, policy=policy, seconds=seconds, seed=seed,
                       fd="none" if train_fd == "refine" else regime,   # the env refined it already
                       reward=reward, on_iteration=on_iteration, env_kwargs=env_kwargs or None,
                       batch_B=batch_B, batch_T=batch_T, **tuning,
                       algo_kwargs=dict(learning_rate=learning_rate, entropy_loss_coeff=entropy, epochs=epochs,
                                        discount=discount))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    regimes = score_regimes(design, out, write=regime)
    return dict(design=str(design), placer="rl", checkpoint=checkpoint, seed=seed, budget_seconds=seconds,
                regime=regime, trained_on_fd=train_fd or "centre",
                seconds=res.seconds, cpu_seconds=cpu, wall_seconds_with_scoring=time.perf_counter() - w0,
                rl_place_wall=wall, env_steps=res.env_steps - start_steps,
                deterministic_evaluations=res.evaluations, sampled_episodes=res.sampled, winner=res.source, out=out,
                reward=reward, ppo=dict(learning_rate=learning_rate, entropy_loss_coeff=entropy, epochs=epochs,
                                        discount=discount, batch_T=batch_T, batch_B=batch_B),
                soft_canvas=soft_canvas, density_reward=density_reward, wire_density=wire_density,
                wirelength_reward=wirelength_reward, **tuning, restored_cost=res.restored_cost,
                proxy_cost=regimes[regime]["proxy_cost"], regimes=regimes, timing=timing, progress=progress,
                best_history=res.history)   # every improvement: seconds, env steps (PPO + sampling), cost, kind


def recipe_main(design, reward, policy, argv):
    a = recipe_args(argv)
    checkpoint = None if a.checkpoint == "none" else a.checkpoint
    result = run_recipe(design, a.time, checkpoint, a.seed, a.out, reward, a.learning_rate, a.entropy, a.epochs,
                        policy, a.discount, regime=a.regime, train_fd=a.train_fd, soft_canvas=a.soft_canvas,
                        density_reward=a.density_reward, batch_B=a.batch_B, batch_T=a.batch_T,
                        wire_density=a.wire_density, wirelength_reward=a.wirelength_reward,
                        **fine_tuning_kwargs(a))
    for fd in ("centre", "refine"):
        c = result["regimes"][fd]
        print(f"{fd:7s} proxy {c['proxy_cost']:.4f}  wirelength {c['wirelength_cost']:.4f}  "
              f"density {c['density_cost']:.4f}  congestion {c['congestion_cost']:.4f}")
    print(f"{result['env_steps']:,d} env steps in {result['seconds']:.0f} s; best of "
          f"{result['deterministic_evaluations']} deterministic + {result['sampled_episodes']} sampled placements "
          f"({result['winner']}) -> {result['out']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def main(argv=None):
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--design", default="macro_tiles_10x10",
                       help="shipped design name or netlist path (default macro_tiles_10x10)")
    extra.add_argument("--reward", choices=("proxy", "hpwl", "mix"), default=None,
                       help="default: proxy (the recipe), proxy (--steps runs)")
    extra.add_argument("--policy", choices=("mlp",) + tuple(POLICIES), default=None,
                       help="default: cnn (the recipe), mlp (--steps runs)")
    extra.add_argument("--next-macro-planes", action="store_true",
                       help="--steps runs: add MaskPlace's next-macro position/wire planes to the image")
    known, rest = extra.parse_known_args(argv)
    argv_list = list(sys.argv[1:] if argv is None else argv)
    if "--steps" not in argv_list and "--resume" not in argv_list:
        if known.policy == "mlp":
            raise ConfigError("placement_ppo.py: the recipe (no --steps) trains a conv or graph policy; "
                              "give --policy cnn|cell|gnn, or --steps N for an mlp run")
        return recipe_main(known.design, known.reward or "proxy", known.policy or "cnn", rest)
    args = parse_args(__doc__, env=ENV_ID, steps=40_000, argv=rest)
    args.design, args.reward, args.policy = known.design, known.reward or "proxy", known.policy or "mlp"
    args.next_macro_planes = known.next_macro_planes
    config = resolve_config(args, build_config)

    if config["policy"] == "gnn":  # the graph observation does not carry the grid's shape
        grid = MacroPlacementEnv(design=config["design"]).problem.grid
        config["model"].setdefault("grid", (grid.rows, grid.cols))
    env_kwargs = dict(id=config["env"], design=config["design"], reward=config["reward"],
                      **config["env_kwargs"])
    sampler = make_sampler(config, env_kwargs=env_kwargs)  # --sampler serial|cpu|gpu|alternating
    model_cls = {} if config["policy"] == "mlp" else dict(ModelCls=POLICIES[config["policy"]])
    agent = CategoricalPgAgent(**model_cls, model_kwargs=config["model"])  # masks obs.action_mask
    algo = PPO(**config["algo"])
    runner = make_runner(MinibatchRlEval, algo, agent, sampler, n_steps=config["steps"], seed=config["seed"],
                         affinity=make_run_affinity(config), log_interval_steps=config["log_interval_steps"],
    )
    with logger_context(args.log_dir, name="placement_ppo", params=config, resume=args.resume) as logger:
        result = runner.train()
    return report(result, logger)


if __name__ == "__main__":
    sys.exit(run_main(main))
