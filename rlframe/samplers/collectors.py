"""Collectors: step a slice of envs for one batch and write into a ``[T, B]`` samples buffer slice.

rlpyt's collectors (Stooke & Abbeel, 2019), for gymnasium semantics. A collector knows nothing about
processes: it gets a list of envs, the matching ``[T, B_local]`` numpy slice of the samples buffer and
an agent, so serial samplers run it in the master and parallel samplers in each worker.

Autoreset is the collector's job (envs never auto-reset):

- :class:`ResetCollector` (``mid_batch_reset=True``): an env that ends at step ``t`` is reset at once;
  ``observation[t+1]`` is the reset observation and ``prev_action``/``prev_reward`` restart at zero.
  Every step of the batch is valid; ``done[t]`` marks episode ends.
- :class:`WaitResetCollector` (``mid_batch_reset=False``): an env that ends at step ``t`` waits, not
  stepped, until the next batch starts, then resets. Its later steps in the batch are blanks
  (zero action, reward, agent_info and env_info, ``terminated``/``truncated`` false) with ``done`` kept
  true, so ``valid = valid_from_done(samples.env.done)`` is 1 up to and including the ending step and 0
  after it: algorithms must weight their losses by that mask (rlpyt's ``valid_from_done``).

Final observations: when the sampler was initialized with ``final_observation=True``,
``env.final_observation[t, b]`` gets the env's true final observation of an episode that ended at ``t``
(terminated or truncated; written before the reset), zeros elsewhere, so ``s'`` of every step is known
(``samplers.base.next_observation``; docs/samplers.md).

Truncation contract (COMMON.md): when an episode is *truncated* (not terminated) at ``t`` and the agent has
``value(observation, prev_action, prev_reward)``, ``env.timeout_value[t, b]`` gets V(true final
observation), computed before the reset (all envs truncated at ``t`` in one batched call). With
``bootstrap_value`` the buffer's ``agent.bootstrap_value[0]`` gets V(observation after the last step).

:class:`EvalCollector` runs evaluation episodes (agent in eval mode) and returns their ``TrajInfo``\\ s.

Exact resume: what a training collector carries from one batch to the next (the step buffers, the
in-progress TrajInfos, the wait-reset flags and the agent's sampling state) is its :meth:`BaseCollector.state_dict`;
samplers save it with their envs' states in every checkpoint (docs/scaling.md, "Resume guarantees").
"""
from __future__ import annotations

import pickle
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch

from rlframe.core.buffers import torchify
from rlframe.core.namedarraytuple import map_leaves
from rlframe.agents.base import AgentInputs
from rlframe.envs.base import Env
from rlframe.errors import ConfigError, EnvStateError, ShapeMismatchError
from rlframe.samplers.base import TrajInfo
from rlframe.samplers.checks import StepValidator, env_name


def valid_from_done(done: Any) -> Any:
    """Mask ``[T, B]`` (float32) that is 1 up to and including each env's first ``done`` and 0 after.

    Works on numpy arrays and torch tensors. Use it with :class:`WaitResetCollector` samples.
    """
    if isinstance(done, torch.Tensor):
        d = done.float()
        valid = torch.ones_like(d)
        valid[1:] = 1.0 - torch.clamp(torch.cumsum(d[:-1], dim=0), max=1.0)
        return valid
    d = np.asarray(done, dtype=np.float32)
    valid = np.ones_like(d)
    valid[1:] = 1.0 - np.minimum(np.cumsum(d[:-1], axis=0), 1.0)
    return valid


def make_envs(EnvCls: Callable, env_kwargs: dict, seeds: Sequence[int]) -> list:
    """``len(seeds)`` envs ``EnvCls(**env_kwargs)``, each seeded (``env.seed(s)``) when it can be."""
    envs = []
    try:
        for s in seeds:
            env = EnvCls(**env_kwargs)
            envs.append(env)
            if callable(getattr(env, "seed", None)):
                env.seed(int(s))
    except BaseException:
        close_envs(envs)
        raise
    return envs


def sampling_state(collector: "BaseCollector", envs: Sequence[Any], eval_envs: Sequence[Any]) -> Dict[str, Any]:
    """What one collector and its envs carry into the next batch (a serial sampler's, a worker's): the train
    and eval envs' states (:func:`save_env_states`) and ``collector.state_dict()``."""
    return {"envs": save_env_states(envs), "eval_envs": save_env_states(eval_envs),
            "collector": collector.state_dict()}


def load_sampling_state(collector: "BaseCollector", envs: Sequence[Any], eval_envs: Sequence[Any],
                        state: Dict[str, Any]) -> List[int]:
    """Restore :func:`sampling_state`'s output (env ids and counts checked first); train envs saved without a
    state start new episodes (``collector.restart_envs``), eval envs keep their fresh seeds. Returns the
    indices of the train envs not restored."""
    missing = load_env_states(envs, state["envs"], "train env")
    load_env_states(eval_envs, state["eval_envs"], "eval env")
    collector.load_state_dict(state["collector"])
    if missing:
        collector.restart_envs(missing)
    return missing


def save_env_states(envs: Sequence[Any]) -> List[Dict[str, Any]]:
    """``{"id", "state", "why"}`` per env: ``state`` is ``env.get_state()`` (bytes) for an
    :class:`~rlframe.envs.base.Env` that can be saved, else None with ``why`` saying why not."""
    out = []
    for env in envs:
        name = env_name(env)
        if not isinstance(env, Env):
            out.append({"id": name, "state": None, "why": f"{type(env).__name__} does not derive from "
                        "rlframe.envs.base.Env, which declares the state API (get_state / set_state)"})
            continue
        try:
            out.append({"id": name, "state": env.get_state(), "why": ""})
        except EnvStateError as e:
            out.append({"id": name, "state": None, "why": str(e)})
    return out


def load_env_states(envs: Sequence[Any], saved: Sequence[Dict[str, Any]], label: str) -> List[int]:
    """Set each env's state from :func:`save_env_states`'s output; returns the indices not restored (saved
    without a state). A checkpoint of another env id or env count is a :class:`ConfigError`."""
    if len(saved) != len(envs):
        raise ConfigError(f"the checkpoint holds the state of {len(saved)} {label}s, the sampler has {len(envs)}: "
                          "resume with the env counts (batch_B, eval_n_envs) the run was started with.")
    missing = []
    for i, (env, entry) in enumerate(zip(envs, saved)):
        if entry["id"] != env_name(env):
            raise ConfigError(f"{label} {i}: the checkpoint holds the state of env '{entry['id']}', the sampler made "
                              f"'{env_name(env)}': resume with the env the run was started with.")
        if entry["state"] is None:
            missing.append(i)
        else:
            env.set_state(entry["state"])
    return missing


def close_envs(envs: Iterable[Any]) -> None:
    """Close every env, ignoring errors of envs that are already broken."""
    for env in envs:
        try:
            env.close()
        except Exception:  # pragma: no cover - best effort at shutdown
            pass


def _traj_info_class(TrajInfoCls: Callable) -> type:
    return getattr(TrajInfoCls, "func", TrajInfoCls)  # functools.partial -> class


def _numpy_leaf(x: Any) -> Any:
    """An agent-info leaf as numpy (tensors: ``.numpy()``, detached only when autograd tracks them)."""
    if isinstance(x, torch.Tensor):
        return x.detach().numpy() if x.requires_grad else x.numpy()
    return x


class _AgentStepper:
    """Step buffers (``AgentInputs`` of ``[B]`` numpy arrays with torch views made once) and the two
    calls into the agent. Subclasses (e.g. a GPU sampler's worker collector) may override
    :meth:`_act` and :meth:`_value` to get actions from elsewhere."""

    agent: Any
    step_np: Any
    step_pyt: Any

    def _init_step_buffers(self, obs_row: Any, action_row: Any, step_buffer_np: Any = None) -> None:
        if step_buffer_np is None:
            zeros = lambda x: np.zeros_like(x)  # noqa: E731
            step_buffer_np = AgentInputs(
                map_leaves(zeros, obs_row), map_leaves(zeros, action_row),
                np.zeros(len(self.envs), dtype=np.float32),
            )
        self.step_np = step_buffer_np
        self.step_pyt = torchify(step_buffer_np)
        obs = step_buffer_np.observation
        # One view per env row (the step buffer is never reallocated; resume writes into it): writing
        # ``row[...] = o`` skips building the row view at every step. Scalar observations have no row view.
        self._obs_rows = [obs[b] for b in range(len(self.envs))] if isinstance(obs, tuple) or obs.ndim > 1 else None
        self._has_value = callable(getattr(self.agent, "value", None))

    def _act(self, t: int, itr: int):
        """Agent actions for all envs of this collector: ``(action [B] numpy, agent_info numpy or None)``."""
        if torch.is_grad_enabled():  # collect_batch turns autograd off once per batch; other callers here
            with torch.no_grad():
                return self._act(t, itr)
        agent_step = self.agent.step(*self.step_pyt)
        action, info = agent_step.action, agent_step.agent_info
        if isinstance(action, torch.Tensor):  # .numpy() directly unless autograd tracks it (detach: ~0.8 µs)
            action = action.detach().numpy() if action.requires_grad else action.numpy()
        else:
            action = np.asarray(action)
        if info is not None:
            info = map_leaves(_numpy_leaf, info)
        return action, info

    def _value(self, idx: Optional[List[int]]) -> np.ndarray:
        """V(current step-buffer observation) for envs ``idx`` (all when None), float32 numpy."""
        obs, prev_action, prev_reward = self.step_pyt
        recurrent_subset = idx is not None and getattr(self.agent, "recurrent", False)
        if recurrent_subset:  # a recurrent agent values all its envs together (each from its own state)
            return self._value(None)[idx]
        if idx is not None:
            i = torch.as_tensor(idx, dtype=torch.long)
            obs = obs[i]
            prev_action, prev_reward = prev_action[i], prev_reward[i]
        with torch.no_grad():
            v = self.agent.value(obs, prev_action, prev_reward)
        v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        return v.astype(np.float32, copy=False).reshape(-1)


class BaseCollector(_AgentStepper):
    """Collects one ``[T, B_local]`` batch per :meth:`collect_batch` call into ``samples_np``.

    Args:
        rank: worker rank (0 for serial samplers), used in error messages.
        envs: the envs this collector steps (``B_local`` of them).
        samples_np: numpy ``Samples`` buffer, or its ``[:, b0:b1]`` slice, with ``B_local`` columns.
        batch_T: steps per batch.
        TrajInfoCls: callable making a fresh :class:`TrajInfo` (a class or a ``functools.partial``).
        agent: the agent (``step``, ``reset``, ``reset_one``, optionally ``value``).
        sync: unused here; kept for rlpyt-compatible construction by parallel samplers.
        step_buffer_np: optional preallocated ``AgentInputs`` step buffer with leading ``[B_local]``
            (e.g. in shared memory for a GPU sampler); allocated when None.
        global_B, env_ranks: global env count and this collector's global env indices (messages, agents).
        debug: validate every step (DESIGN.md item 5).
    """

    mid_batch_reset = True

    def __init__(
        self,
        rank: int,
        envs: Sequence[Any],
        samples_np: Any,
        batch_T: int,
        TrajInfoCls: Callable = TrajInfo,
        agent: Any = None,
        sync: Any = None,
        step_buffer_np: Any = None,
        global_B: int = 1,
        env_ranks: Optional[Sequence[int]] = None,
        debug: bool = False,
    ):
        self.rank = rank
        self.envs = list(envs)
        self.samples_np = samples_np
        self.batch_T = int(batch_T)
        self.TrajInfoCls = TrajInfoCls
        self.agent = agent
        self.sync = sync
        self.global_B = global_B
        self.env_ranks = list(env_ranks) if env_ranks is not None else list(range(len(self.envs)))
        self.debug = bool(debug)
        B = len(self.envs)
        lead = samples_np.env.reward.shape
        if lead != (self.batch_T, B):
            raise ValueError(
                f"collector rank {rank}: samples slice has leading dims {lead}, expected ({self.batch_T}, {B}) "
                "for batch_T steps and one column per env; pass samples_np[:, b0:b1] matching the envs."
            )
        self._init_step_buffers(samples_np.env.observation[0], samples_np.agent.prev_action[0], step_buffer_np)
        self.bootstrap_value = hasattr(samples_np.agent, "bootstrap_value")
        self._final_obs = samples_np.env.final_observation  # None unless the sampler was asked for it
        self._final_obs_written: List[tuple] = []  # (t, b) slots to zero at the next batch
        self.waiting = np.zeros(B, dtype=bool)
        self.traj_infos: List[Any] = [TrajInfoCls() for _ in range(B)]
        self._full_traj_step = _traj_info_class(TrajInfoCls).step is not TrajInfo.step
        self._has_env_info = len(samples_np.env.env_info or ()) > 0
        self._structured_obs = isinstance(self.step_np.observation, tuple)
        self.validator = StepValidator(self.envs, self.env_ranks, rank) if self.debug else None
        self._itr = -1

    # --- start ----------------------------------------------------------------------------------
    def start_envs(self, max_decorrelation_steps: int = 0, rng: Optional[np.random.Generator] = None) -> List[Any]:
        """Reset every env, then step each one a random number of random-action steps in
        ``[0, max_decorrelation_steps]`` (rlpyt's decorrelation) so that episodes do not end in lockstep.

        Episodes completed while decorrelating are dropped; returns the ongoing TrajInfos.
        """
        rng = rng if rng is not None else np.random.default_rng()
        obs_np, pa_np, pr_np = self.step_np
        for b, env in enumerate(self.envs):
            o = env.reset()
            if self.validator is not None:
                self.validator.check_reset(b, o, -1, "start")
            traj = self.TrajInfoCls()
            a, r = None, 0.0
            n = int(rng.integers(0, max_decorrelation_steps + 1)) if max_decorrelation_steps > 0 else 0
            for _ in range(n):
                a = env.spaces.action.sample()
                o, r, term, trunc, info = env.step(a)
                traj.step(o, a, r, term, trunc, None, info)
                if term or trunc:
                    o, a, r = env.reset(), None, 0.0
                    traj = self.TrajInfoCls()
            obs_np[b] = o
            pa_np[b] = 0 if a is None else a
            pr_np[b] = r
            self.traj_infos[b] = traj
        self.waiting[:] = False
        return list(self.traj_infos)

    def start_agent(self) -> None:
        """Reset the agent's per-env state before the first batch."""
        if self.agent is not None:
            self.agent.reset()

    # --- the batch loop -------------------------------------------------------------------------------
    def _reset_waiting(self) -> None:
        obs_np, pa_np, pr_np = self.step_np
        for b in np.flatnonzero(self.waiting):
            obs_np[b] = self._reset_env(int(b))
            pa_np[b] = 0
            pr_np[b] = 0
        self.waiting[:] = False

    def _reset_env(self, b: int) -> Any:
        o = self.envs[b].reset()
        if self.validator is not None:
            self.validator.check_reset(b, o, -1, self._itr)
        if self.agent is not None:
            self.agent.reset_one(b)
        return o

    def collect_batch(self, itr: int) -> List[Any]:
        """Fill the samples slice with ``batch_T`` steps of every env; return completed TrajInfos."""
        self._itr = itr
        if self.waiting.any():
            self._reset_waiting()
        with torch.no_grad():  # once per batch (~1 µs a time): the agent's calls below need no autograd
            return self._collect(itr)

    def _collect(self, itr: int) -> List[Any]:
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        obs_np, pa_np, pr_np = self.step_np
        # Everything the inner loop touches is a local (attribute and global lookups cost ~20-40 ns each,
        # paid per env step); env.step is looked up per batch, so an env patched between batches is seen.
        envs, traj_infos, validator, act = self.envs, self.traj_infos, self.validator, self._act
        steps = [env.step for env in envs]
        env_range = range(len(envs))
        obs_buf, prev_reward_buf, reward_buf = env_buf.observation, env_buf.prev_reward, env_buf.reward
        term_buf, trunc_buf, done_buf = env_buf.terminated, env_buf.truncated, env_buf.done
        action_buf, prev_action_buf, agent_info_buf = agent_buf.action, agent_buf.prev_action, agent_buf.agent_info
        env_info_buf = env_buf.env_info if self._has_env_info else None
        # env infos of the buffer's own class are written field by field into per-row views (about half
        # the cost of the namedarraytuple's generic ``buf[t, b] = info``); anything else takes that path.
        info_cls = type(env_info_buf) if env_info_buf is not None else None
        full_traj, wait_reset = self._full_traj_step, not self.mid_batch_reset
        NewTrajInfo = self.TrajInfoCls
        waiting = self.waiting
        scalar_actions = action_buf.ndim == 2 and action_buf.dtype.kind in "iu"
        # Observations go into per-env row views of the step buffer made once (``row[...] = o``: ~40 ns less
        # than ``obs_np[b] = o``, which builds the row view at every step); None for scalar observations.
        obs_rows = self._obs_rows
        # terminated / truncated / done are false except at an episode's end: their [T, B] slices are zeroed
        # once per batch and only the ending envs' entries are written (a row of B bools is 32 bytes, so
        # per-step whole-row writes also hit a cache line that the other workers write too).
        term_buf.fill(False)
        trunc_buf.fill(False)
        done_buf.fill(False)
        env_buf.timeout_value.fill(0)
        if self._final_obs_written:
            self._clear_final_observations()
        completed: List[Any] = []
        for t in range(self.batch_T):
            obs_buf[t] = obs_np
            prev_action_buf[t] = pa_np
            prev_reward_buf[t] = pr_np
            action, agent_info = act(t, itr)
            action_buf[t] = action
            if agent_info is not None:
                agent_info_buf[t] = agent_info
            traj_agent_info = agent_info if full_traj else None
            # Python scalars for 1-d integer actions: cheaper to index and what envs want (REFERENCES.md)
            acts = action.tolist() if scalar_actions else action
            r_row = reward_buf[t]
            info_rows = [None if f is None else f[t] for f in env_info_buf] if info_cls is not None else None
            was_waiting = waiting.copy() if wait_reset and waiting.any() else None
            ended: List[int] = []
            for b in env_range:
                if was_waiting is not None and was_waiting[b]:
                    continue
                a = acts[b]
                if validator is not None:
                    validator.check_action(b, a, t, itr, self.agent)
                step = steps[b](a)
                if validator is not None:
                    validator.check_step(b, step, t, itr)
                o, r, term, trunc, info = step
                try:
                    if obs_rows is None:
                        obs_np[b] = o
                    else:
                        obs_rows[b][...] = o
                    r_row[b] = r
                    if info_rows is not None:
                        if type(info) is info_cls:
                            for dst, v in zip(info_rows, info):
                                if dst is not None and v is not None:
                                    dst[b] = v
                        else:
                            env_info_buf[t, b] = info
                except (ValueError, TypeError) as e:
                    self._diagnose_write(b, step, t, itr, e)
                traj = traj_infos[b]
                traj.step(o, a, r, term, trunc, None if traj_agent_info is None else traj_agent_info[b], info)
                if term or trunc:
                    term_buf[t, b] = term
                    trunc_buf[t, b] = trunc
                    done_buf[t, b] = True
                    completed.append(traj.terminate(o, term, trunc, info))
                    traj_infos[b] = NewTrajInfo()
                    ended.append(b)
            pa_np[:] = action
            pr_np[:] = r_row
            if was_waiting is not None:
                self._blank(t, was_waiting)
            if ended:
                self._end_episodes(t, ended, wait_reset)
        if self.bootstrap_value:
            agent_buf.bootstrap_value[0] = self._value(None) if self._has_value else 0
        return completed

    def _clear_final_observations(self) -> None:
        """Zero the final-observation slots the previous batch wrote (the rest is zero already)."""
        for t, b in self._final_obs_written:
            self._final_obs[t, b] = 0
        self._final_obs_written = []

    def _end_episodes(self, t: int, ended: List[int], wait_reset: bool) -> None:
        tr_row, te_row = self.samples_np.env.truncated[t], self.samples_np.env.terminated[t]
        if self._final_obs is not None:  # the step buffer still holds the true final observations
            obs_np = self.step_np.observation
            for b in ended:
                self._final_obs[t, b] = obs_np[b]
                self._final_obs_written.append((t, b))
        if self._has_value:
            truncated = [b for b in ended if tr_row[b] and not te_row[b]]
            if truncated:
                self.samples_np.env.timeout_value[t, truncated] = self._value(truncated)
        if wait_reset:
            self.waiting[ended] = True
            return
        obs_np, pa_np, pr_np = self.step_np
        for b in ended:
            obs_np[b] = self._reset_env(b)
            pa_np[b] = 0
            pr_np[b] = 0

    def _blank(self, t: int, mask: np.ndarray) -> None:
        """Blank records for wait-reset envs that ended earlier in the batch (``done`` stays true)."""
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        agent_buf.action[t][mask] = 0
        if agent_buf.agent_info is not None:
            agent_buf.agent_info[t][mask] = 0
        env_buf.reward[t][mask] = 0
        env_buf.terminated[t][mask] = False
        env_buf.truncated[t][mask] = False
        env_buf.done[t][mask] = True
        if self._has_env_info:
            env_buf.env_info[t][mask] = 0
        self.step_np.prev_action[mask] = 0
        self.step_np.prev_reward[mask] = 0

    def _diagnose_write(self, b: int, step: Any, t: int, itr: int, error: Exception) -> None:
        """A step did not fit the step buffer: validate it to raise a named ShapeMismatchError."""
        validator = self.validator or StepValidator(self.envs, self.env_ranks, self.rank)
        validator.check_step(b, step, t, itr)
        raise ShapeMismatchError(
            f"env '{env_name(self.envs[b])}'", "step output", "values fitting the samples buffer",
            f"{type(error).__name__}: {error}", detail=validator.where(b, t, itr),
            hint="the env must emit what its spaces declare at every step, and the same env-info keys "
            "from its first step on (GymEnv fixes the info fields from the first step it sees).",
        ) from error

    # --- exact resume -----------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """What this collector carries into its next batch: the step buffers (each env's current observation,
        previous action and reward), the in-progress TrajInfos and the wait-reset flags (pickled: TrajInfo
        subclasses are the user's classes and their field types must survive exactly), and the agent's
        sampling state (``agent.sampling_state_dict()``: recurrent state, exploration noise)."""
        carried = {"step": map_leaves(np.copy, self.step_np), "traj_infos": list(self.traj_infos),
                   "waiting": self.waiting.copy()}
        return {"B": len(self.envs), "carried": pickle.dumps(carried, protocol=pickle.HIGHEST_PROTOCOL),
                "agent": {} if self.agent is None else self.agent.sampling_state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output (of a collector with as many envs)."""
        if int(state["B"]) != len(self.envs):
            raise ConfigError(f"collector rank {self.rank}: the checkpoint holds the state of {int(state['B'])} "
                              f"envs, this collector steps {len(self.envs)}; resume with the batch_B the run was "
                              "started with.")
        carried = pickle.loads(state["carried"])
        self.step_np[:] = carried["step"]
        self.traj_infos = list(carried["traj_infos"])
        self.waiting[:] = carried["waiting"]
        if self.agent is not None:
            self.agent.load_sampling_state_dict(state.get("agent", {}))

    def restart_envs(self, idxs: Sequence[int]) -> None:
        """Start a new episode in envs ``idxs`` (reset, zero previous action and reward, fresh TrajInfo, the
        agent's state of that env zeroed): for envs whose state a resume could not restore."""
        obs_np, pa_np, pr_np = self.step_np
        for b in idxs:
            obs_np[b] = self._reset_env(int(b))
            pa_np[b] = 0
            pr_np[b] = 0
            self.traj_infos[b] = self.TrajInfoCls()
            self.waiting[b] = False

    def close(self) -> None:
        close_envs(self.envs)


class ResetCollector(BaseCollector):
    """Resets an env as soon as its episode ends, mid-batch (rlpyt's CpuResetCollector)."""

    mid_batch_reset = True


class WaitResetCollector(BaseCollector):
    """Leaves an ended env idle until the next batch (rlpyt's CpuWaitResetCollector); see the module
    docstring for the blanks written meanwhile and ``valid_from_done``."""

    mid_batch_reset = False


class EvalCollector(_AgentStepper):
    """Runs evaluation episodes on its own envs with the agent in eval mode.

    Every env starts a fresh episode; ended envs reset at once. Stops after ``max_T`` steps per env or
    once ``max_trajectories`` episodes completed; returns the completed episodes' TrajInfos only.
    """

    def __init__(
        self,
        rank: int,
        envs: Sequence[Any],
        TrajInfoCls: Callable,
        agent: Any,
        max_T: int,
        max_trajectories: Optional[int] = None,
        env_ranks: Optional[Sequence[int]] = None,
        obs_example: Any = None,
        action_example: Any = None,
        debug: bool = False,
    ):
        self.rank = rank
        self.envs = list(envs)
        self.TrajInfoCls = TrajInfoCls
        self.agent = agent
        self.max_T = int(max_T)
        self.max_trajectories = None if max_trajectories is None else int(max_trajectories)
        B = len(self.envs)
        obs_row = map_leaves(lambda x: np.zeros((B,) + np.shape(x), dtype=np.asarray(x).dtype), obs_example)
        act = np.asarray(action_example)
        self._init_step_buffers(obs_row, np.zeros((B,) + act.shape, dtype=act.dtype))
        self.validator = StepValidator(self.envs, env_ranks, rank) if debug else None

    def collect_evaluation(self, itr: int) -> List[Any]:
        obs_np, pa_np, pr_np = self.step_np
        validator = self.validator
        traj_infos = [self.TrajInfoCls() for _ in self.envs]
        for b, env in enumerate(self.envs):
            obs_np[b] = env.reset()
        pa_np[:] = 0
        pr_np[:] = 0
        self.agent.reset()
        completed: List[Any] = []
        for t in range(self.max_T):
            action, agent_info = self._act(t, itr)
            acts = action.tolist() if action.ndim == 1 and action.dtype.kind in "iu" else action
            for b, env in enumerate(self.envs):
                a = acts[b]
                if validator is not None:
                    validator.check_action(b, a, t, f"eval {itr}", self.agent)
                step = env.step(a)
                if validator is not None:
                    validator.check_step(b, step, t, f"eval {itr}")
                o, r, term, trunc, info = step
                traj_infos[b].step(o, a, r, term, trunc, None, info)
                if term or trunc:
                    completed.append(traj_infos[b].terminate(o, term, trunc, info))
                    traj_infos[b] = self.TrajInfoCls()
                    o, a, r = env.reset(), 0, 0.0
                    self.agent.reset_one(b)
                obs_np[b] = o
                pa_np[b] = a
                pr_np[b] = r
            if self.max_trajectories is not None and len(completed) >= self.max_trajectories:
                break
        return completed[: self.max_trajectories] if self.max_trajectories is not None else completed

    def close(self) -> None:
        close_envs(self.envs)
