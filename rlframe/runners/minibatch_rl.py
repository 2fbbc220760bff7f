"""``MinibatchRl`` and ``MinibatchRlEval``: the synchronous sample-then-optimize loop.

rlpyt's runners (Stooke & Abbeel, 2019, "rlpyt: A Research Code Base for Deep Reinforcement
Learning in PyTorch", section 2) alternate ``sampler.obtain_samples(itr)`` and
``algo.optimize_agent(itr, samples)`` for ``n_steps`` environment steps. These keep that loop and add
what rlpyt left to the user: TensorBoard logging against env steps, atomic checkpoints at every
log interval, and resuming a stopped run from its run directory with every counter, the optimizer
and the RNG states restored (see :mod:`rlframe.logging`). With a sampler that saves its state
(``sampler.exact_resume``: SerialSampler, CpuSampler) the checkpoint also holds the envs' states, the episodes in
progress and the agent's recurrent state, and the resumed run continues bit-exactly (docs/scaling.md,
"Resume guarantees"); otherwise a :class:`~rlframe.errors.ResumeWarning` says what was not restored.

Counters: ``itr`` (iterations, one batch of ``batch_T * batch_B`` env steps each), ``env_steps``
(= iterations done × batch size, continuing across resumes) and ``updates`` (gradient steps,
``algo.update_counter`` when the algorithm keeps one).
"""
from __future__ import annotations

import collections
import math
import os
import time
import warnings
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from rlframe.core.seeding import make_seed, set_global_seeds
from rlframe.envs.base import EpisodeMetrics
from rlframe.envs.gym import episode_metrics_for
from rlframe.errors import ConfigError, ResumeWarning
from rlframe.logging import checkpoint as ckpt
from rlframe.logging.logger import RunLogger, get_logger
from rlframe.logging.metrics import opt_stats, traj_stats
from rlframe.logging.serialize import to_jsonable

Callback = Callable[["MinibatchRl", int, Dict[str, float]], None]


DEFAULT_MASTER_TORCH_THREADS = 1


def affinity_get(affinity: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from an affinity given as a dict (``launching.affinity.make_affinity``), an object
    with attributes, or None."""
    if affinity is None:
        return default
    if isinstance(affinity, Mapping):
        return affinity.get(key, default)
    return getattr(affinity, key, default)


def apply_master_affinity(affinity: Any) -> None:
    """Torch threads and CPU pinning of the master process, when the affinity names them
    (``master_torch_threads``, ``master_cpus``, ``set_affinity``).

    Without ``master_torch_threads`` torch gets one thread: for the small networks of RL, one thread
    was 10-15% faster than two on a quiet 2-core machine and up to 10x faster on a loaded one
    (REFERENCES.md; experiments/benchmarks/ppo_cartpole_vs_sb3.py). Give the affinity more for big models.
    """
    from rlframe.launching.affinity import apply_affinity

    threads = affinity_get(affinity, "master_torch_threads") or DEFAULT_MASTER_TORCH_THREADS
    cpus = affinity_get(affinity, "master_cpus")
    pin = bool(affinity_get(affinity, "set_affinity", True))
    apply_affinity(cpus, threads, set_affinity=pin, who="the training (master) process")


class MinibatchRl:
    """Runs ``algo`` on ``agent`` with ``sampler`` for ``n_steps`` env steps, logging every
    ``log_interval_steps``.

    Args:
        algo: an :class:`~rlframe.algos.base.RlAlgorithm`.
        agent: a :class:`~rlframe.agents.base.BaseAgent`.
        sampler: any sampler (serial, cpu, gpu, alternating).
        n_steps: total env steps (rounded up to whole iterations).
        seed: run seed (fresh entropy when None); seeds Python/numpy/torch and the sampler's envs.
        affinity: dict (or object) with optional ``master_torch_threads``, ``master_cpus``, ``cuda_idx``;
            also handed to ``sampler.initialize``.
        log_interval_steps: env steps between log rows (and checkpoints); at least one iteration.
        log_traj_window: ``rollout/return_mean`` is the mean over this many latest finished episodes.
        callbacks: functions ``f(runner, itr, values)`` called at each log interval before the row is
            written; they may add scalars to ``values``, use ``runner.logger`` (e.g. images), read
            ``runner.new_traj_infos`` (episodes finished in the interval) or call ``runner.stop()``.
        checkpoint: write a checkpoint at each log interval (when a run directory is open).
        save_replay: with a replay-based algorithm, also write the replay's contents at each checkpoint
            (``checkpoints/replay/itr_*.pt``, only the newest kept), so a resumed run continues with the
            transitions it had instead of an empty replay. Off by default: a replay can take gigabytes.
    """

    _eval = False
    rank = 0  # SyncRl (runners/sync_rl.py) sets these from its process group
    world_size = 1

    def __init__(
        self,
        algo: Any,
        agent: Any,
        sampler: Any,
        n_steps: float,
        seed: Optional[int] = None,
        affinity: Any = None,
        log_interval_steps: float = 1e5,
        *,
        log_traj_window: int = 100,
        callbacks: Sequence[Callback] = (),
        checkpoint: bool = True,
        save_replay: bool = False,
    ):
        if n_steps is None or int(n_steps) < 1:
            raise ConfigError(f"n_steps must be >= 1, got {n_steps}.")
        if log_interval_steps is None or int(log_interval_steps) < 1:
            raise ConfigError(f"log_interval_steps must be >= 1, got {log_interval_steps}.")
        self.algo = algo
        self.agent = agent
        self.sampler = sampler
        self.n_steps = int(n_steps)
        self.seed = seed
        self.affinity = affinity
        self.log_interval_steps = int(log_interval_steps)
        self.log_traj_window = int(log_traj_window)
        self.callbacks = list(callbacks)
        self.checkpoint = bool(checkpoint)
        self.save_replay = bool(save_replay)
        self.itr = -1  # last finished iteration
        self.env_steps = 0
        self.updates = 0
        self.logger: Optional[RunLogger] = None
        self.last_values: Dict[str, float] = {}
        self._stop_requested = False
        self.episode_metrics = EpisodeMetrics()  # the env's own metrics hook, resolved in startup()

    def stop(self) -> None:
        """End training after the current log interval (it is logged and checkpointed as usual)."""
        self._stop_requested = True

    @property
    def new_traj_infos(self) -> List[Any]:
        """TrajInfos of the episodes finished since the last log row."""
        return list(self._new_trajs)

    # --- set-up --------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return int(self.sampler.batch_spec.size)

    def _mid_batch_reset(self) -> bool:
        return bool(self.sampler.mid_batch_reset)

    def get_traj_info_kwargs(self) -> Dict[str, Any]:
        discount = self.algo.discount
        return {} if discount is None else {"discount": float(discount)}

    def startup(self) -> None:
        """Seed, pin, build the sampler (which validates env against agent) and the algorithm; restore a
        checkpoint when the open run directory is being resumed."""
        self.logger = self._open_logger()
        resume = self.logger.resume_state
        if resume is not None and resume.get("seed") is not None:
            self.seed = int(resume["seed"])
        self.seed = make_seed(self.seed)
        set_global_seeds(self.seed)
        apply_master_affinity(self.affinity)
        self.n_itr = max(1, math.ceil(self.n_steps / self.batch_size))
        self.log_interval_itrs = max(1, self.log_interval_steps // self.batch_size)
        self.logger.n_steps = self.n_itr * self.batch_size
        # A resumed run's envs get fresh seeds (derived from the run seed and the iteration), so they do
        # not replay the episodes the run began with.
        sampler_seed = self.seed if resume is None else int(
            np.random.SeedSequence([self.seed, int(resume["itr"]) + 1]).generate_state(1)[0])
        examples = self.sampler.initialize(
            self.agent,
            affinity=self.affinity,
            seed=sampler_seed,
            bootstrap_value=bool(self.algo.bootstrap_value),
            final_observation=bool(self.algo.final_observation),
            traj_info_kwargs=self.get_traj_info_kwargs(),
            rank=self.rank,
            world_size=self.world_size,
        )
        self.episode_metrics = episode_metrics_for(self.sampler.EnvCls, self.sampler.env_kwargs)
        cuda_idx = affinity_get(self.affinity, "cuda_idx")
        if cuda_idx is not None:
            self.agent.to_device(cuda_idx)
        self.algo.initialize(
            self.agent,
            n_itr=self.n_itr,
            batch_spec=self.sampler.batch_spec,
            mid_batch_reset=self._mid_batch_reset(),
            examples=examples,
            world_size=self.world_size,
            rank=self.rank,
        )
        if self.save_replay and self.algo.replay is None:
            raise ConfigError(f"save_replay needs a replay-based algorithm; {type(self.algo).__name__} keeps no "
                              "replay (drop save_replay / --save-replay).")
        self._traj_window: Deque[Dict[str, Any]] = collections.deque(maxlen=self.log_traj_window)
        self._elapsed_before = 0.0
        if resume is not None:
            self.restore(resume)
            self.logger.info(
                f"Resumed {self.logger.run_dir} from {resume['path']}: itr {self.itr}, "
                f"{self.env_steps:,d} env steps, {self.updates:,d} updates."
            )
        if self.logger.run_dir:
            self.logger.info(f"Logging to {self.logger.run_dir}  (view: {self.logger.tensorboard_command()})")

    def _open_logger(self) -> RunLogger:
        """The open run directory's logger (a console-only one outside :func:`logger_context`)."""
        return get_logger() or RunLogger(None)

    # --- checkpoints -------------------------------------------------------------------------------------
    def checkpoint_state(self) -> Dict[str, Any]:
        """Everything needed to resume after the last finished iteration."""
        state = {
            "itr": self.itr,
            "env_steps": self.env_steps,
            "updates": self.updates,
            "elapsed_s": self._elapsed(),
            "seed": self.seed,
            "n_steps": self.n_steps,
            "batch_spec": {"T": int(self.sampler.batch_spec.T), "B": int(self.sampler.batch_spec.B)},
            "agent_state_dict": self.agent.state_dict(),
            "rng": ckpt.get_rng_states(),
            "specs": ckpt.env_specs_json(self.agent.env_spaces),
            "traj_window": list(self._traj_window),
            "runner": type(self).__name__,
        }
        state["optimizer_state_dict"] = self.algo.optim_state_dict()  # None without an optimizer
        state["algo_state_dict"] = self.algo.state_dict()
        # env states, the collector's carried state, the agent's recurrent state (exact resume); a SyncRl rank's
        # sampler holds only its share of the envs, so ranks > 1 save none (docs/scaling.md)
        state["sampler_state"] = self.sampler.state_dict() if self.world_size == 1 else {}
        return state

    def restore(self, state: Dict[str, Any]) -> None:
        """Load a checkpoint into the initialized agent and algorithm, after checking the env specs."""
        if state.get("specs") is not None:
            ckpt.check_specs(state["specs"], ckpt.env_specs_json(self.agent.env_spaces), state.get("path", "?"))
        ckpt.check_model_matches(state["agent_state_dict"], self.agent.state_dict(), state.get("path", "?"))
        self.agent.load_state_dict(state["agent_state_dict"])
        if state.get("optimizer_state_dict") is not None:
            self.algo.load_optim_state_dict(state["optimizer_state_dict"])
        if state.get("algo_state_dict") is not None:
            self.algo.load_state_dict(state["algo_state_dict"])
        self.itr = int(state["itr"])
        self.env_steps = int(state["env_steps"])
        self.updates = int(state.get("updates", 0))
        self.algo.update_counter = self.updates
        self._elapsed_before = float(state.get("elapsed_s", 0.0))
        self._traj_window.extend(state.get("traj_window", []))
        not_exact = self._restore_sampler(state)
        if not self._restore_replay(int(state["itr"]), continues=not not_exact) and self.algo.replay is not None:
            not_exact.append("no replay was saved with this checkpoint (save_replay / --save-replay): the replay "
                             "starts empty")
        if state.get("rng") is not None:
            ckpt.set_rng_states(state["rng"])
        if not_exact:
            warnings.warn(
                f"resuming from {state.get('path', '?')}: the continuation is not bit-exact: " + "; ".join(not_exact)
                + ". Weights, optimizer, counters, RNG states and the algorithm's state are restored "
                "(docs/scaling.md, 'Resume guarantees').", ResumeWarning, stacklevel=2)

    def _restore_sampler(self, state: Dict[str, Any]) -> List[str]:
        """Restore the sampler's envs and carried state (exact resume); returns what could not be restored."""
        saved = state.get("sampler_state") or {}
        sampler = type(self.sampler).__name__
        if self.world_size > 1:
            return [f"ranks of a {type(self).__name__} run save no sampler state: every env starts a new episode "
                    "with a fresh seed"]
        if not self.sampler.exact_resume:
            return [f"{sampler} saves no env or collector state (SerialSampler and CpuSampler do): every env "
                    "starts a new episode with a fresh seed and the episodes in progress are not counted"]
        if not saved:
            return ["the checkpoint holds no sampler state (written by an rlframe without exact resume, or by a "
                    "sampler that saves none): every env starts a new episode with a fresh seed"]
        if saved.get("sampler") != sampler:
            return [f"the checkpoint holds the state of a {saved.get('sampler')}, this run uses a {sampler}: every "
                    "env starts a new episode with a fresh seed (resume with the sampler the run was started with "
                    "to continue exactly)"]
        if not self.sampler.load_state_dict(saved):
            return ["the sampler restored only part of its state (see the warning above): some envs start new "
                    "episodes"]
        return []

    def _replay_dir(self) -> Optional[str]:
        return None if self.logger.checkpoint_dir is None else os.path.join(self.logger.checkpoint_dir, "replay")

    def _restore_replay(self, itr: int, continues: bool = False) -> bool:
        """Load the replay saved with the checkpoint of ``itr`` (``save_replay``), when there is one; True if
        loaded. ``continues``: the sampler's envs were restored, so the replay's time lines continue."""
        replay, replay_dir = self.algo.replay, self._replay_dir()
        if replay is None or replay_dir is None:
            return False
        ckpt.remove_stale_temp_files(replay_dir)
        path = os.path.join(replay_dir, ckpt.checkpoint_name(itr))
        if os.path.exists(path):
            replay.continue_after_load = continues
            replay.load_state_dict(ckpt.load_checkpoint(path)["replay"], component=f"replay {path}")
            self.logger.info(f"Replay restored from {path}: {len(replay):,d} env steps.")
            return True
        if self.save_replay:
            self.logger.info(f"No replay saved with iteration {itr} in {replay_dir}: the replay starts empty.")
        return False

    def save_checkpoint(self) -> Optional[str]:
        if not self.checkpoint or self.logger is None:
            return None
        replay_dir = self._replay_dir() if self.save_replay else None
        if replay_dir is not None:  # first, so a checkpoint never lacks its replay
            ckpt.save_checkpoint({"replay": self.algo.replay.state_dict()}, replay_dir, self.itr)
        path = self.logger.save_checkpoint(self.checkpoint_state(), self.itr)
        if replay_dir is not None:  # the previous replay goes only now: a run killed before this line resumes
            ckpt.prune_checkpoints(replay_dir, keep_last=1)  # from the previous checkpoint, with its replay
        return path

    # --- the loop --------------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return self._elapsed_before + (time.perf_counter() - self._t_start)

    def train(self) -> Dict[str, float]:
        """Run to ``n_steps`` env steps; returns the last logged values (``eval/return_mean`` etc.).

        The sampler is always shut down, also when something raises.
        """
        self._t_start = time.perf_counter()
        try:
            self.startup()
            self._t_start = time.perf_counter()
            self._reset_interval()
            start_itr = self.itr + 1
            self._segment_steps0 = self.env_steps
            if start_itr >= self.n_itr:
                self.logger.info(f"Nothing to do: the run already has {self.env_steps:,d} of {self.n_steps:,d} "
                                 "env steps; resume with a larger n_steps (--steps) to train on.")
            if self._eval and start_itr == 0:
                self._log_interval(itr=0, eval_traj_infos=self._evaluate(0), initial=True)
            for itr in range(start_itr, self.n_itr):
                self.agent.sample_mode(itr)
                t0 = time.perf_counter()
                samples, traj_infos = self.sampler.obtain_samples(itr)
                t1 = time.perf_counter()
                self.agent.train_mode(itr)
                before = self.algo.update_counter
                opt_info = self.algo.optimize_agent(itr, samples)
                t2 = time.perf_counter()
                after = self.algo.update_counter
                self.updates += (after - before) if after != before else _n_grad_steps(opt_info)
                self.itr = itr
                self.env_steps += self.batch_size
                self._sample_s += t1 - t0
                self._optimize_s += t2 - t1
                self._new_trajs.extend(traj_infos)
                self._opt_infos.append(opt_info)
                if (itr + 1) % self.log_interval_itrs == 0 or itr == self.n_itr - 1:
                    eval_trajs = self._evaluate(itr) if self._eval else None
                    self._log_interval(itr, eval_trajs)
                    self.save_checkpoint()
                    if self._stop_requested:
                        break
            return dict(self.last_values) or {"time/itr": float(self.itr + 1), "time/env_steps": float(self.env_steps),
                                              "time/updates": float(self.updates)}
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.episode_metrics.close()
        self.sampler.shutdown()

    def _evaluate(self, itr: int) -> List[Any]:
        self.agent.eval_mode(itr)
        t0 = time.perf_counter()
        trajs = list(self.sampler.evaluate_agent(itr))
        self._eval_s += time.perf_counter() - t0
        return trajs

    def _reset_interval(self) -> None:
        self._new_trajs: List[Any] = []
        self._opt_infos: List[Any] = []
        self._sample_s = self._optimize_s = self._eval_s = 0.0
        self._interval_t0 = time.perf_counter()
        self._interval_steps0 = self.env_steps

    def _log_interval(self, itr: int, eval_traj_infos: Optional[List[Any]] = None, initial: bool = False) -> None:
        now = time.perf_counter()
        new = [_as_dict(t) for t in self._new_trajs]
        self._traj_window.extend(new)
        steps = self.env_steps - self._interval_steps0
        train_s = max(now - self._interval_t0 - self._eval_s, 1e-9)
        values: Dict[str, float] = {
            "time/itr": float(self.itr + 1),  # iterations finished
            "time/env_steps": float(self.env_steps),
            "time/updates": float(self.updates),
            "time/sps": steps / train_s if steps else float("nan"),
            "time/sample_s": self._sample_s,
            "time/optimize_s": self._optimize_s,
            "time/elapsed_s": self._elapsed(),
        }
        if self._eval:
            values["time/eval_s"] = self._eval_s
        rollout = traj_stats(self._traj_window, "rollout", self.episode_metrics)
        values.update(rollout)
        if not initial:
            values["rollout/episodes"] = float(len(new))
            # tags outside rollout/ (an env's own groups) describe this interval's episodes only
            fresh = traj_stats(new, "rollout", self.episode_metrics)
            values.update({k: v for k, v in fresh.items() if not k.startswith("rollout/")})
        if eval_traj_infos is not None:
            values.update(traj_stats(eval_traj_infos, "eval", self.episode_metrics))
            values["eval/episodes"] = float(len(eval_traj_infos))
        values.update(opt_stats(self._opt_infos))
        values.update(self.algo.log_values())  # e.g. replay/size
        for tag, image in self.episode_metrics.images(self.agent, itr).items():
            self.logger.add_image(tag, image, step=self.env_steps)
        for cb in self.callbacks:
            cb(self, itr, values)
        segment_steps = self.env_steps - self._segment_steps0
        seg_s = now - self._t_start
        eta = (self.n_itr * self.batch_size - self.env_steps) / (segment_steps / seg_s) if segment_steps else None
        self.logger.log(values, step=self.env_steps, eta_s=eta)
        self.last_values = values
        self._reset_interval()


class MinibatchRlEval(MinibatchRl):
    """:class:`MinibatchRl` that also runs ``sampler.evaluate_agent`` (agent in ``eval_mode``) before
    training and at every log interval, logging ``eval/return_mean`` and ``eval/length_mean``."""

    _eval = True


def _as_dict(t: Any) -> Dict[str, Any]:
    d = t if isinstance(t, dict) else (t.to_dict() if hasattr(t, "to_dict") else dict(vars(t)))
    return to_jsonable({k: v for k, v in d.items() if not str(k).startswith("_")})


def _n_grad_steps(opt_info: Any) -> int:
    """Gradient steps in an OptInfo whose algorithm keeps no ``update_counter``: entries of its first list."""
    if opt_info is None or not hasattr(opt_info, "_fields") or not opt_info._fields:
        return 0
    first = opt_info[0]
    return len(first) if isinstance(first, (list, tuple)) else 1
