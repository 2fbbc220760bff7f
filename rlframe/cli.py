"""The ``rlframe`` console command.

Sub-commands::

    rlframe version                 rlframe, Python, torch, numpy, gymnasium versions
    rlframe info [--env ID]         the machine (CPUs, CUDA, start methods, /dev/shm) and, with --env,
                                    an env's observation/action specs as rlframe sees them
    rlframe checkpoint PATH         counters and env specs stored in a checkpoint (file or run directory)
    rlframe placement ...           chip macro placement tools (cost, info)
    rlframe launch SCRIPT --variant KEY=V1,V2 [--n-parallel N] [--log-dir DIR] [-- SCRIPT-ARGS]
                                    a grid of experiments, N at once, each pinned to its own CPUs
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from typing import List, Optional

import rlframe
from rlframe.errors import RlframeError

from rlframe.placement.cli import add_placement_parser
from rlframe.placement.cli import run as run_placement


def _versions() -> dict:
    import gymnasium
    import numpy
    import torch

    return {"rlframe": rlframe.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "gymnasium": gymnasium.__version__}


def cmd_version(args: argparse.Namespace) -> int:
    v = _versions()
    print(f"rlframe {v.pop('rlframe')} (" + ", ".join(f"{k} {x}" for k, x in v.items()) + ")")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import multiprocessing as mp

    import psutil
    import torch

    info = dict(_versions())
    info["cpus_logical"] = os.cpu_count()
    info["cpus_physical"] = psutil.cpu_count(logical=False)
    info["torch_threads"] = torch.get_num_threads()
    info["cuda"] = torch.cuda.is_available()
    if info["cuda"]:
        info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["start_methods"] = mp.get_all_start_methods()
    if os.path.isdir("/dev/shm"):
        info["dev_shm_free_mb"] = round(shutil.disk_usage("/dev/shm").free / 2**20)
    if args.env:
        from rlframe.core.specs import describe, spec_from_space
        from rlframe.envs.gym import GymEnv

        env = GymEnv(args.env)
        try:
            info["env"] = {"id": args.env,
                           "observation": describe(spec_from_space(env.spaces.observation)),
                           "action": describe(spec_from_space(env.spaces.action, "Action"))}
        finally:
            env.close()
    _print(info, args.json)
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from rlframe.logging.checkpoint import load_checkpoint

    state = load_checkpoint(args.path)
    out = {k: state.get(k) for k in ("path", "runner", "itr", "env_steps", "updates", "elapsed_s", "seed",
                                     "n_steps", "batch_spec", "specs", "params")}
    _print(out, args.json)
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    import signal

    from rlframe.launching.launcher import launch

    def stop(signum, frame):  # SIGTERM stops the grid like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    runs = launch(args.script, args.variant or [], n_parallel=args.n_parallel, log_dir=args.log_dir,
                  script_args=args.script_args)
    return 0 if all(r.status == "ok" for r in runs) else 1


def _print(d: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return
    for k, v in d.items():
        print(f"{k:>16}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlframe", description="rlframe: parallel reinforcement learning for PyTorch (rlpyt-style), "
        "with chip macro placement.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Training runs are plain Python launch scripts: see experiments/ and docs/quickstart.md.")
    parser.add_argument("--version", action="version", version=f"rlframe {rlframe.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("version", help="print rlframe's and its dependencies' versions")
    p.set_defaults(func=cmd_version)
    p = sub.add_parser("info", help="machine facts (CPUs, CUDA, shared memory) and an env's specs")
    p.add_argument("--env", help="a gymnasium id (or module:EnvId) whose observation/action specs to show")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("checkpoint", help="counters and specs stored in a checkpoint")
    p.add_argument("path", help="a checkpoint file or a run directory (its newest checkpoint)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_checkpoint)
    p = sub.add_parser("launch", help="run a grid of experiment variants, N at once, each on its own CPUs",
                       description="Run SCRIPT once per combination of the --variant values (each KEY becomes "
                       "the script flag --KEY), at most --n-parallel at once, each pinned to its own CPUs; "
                       "arguments after -- go to every run. Writes DIR/<variant>/ and DIR/summary.csv.")
    p.add_argument("script", help="a launch script, e.g. experiments/cartpole_ppo.py")
    p.add_argument("--variant", action="append", metavar="KEY=V1,V2",
                   help="a script flag and its values; several --variant give their product")
    p.add_argument("--n-parallel", type=int, default=1, help="variants running at once (default 1)")
    p.add_argument("--log-dir", default="runs/launch", help="root of the variants' run directories")
    p.set_defaults(script_args=[])  # what follows "--" on the command line: see main()
    p.set_defaults(func=cmd_launch)
    add_placement_parser(sub).set_defaults(func=run_placement)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: List[str] = []
    if argv[:1] == ["launch"] and "--" in argv:  # rlframe launch SCRIPT ... -- SCRIPT-ARGS
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    if script_args:
        args.script_args = script_args
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except RlframeError as e:
        print(f"rlframe {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
