"""Plumbing shared by the launch scripts in ``experiments/``: the command line, the sampler choice,
resuming a run's saved config, and the final report. The scripts themselves stay readable top to bottom.

Every script takes::

    --env ID            gymnasium id, or "module:EnvId" to import the module that registers it
    --seed N            run seed (default 0)
    --steps N           env steps to train for (on --resume: the new total)
    --log-dir DIR       runs go to DIR/<script name>/run_<k> (default: runs)
    --resume RUN_DIR    continue a stopped run from its newest checkpoint, with its saved config
    --sampler KIND      serial | cpu | gpu | alternating  (one-line swap, same constructor)
    --workers N         worker processes for the parallel samplers
    --torch-threads N   torch threads of the training process (default 1: fastest for small MLPs)
    --save-replay       replay-based algorithms: keep the replay's contents with the checkpoints, so --resume
                        continues with them (pass config["save_replay"] to the runner)
    --worker-timeout S  seconds one env reset/step may take before the run stops naming the env (default 60)
    --debug             validate every env step (shapes, bounds, NaN/inf), naming the env and step of a bad value

Ctrl-C and SIGTERM stop a run cleanly and print the command that resumes it (docs/troubleshooting.md).
    --runner async      replay-based algorithms: AsyncRl, a sampler process appending to a shared-memory replay while
                        the optimizer trains (runners/async_rl.py); with --sampler serial (default; --workers N > 1:
                        cpu), cpu or gpu (env workers on CPU, the agent acting on the model's device in the sampler
                        process); default sync (MinibatchRl)
    --dist-timeout S    under torchrun: seconds before the ranks give up on a dead or hung rank (default 30)

Under ``torchrun`` (docs/scaling.md) every script switches to ``SyncRl`` by itself (:func:`make_runner`), and
:func:`make_sampler` gives each rank its share of the config's envs.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from rlframe.errors import ConfigError, RlframeError
from rlframe.launching.signals import exit_status, terminate_as_interrupt
from rlframe.logging import RunLogger
from rlframe.logging.logger import last_run_dir

DEFAULT_WORKER_TIMEOUT = 60.0

SAMPLERS = ("serial", "cpu", "gpu", "alternating")
ENV_BACKENDS = ("gym", "vector", "envpool")
RUNNERS = ("sync", "async")
_DIST_TIMEOUT: List[Optional[float]] = [None]  # --dist-timeout of the last parse_args (read by make_runner)
_RUNNER: List[str] = ["sync"]  # the run's runner kind (--runner, or the resumed config's), read by make_runner
_PARALLEL_CLASSES = {"cpu": "CpuSampler", "gpu": "GpuSampler", "alternating": "AlternatingSampler"}


def parse_args(description: str, env: str, steps: int, argv: Optional[List[str]] = None,
               add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> argparse.Namespace:
    """The common flags (module docstring), plus a script's own ones added by ``add_arguments(parser)``."""
    # "module:EnvId" ids import ``module``: look for it in the current directory too, as ``python -m`` would
    # (``python experiments/x.py`` puts only experiments/ on sys.path).
    if os.getcwd() not in sys.path:
        sys.path.insert(1, os.getcwd())
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help=f"gymnasium id or module:EnvId (default {env})")
    p.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    p.add_argument("--steps", type=int, default=None, help=f"env steps to train for (default {steps:,d})")
    p.add_argument("--log-dir", default="runs", help="root of the run directories (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR from its newest checkpoint (its params.json is the config)")
    p.add_argument("--sampler", choices=SAMPLERS, default=None, help="sampler (default serial)")
    p.add_argument("--workers", type=int, default=None, help="worker processes of a parallel sampler")
    p.add_argument("--env-backend", choices=ENV_BACKENDS, default=None,
                   help="gym: one GymEnv per env (default); vector: one gymnasium SyncVectorEnv stepping the batch; "
                   "envpool: one EnvPool env stepping the batch (pip install envpool); batched backends need "
                   "--sampler serial (docs/samplers.md)")
    p.add_argument("--torch-threads", type=int, default=None, help="torch threads of the trainer (default 1)")
    p.add_argument("--save-replay", action="store_true", default=None,
                   help="replay-based algorithms: save the replay with each checkpoint (resumes continue with it)")
    p.add_argument("--worker-timeout", type=float, default=None, metavar="SECONDS",
                   help=f"seconds one env reset/step may take before the run stops with an error naming the env "
                   f"(default {DEFAULT_WORKER_TIMEOUT:g})")
    p.add_argument("--debug", action="store_true", default=None,
                   help="validate every env step (shapes, bounds, NaN/inf) and name the env and step of a bad value")
    p.add_argument("--runner", choices=RUNNERS, default=None,
                   help="sync (default) or async: sampling in its own processes while the optimizer trains "
                        "(replay-based algorithms)")
    p.add_argument("--dist-timeout", type=float, default=None, metavar="S",
                   help="under torchrun: seconds before the ranks give up on a dead or hung rank (default 30)")
    if add_arguments is not None:
        add_arguments(p)
    args = p.parse_args(argv)
    args.default_env, args.default_steps = env, steps
    _DIST_TIMEOUT[0] = args.dist_timeout
    _RUNNER[0] = args.runner or "sync"
    return args


def resolve_config(args: argparse.Namespace, build_config: Callable[[argparse.Namespace], Dict[str, Any]]
                   ) -> Dict[str, Any]:
    """The run's config: built from the command line, or, with ``--resume``, the run's saved config with
    only ``--steps``, ``--sampler``, ``--workers``, ``--torch-threads``, ``--save-replay``, ``--worker-timeout``,
    ``--debug`` and ``--target`` overridable. Scripts with ``--target`` (:func:`add_target_flag`) keep it in the
    config (``target``, None when not given), so a resumed run is judged against the same target."""
    check_counts(args)
    if args.resume is None:
        args.env = args.env or args.default_env
        args.seed = 0 if args.seed is None else args.seed
        args.steps = args.default_steps if args.steps is None else args.steps
        args.sampler = args.sampler or "serial"
        args.torch_threads = 1 if args.torch_threads is None else args.torch_threads
        args.save_replay = bool(args.save_replay)
        args.runner = args.runner or "sync"
        config = build_config(args)
        if hasattr(args, "target"):  # scripts with --target (add_target_flag): kept in params.json
            config.setdefault("target", args.target)
        config.setdefault("worker_timeout", args.worker_timeout or DEFAULT_WORKER_TIMEOUT)
        config.setdefault("debug", bool(args.debug))
        config.setdefault("runner", args.runner)
        _RUNNER[0] = config["runner"]
        return config
    saved = RunLogger.saved_params(args.resume)
    if not saved:
        raise ConfigError(f"--resume {args.resume}: no params.json there; is it a run directory?")
    config = {k: v for k, v in saved.items() if k != "resumed_from"}
    config.setdefault("save_replay", False)  # runs saved before the flag existed
    for flag, value in (("env", args.env), ("seed", args.seed)):
        if value is not None and value != config.get(flag):
            raise ConfigError(f"--resume keeps the run's {flag} ({config.get(flag)!r}); drop --{flag} {value}.")
    for key, value in (("steps", args.steps), ("sampler", args.sampler), ("workers", args.workers),
                       ("torch_threads", args.torch_threads), ("save_replay", args.save_replay),
                       ("worker_timeout", args.worker_timeout), ("debug", args.debug), ("runner", args.runner)):
        if value is not None:
            config[key] = value
    config.setdefault("runner", "sync")
    if hasattr(args, "target"):  # --target overrides the saved one; without it the run keeps its own
        if args.target is None:
            args.target = config.get("target")
        else:
            config["target"] = args.target
    _RUNNER[0] = config["runner"]
    return config


def check_counts(args: argparse.Namespace) -> None:
    """Zero or negative counts are errors (not "unset"): ConfigError naming the flag and what to give."""
    for flag, value, what in (("--steps", args.steps, "env steps to train for, e.g. --steps 100000"),
                              ("--workers", args.workers, "worker processes, e.g. --workers 2"),
                              ("--torch-threads", args.torch_threads, "torch threads, e.g. --torch-threads 1"),
                              ("--worker-timeout", args.worker_timeout, "seconds, e.g. --worker-timeout 60"),
                              ("--dist-timeout", args.dist_timeout, "seconds, e.g. --dist-timeout 30")):
        if value is not None and not value > 0:
            raise ConfigError(f"{flag} {value:g}: must be a positive number of {what} (leave the flag out for "
                              "the default).")


def run_fields(args: argparse.Namespace) -> Dict[str, Any]:
    """The config entries every script takes from the common flags (env, seed, steps, sampler, workers,
    torch threads, save_replay); a script's ``build_config`` adds its own settings to these."""
    return dict(env=args.env, seed=args.seed, steps=args.steps, sampler=args.sampler, workers=args.workers,
                torch_threads=args.torch_threads, save_replay=args.save_replay, env_backend=args.env_backend or "gym")


def make_sampler(config: Dict[str, Any], env_kwargs: Dict[str, Any], EnvCls: Optional[type] = None,
                 eval_env_kwargs: Optional[Dict[str, Any]] = None) -> Any:
    """The sampler ``config["sampler"]`` names (serial | cpu | gpu | alternating, ``config["workers"]``
    workers) over ``EnvCls(**env_kwargs)`` (default ``GymEnv``; eval envs get ``eval_env_kwargs`` when given),
    with the config's ``batch_T``, ``batch_B`` and ``eval`` settings."""
    from rlframe.envs.gym import GymEnv
    from rlframe.envs.vector import EnvPoolEnv, GymVectorEnv

    SamplerCls, sampler_kwargs = choose_sampler(config["sampler"], config["workers"])
    backend = config.get("env_backend", "gym")  # runs saved before the flag: gym
    if EnvCls is None and backend != "gym":
        if config["sampler"] != "serial":
            raise ConfigError(f"--env-backend {backend} steps the whole batch in one env: use it with --sampler "
                              "serial (EnvPool runs its own threads), or drop --env-backend for parallel samplers.")
        EnvCls = GymVectorEnv if backend == "vector" else EnvPoolEnv
    if config.get("runner", "sync") == "async":  # a sampler process appends to the replay beside the optimizer
        SamplerCls, sampler_kwargs = choose_async_sampler(config["sampler"], config["workers"])
    share = rank_share(config)
    return SamplerCls(
        EnvCls=EnvCls or GymEnv,
        env_kwargs=env_kwargs,
        batch_T=config["batch_T"],
        batch_B=share["batch_B"],
        max_decorrelation_steps=0,
        eval_n_envs=share["n_envs"],
        eval_max_trajectories=share["max_trajectories"],
        eval_max_steps=share["max_steps"],
        eval_env_kwargs=eval_env_kwargs,
        worker_timeout=float(config.get("worker_timeout") or DEFAULT_WORKER_TIMEOUT),
        debug=bool(config.get("debug", False)),
        **sampler_kwargs,
    )


def rank_share(config: Dict[str, Any]) -> Dict[str, Any]:
    """This process's share of the config's train envs (``batch_B``) and eval budget: all of it, or under
    torchrun with N ranks, 1/N of each, so that N ranks together train on the single-process batch (when
    ``batch_B`` does not split, e.g. 1, each rank steps all ``batch_B`` envs)."""
    from rlframe.core.distributed import torchrun_env

    ev = config["eval"]
    share = dict(batch_B=config["batch_B"], n_envs=ev["n_envs"], max_trajectories=ev["max_trajectories"],
                 max_steps=ev["max_steps"])
    env = torchrun_env()
    n = 1 if env is None else env.world_size
    if n == 1:
        return share
    if config["batch_B"] % n:
        print(f"note: batch_B {config['batch_B']} does not split over {n} torchrun ranks: each rank steps "
              f"{config['batch_B']} envs (an iteration is {n}x the single-process batch).", file=sys.stderr)
    else:
        share["batch_B"] = config["batch_B"] // n
    for key in ("n_envs", "max_trajectories", "max_steps"):
        if share[key]:
            share[key] = max(1, -(-int(share[key]) // n))
    return share


def make_runner(RunnerCls: type, *args: Any, **kwargs: Any) -> Any:
    """``RunnerCls(*args, **kwargs)``; with ``--runner async`` its AsyncRl counterpart (runners/async_rl.py); under
    torchrun its SyncRl counterpart (runners/sync_rl.py) with the process-group timeout of ``--dist-timeout``:
    the one line that lets every script run asynchronously or data-parallel."""
    from rlframe.core.distributed import torchrun_env

    if _RUNNER[0] == "async":
        if torchrun_env() is not None:
            raise ConfigError("--runner async runs in one process tree; drop torchrun or --runner async.")
        from rlframe.runners.async_rl import AsyncRl, AsyncRlEval

        return (AsyncRlEval if RunnerCls._eval else AsyncRl)(*args, **kwargs)
    if torchrun_env() is None:
        return RunnerCls(*args, **kwargs)
    from rlframe.runners.sync_rl import runner_class_for

    if _DIST_TIMEOUT[0] is not None:
        kwargs["dist_timeout_s"] = _DIST_TIMEOUT[0]
    return runner_class_for(RunnerCls)(*args, **kwargs)


def choose_sampler(kind: str, workers: Optional[int]) -> Tuple[type, Dict[str, Any]]:
    """The sampler class for ``kind`` and its extra constructor arguments."""
    if kind == "serial":
        from rlframe.samplers.serial import SerialSampler

        if workers not in (None, 1):
            print(f"note: --workers {workers} is ignored by the serial sampler.", file=sys.stderr)
        return SerialSampler, {}
    name = _PARALLEL_CLASSES.get(kind)
    if name is None:
        raise ConfigError(f"unknown sampler {kind!r}; choose one of {', '.join(SAMPLERS)}.")
    try:
        import rlframe.samplers.parallel as parallel

        cls = getattr(parallel, name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"--sampler {kind}: rlframe.samplers.parallel.{name} is not available "
                          f"({type(e).__name__}: {e}); use --sampler serial.") from None
    return cls, ({"n_workers": int(workers)} if workers else {})


def choose_async_sampler(kind: str, workers: Optional[int]) -> Tuple[type, Dict[str, Any]]:
    """The asynchronous sampler (``samplers/async_/``) for ``--runner async --sampler kind``: serial (or cpu when
    ``--workers`` > 1), cpu or gpu."""
    from rlframe.samplers import async_

    if kind == "serial" and (workers or 1) > 1:
        kind = "cpu"  # --runner async --workers N: N env worker processes, as before --sampler applied to it
    classes = {"serial": async_.AsyncSerialSampler, "cpu": async_.AsyncCpuSampler, "gpu": async_.AsyncGpuSampler}
    if kind not in classes:
        raise ConfigError(f"--runner async has no {kind} sampler; use --sampler serial, cpu or gpu with it.")
    return classes[kind], ({"n_workers": int(workers)} if workers and kind != "serial" else {})


def make_run_affinity(config: Dict[str, Any]) -> Dict[str, Any]:
    """CPU plan of the run (``launching.affinity.make_affinity``), or just torch threads without it."""
    try:
        from rlframe.launching.affinity import make_affinity
    except ImportError:
        return {"master_torch_threads": config.get("torch_threads", 1)}
    return make_affinity(n_workers=config.get("workers"), master_torch_threads=config.get("torch_threads", 1))


def env_limits(env_id: str) -> Tuple[Optional[float], Optional[int]]:
    """``(reward_threshold, episode step limit)`` of the env as ``gymnasium.make`` builds it (``module:EnvId`` ids
    import ``module`` first): the threshold from its registration, the limit from its registration or a
    ``TimeLimit`` wrapper inside it; None where it has none."""
    from rlframe.envs import GymEnv

    env = GymEnv(env_id)
    try:
        spec = env.env.spec
        threshold = None if spec is None else spec.reward_threshold
        limit = None if spec is None else spec.max_episode_steps
        if limit is None:
            try:
                limit = env.env.get_wrapper_attr("_max_episode_steps")
            except AttributeError:
                limit = None
    finally:
        env.close()
    return (None if threshold is None else float(threshold)), (None if limit is None else int(limit))


def env_action_space(env_id: str) -> Any:
    """The action space of the env ``env_id`` as the samplers build it (``module:EnvId`` ids import ``module``)."""
    from rlframe.envs import GymEnv

    env = GymEnv(env_id)
    try:
        return env.spaces.action
    finally:
        env.close()


def env_reward_threshold(env_id: str) -> Optional[float]:
    """The ``reward_threshold`` of the env's gymnasium registration, None when it has none."""
    return env_limits(env_id)[0]


def eval_step_bound(env_id: str, n_envs: int, default_episode_steps: int = 1000) -> int:
    """``eval_max_steps`` for ``n_envs`` eval envs that lets each finish one whole episode: ``n_envs`` x the env's
    episode step limit (``default_episode_steps`` when it has none)."""
    return int(n_envs) * (env_limits(env_id)[1] or int(default_episode_steps))


def add_target_flag(p: argparse.ArgumentParser) -> None:
    """``--target RETURN`` (for :func:`parse_args`'s ``add_arguments``): the eval return that counts as solved."""
    p.add_argument("--target", type=float, default=None, metavar="RETURN",
                   help="deterministic eval return that counts as solved (default: the env's spec.reward_threshold)")


def solved_target(args: argparse.Namespace, env_id: str) -> Tuple[Optional[float], str]:
    """``(target, where it comes from)`` for :func:`report`: ``--target`` if given, else the env's
    ``reward_threshold`` (:func:`env_reward_threshold`), else ``(None, why)``."""
    if getattr(args, "target", None) is not None:
        return float(args.target), "--target"
    threshold = env_reward_threshold(env_id)
    if threshold is None:
        return None, f"{env_id} has no reward_threshold; pass --target RETURN"
    return threshold, f"{env_id}'s reward_threshold"


def report(result: Dict[str, float], logger: RunLogger, target: Optional[float] = None,
           target_source: Optional[str] = None) -> int:
    """Print the final numbers; exit status 0 (also when ``target`` is missed: that is a result, not an error).
    ``target_source`` says where the target comes from (printed with it; alone when there is no target).
    Under torchrun only rank 0 prints (the others' ``result`` is not logged)."""
    from rlframe.core.distributed import torchrun_env

    env = torchrun_env()
    if env is not None and env.rank != 0:
        return 0
    ev = result.get("eval/return_mean")
    steps = int(result.get("time/env_steps", 0))
    line = f"Final: {steps:,d} env steps"
    if ev is not None:
        line += f", deterministic eval return {ev:.1f} over {int(result.get('eval/episodes', 0))} episodes"
    source = "" if target_source is None else f" = {target_source}"
    if target is not None and ev is not None:
        line += f" (target {target:g}{source}: {'reached' if ev >= target else 'NOT reached'})"
    elif target is None and target_source is not None:
        line += f" (no target: {target_source})"
    print(line)
    print(f"TensorBoard:   {logger.tensorboard_command()}", flush=True)
    return 0


def run_main(main: Callable[[], int]) -> int:
    """Run a script's ``main``; rlframe errors (shape mismatches, bad configs, checkpoints) print one clear
    message and give exit status 2 instead of a traceback."""
    try:
        with terminate_as_interrupt():  # SIGTERM stops the run like Ctrl-C
            return main()
    except RlframeError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt as e:
        print(interrupted_message(e), file=sys.stderr, flush=True)
        return exit_status(e)


def interrupted_message(e: KeyboardInterrupt) -> str:
    """What Ctrl-C / SIGTERM left: the command resuming the run (with its directory), or that there is none."""
    from rlframe.launching.signals import Terminated
    from rlframe.logging import list_checkpoints

    what = "SIGTERM" if isinstance(e, Terminated) else "Ctrl-C"
    run_dir = last_run_dir()
    if run_dir is None:
        return f"Interrupted ({what}) before the run directory was opened; nothing was written."
    if not list_checkpoints(os.path.join(run_dir, "checkpoints")):
        return (f"Interrupted ({what}) before the first checkpoint: nothing to resume ({run_dir} was removed); "
                "start the run again.")
    script = os.path.relpath(sys.argv[0]) if sys.argv and sys.argv[0].endswith(".py") else "<script>.py"
    return (f"Interrupted ({what}); workers stopped, checkpoints intact. Continue from the newest checkpoint with:\n"
            f"  python {script} --resume {run_dir}")
