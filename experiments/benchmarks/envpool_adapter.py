"""Where a 32-env EnvPool CartPole step goes: EnvPool's own loop against ``EnvPoolEnv`` and the sampler, per step.

Figures, measured in one process in interleaved rounds of 64 steps (one ``batch_T=64`` batch) so that load swings
hit all of them, each the median over the rounds of wall µs, main-thread CPU µs (``time.thread_time``: the Python
thread that runs the loop) and process CPU µs (``time.process_time``: EnvPool's worker threads included) per step
of ``B`` envs:

- ``envpool own loop``: the peer of ``sampler_throughput.py``'s EnvPool rows, EnvPool's public ``step`` with
  actions drawn per step by numpy (``rng.integers(0, 2, B)``), sync mode, EnvPool's default threads;
- ``envpool C++ send/recv loop``: the same through EnvPool's C++ ``_send``/``_recv`` (no Python layer);
- ``EnvPoolEnv.step, spares=0, public step``: the adapter without spare envs (a second ``reset`` call per step
  with an ended env) through EnvPool's public ``step``; ``EnvPoolEnv.step``: as configured by default;
- ``sampler``: ``SerialSampler + EnvPoolEnv`` with ``RandomAgent``, one ``obtain_samples`` per round; its wall
  time per round over the own loop's in the same round gives ``ratio_to_own`` (median of the per-round ratios,
  the figure of the issue-11 target, as ``sampler_throughput.py``'s paired rows).

Each child measures these loops twice: with EnvPool (section ``envpool``) and with EnvPool's C++ calls replaced
by :class:`StubPool` (section ``python_side``: each loop's own Python CPU, which load moves much less than the
wall clock; there also the agent call alone, and the sampler's CPU between ``send`` and ``recv``, which runs
while EnvPool steps, and between ``recv`` and the next ``send``).

``--baseline-rev REV`` runs the same measurement on ``rlframe/`` as it was at git revision ``REV`` (extracted with
``git archive``, first on ``PYTHONPATH`` of a child process; collector_overhead.py's ``_extract``), current and
baseline children alternating ``--repeats`` times: the A/B of a code change on one loaded machine.

    python experiments/benchmarks/envpool_adapter.py --baseline-rev 1e8db12 --repeats 3 \\
        --json experiments/benchmarks/results/envpool_adapter_s5.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIELDS = ("wall_us", "thread_cpu_us", "process_cpu_us")


class StubPool:
    """EnvPool's C++ ``_send``/``_recv`` replaced by Python: ``_recv`` returns new arrays of the layout EnvPool
    returns for the envs sent (zero observations, reward 1, each env done with probability 1/22, about random
    CartPole's rate). What remains of a loop's CPU is its own Python work (the ``python_side`` figures). With
    ``timed``, the calling thread's CPU clock is noted at each send and at the start and end of each recv."""

    def __init__(self, state_keys: List[str], timed: bool = False):
        self.keys, self.ids = list(state_keys), None
        self.done = np.random.default_rng(0).random((4096, 256)) < 1 / 22
        self.k = 0
        self.marks: Optional[List[Any]] = [] if timed else None

    def send(self, action: List[np.ndarray]) -> None:
        if self.marks is not None:
            self.marks.append(("send", time.thread_time()))
        self.ids = action[0]

    def reset(self, env_ids: np.ndarray) -> None:
        self.ids = np.asarray(env_ids, dtype=np.int32)

    def recv(self) -> List[np.ndarray]:
        if self.marks is not None:
            self.marks.append(("recv", time.thread_time()))
        ids = self.ids
        n, self.k = len(ids), (self.k + 1) % len(self.done)
        state = {"info:env_id": ids.copy(), "info:players.env_id": ids.copy(), "elapsed_step": np.zeros(n, np.int32),
                 "done": self.done[self.k, :n].copy(), "reward": np.ones(n, np.float32),
                 "discount": np.ones(n, np.float32), "step_type": np.zeros(n, np.int32), "trunc": np.zeros(n, bool),
                 "obs": np.zeros((n, 4), np.float32)}
        if self.marks is not None:
            self.marks.append(("received", time.thread_time()))
        return [state[k] for k in self.keys]

    def split(self) -> Dict[str, float]:
        """Median CPU µs of the caller's work between a send and its recv (done while EnvPool would step) and
        between a recv's return and the next send (EnvPool idle), from the marks."""
        marks, between, after = self.marks or [], [], []
        for (kind, t), (nxt, t2) in zip(marks, marks[1:]):
            if (kind, nxt) == ("send", "recv"):
                between.append(t2 - t)
            elif (kind, nxt) == ("received", "send"):
                after.append(t2 - t)
        return {"between_send_and_recv_us": 1e6 * statistics.median(between or [0.0]),
                "between_recv_and_next_send_us": 1e6 * statistics.median(after or [0.0])}

    def patch(self, pool: Any) -> Any:
        """Make ``pool`` (an EnvPool env) use this stub; returns it."""
        pool._send, pool._recv, pool._reset = self.send, self.recv, self.reset
        return pool


def _loops(B: int, stub: bool = False) -> Tuple[Dict[str, Callable[[], None]], Optional[StubPool]]:
    """The step loops of one round (64 steps each), built once; with ``stub`` every EnvPool call goes to a
    :class:`StubPool` instead (the loops' Python work only), the sampler's timed (returned too)."""
    import envpool
    import torch

    from rlframe.agents.random_agent import RandomAgent
    from rlframe.envs.vector import EnvPoolEnv
    from rlframe.samplers.serial import SerialSampler

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    own = envpool.make_gymnasium("CartPole-v1", num_envs=B, seed=0)
    own.reset()
    ids, i_obs = np.arange(B, dtype=np.int32), own._state_keys.index("obs")
    direct = envpool.make_gymnasium("CartPole-v1", num_envs=B, seed=0)
    direct.reset()
    actions = [rng.integers(0, 2, B) for _ in range(64)]
    plain = EnvPoolEnv("CartPole-v1", num_envs=B, spares=0, direct_calls=False)
    adapter = EnvPoolEnv("CartPole-v1", num_envs=B)
    for env in (plain, adapter):
        env.reset()
    sampler = SerialSampler(EnvPoolEnv, dict(id="CartPole-v1"), batch_T=64, batch_B=B, max_decorrelation_steps=0)
    agent = RandomAgent()
    sampler.initialize(agent, seed=0)
    agent.sample_mode(0)
    sampler.obtain_samples(0)
    sampler_stub = None
    if stub:
        for pool in (own, direct, plain.env, adapter.env):
            StubPool(pool._state_keys).patch(pool)
        sampler_stub = StubPool(sampler.collector.benv.env._state_keys, timed=True)
        sampler_stub.patch(sampler.collector.benv.env)
        for env in (adapter, sampler.collector.benv):
            env._core = env._bind_core()  # EnvPoolEnv binds EnvPool's calls when it is built

    def own_loop() -> None:
        for _ in range(64):
            own.step(rng.integers(0, 2, B))

    def direct_loop() -> None:
        for _ in range(64):
            direct._send([ids, ids, rng.integers(0, 2, B).astype(np.int32)])
            direct._recv()[i_obs]

    def stepping(env: Any) -> Callable[[], None]:
        def run() -> None:
            for a in actions:
                env.step(a)
        return run

    def agent_calls() -> None:
        for t in range(64):
            sampler.collector._act(t, 1)

    # The own loop and the sampler run next to each other in every round: their ratio is taken per round.
    loops = {"envpool own loop": own_loop, "sampler": lambda: sampler.obtain_samples(1),
             "envpool C++ send/recv loop": direct_loop, "EnvPoolEnv.step, spares=0, public step": stepping(plain),
             "EnvPoolEnv.step": stepping(adapter)}
    if stub:
        loops["agent call (RandomAgent through the collector)"] = agent_calls
    return loops, sampler_stub


def measure(B: int, rounds: int, stub: bool = False) -> Dict[str, Any]:
    """Interleaved rounds; per figure the median µs per step of each field, and the sampler / own-loop ratio."""
    import torch

    loops, sampler_stub = _loops(B, stub)
    samples: Dict[str, Dict[str, List[float]]] = {name: {f: [] for f in FIELDS} for name in loops}
    for _ in range(rounds):
        for name, run in loops.items():
            w, c, p = time.perf_counter(), time.thread_time(), time.process_time()
            with torch.no_grad():  # as in collect_batch (for the agent-call figure)
                run()
            w, c, p = time.perf_counter() - w, time.thread_time() - c, time.process_time() - p
            for field, seconds in zip(FIELDS, (w, c, p)):
                samples[name][field].append(seconds / 64 * 1e6)
    own, ours = samples["envpool own loop"]["wall_us"], samples["sampler"]["wall_us"]
    return {"figures": {name: {f: statistics.median(v) for f, v in fields.items()} for name, fields in samples.items()},
            "ratio_to_own": statistics.median(o / s for o, s in zip(own, ours)),
            "ratio_to_own_thread_cpu": statistics.median(
                o / s for o, s in zip(samples["envpool own loop"]["thread_cpu_us"],
                                      samples["sampler"]["thread_cpu_us"])),
            "sampler_split": sampler_stub.split() if sampler_stub is not None else None}


def _child(args: argparse.Namespace, pythonpath: Optional[str]) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--B", str(args.B), "--rounds", str(args.rounds)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath or ROOT, env.get("PYTHONPATH")) if p)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


SECTIONS = {"envpool": "EnvPool's C++ step, sync mode", "python_side": "EnvPool's C++ calls replaced by StubPool"}


def _median_section(rs: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"figures": {fig: {f: statistics.median(r["figures"][fig][f] for r in rs) for f in FIELDS}
                        for fig in rs[0]["figures"]},
            "ratio_to_own": statistics.median(r["ratio_to_own"] for r in rs),
            "ratio_to_own_thread_cpu": statistics.median(r["ratio_to_own_thread_cpu"] for r in rs),
            "sampler_split": ({k: statistics.median(r["sampler_split"][k] for r in rs) for k in rs[0]["sampler_split"]}
                              if rs[0].get("sampler_split") else None)}


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30, help="interleaved rounds of 64 steps per child")
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3, help="children per code version, alternating")
    ap.add_argument("--baseline-rev", default=None, help="also measure rlframe/ as it was at this git revision")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        import rlframe

        print(json.dumps({"rlframe": os.path.dirname(rlframe.__file__), "envpool": measure(args.B, args.rounds),
                          "python_side": measure(args.B, args.rounds, stub=True)}))
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from collector_overhead import alternate_revisions

    runs = alternate_revisions(args.baseline_rev, args.repeats, lambda path: _child(args, path),
                               lambda r: f"sampler / own loop {r['envpool']['ratio_to_own']:.3f}")
    medians = {name: {sec: _median_section([r[sec] for r in rs]) for sec in SECTIONS} for name, rs in runs.items()}
    for sec, title in SECTIONS.items():
        print(f"\n{title}: µs per {args.B}-env CartPole step, medians of {args.repeats} children x {args.rounds} "
              "rounds (wall / main-thread CPU / process CPU)")
        print(f"{'figure':50}" + "".join(f"{n:>30}" for n in runs))
        for fig in medians["current"][sec]["figures"]:
            print(f"{fig:50}" + "".join("{:>12.1f}{:>9.1f}{:>9.1f}".format(
                *(medians[n][sec]["figures"][fig][f] for f in FIELDS)) for n in runs))
        for key, label in (("ratio_to_own", "wall"), ("ratio_to_own_thread_cpu", "main-thread CPU")):
            print(f"{'own loop / sampler per step, ' + label:50}"
                  + "".join(f"{medians[n][sec][key]:>30.3f}" for n in runs))
        if medians["current"][sec]["sampler_split"]:
            for key in medians["current"][sec]["sampler_split"]:
                print(f"{'sampler CPU µs ' + key[:-3].replace('_', ' '):50}"
                      + "".join(f"{medians[n][sec]['sampler_split'][key]:>30.1f}" for n in runs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "runs": runs, "sections": SECTIONS, "B": args.B, "rounds": args.rounds,
                       "repeats": args.repeats, "baseline_rev": args.baseline_rev, "env": "CartPole-v1",
                       "batch_T": 64, "policy": "RandomAgent (sampler), numpy rng.integers per step (peers)",
                       "date": time.strftime("%Y-%m-%d %H:%M"), "load_average_start": os.getloadavg()}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
