"""The collector and the shape checks for batched env backends (``rlframe.envs.vector``).

:class:`BatchedResetCollector` is :class:`~rlframe.samplers.collectors.ResetCollector` for one
:class:`~rlframe.envs.vector.BatchedEnv` of ``B`` envs: one step of the whole batch per time step, split in
``env.send(actions)`` and ``env.recv_into(...)``, which writes the ``[B]`` results straight into row ``t`` of
the ``[T, B]`` samples buffer; between the two, while a threaded backend (EnvPool) steps, the collector writes
step ``t``'s observation and action rows and finishes the previous step's episode bookkeeping. What it
writes is what ``ResetCollector`` writes for ``B`` single envs (tests/samplers/test_batched.py compares
them field by field): ended envs restart at once with zero ``prev_action``/``prev_reward``,
``terminated``/``truncated``/``done`` per step, the true final observation in ``final_observation``,
V(final observation) in ``timeout_value`` on truncation and the agent's per-env state reset. Only
mid-batch reset exists for batched envs (they autoreset); env infos are not carried.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import torch

from rlframe.envs.base import EnvStep
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.samplers.base import EpisodeStats
from rlframe.samplers.checks import EnvExample, check_eval_env, probe_env
from rlframe.samplers.collectors import ResetCollector, close_envs
from rlframe.core.namedarraytuple import namedarraytuple

NoEnvInfo = namedarraytuple("NoEnvInfo", [])
_NO_INFO = NoEnvInfo()


class _RowView:
    """A single env seen through row ``b`` of a batched env's reset and step outputs, so that the
    single-env probe (``samplers.checks.probe_env``) checks the batched env's values."""

    def __init__(self, env: Any, b: int = 0):
        self.env, self.b, self.id, self.spaces = env, b, env.id, env.spaces
        self._actions: Optional[np.ndarray] = None

    def reset(self) -> Any:
        obs = self.env.reset()
        _check_batch(self.env, "reset() observation", obs)
        return obs[self.b]

    def step(self, action: Any) -> EnvStep:
        actions = np.stack([np.asarray(action)] + [np.asarray(self.spaces.action.sample())
                                                   for _ in range(self.env.num_envs - 1)])
        o, r, te, tr, final = self.env.step(actions)
        for name, value in (("step() observation", o), ("reward", r), ("terminated", te), ("truncated", tr)):
            _check_batch(self.env, name, value)
        done = bool(te[self.b] or tr[self.b])
        obs = final[self.b] if done and final is not None else o[self.b]
        return EnvStep(obs, float(r[self.b]), bool(te[self.b]), bool(tr[self.b]), _NO_INFO)


def _check_batch(env: Any, name: str, value: Any) -> None:
    lead = np.shape(value)[:1]
    if lead != (env.num_envs,):
        raise ShapeMismatchError(
            f"batched env '{env.id}'", name, f"leading dim ({env.num_envs},) (num_envs)", np.shape(value),
            hint="a BatchedEnv returns one row per env from reset() and step() (rlframe.envs.vector).",
        )


def probe_batched_env(env: Any, label: str = "train env") -> EnvExample:
    """The single-env probe (``samplers.checks.probe_env``) on env 0 of a batched env, after checking that
    every reset/step output has one row per env."""
    return probe_env(_RowView(env), label)


def make_batched_env(sampler: Any, seeds: Any) -> Any:
    """The sampler's batched env, ``EnvCls(num_envs=len(seeds), **env_kwargs)``, seeded with ``seeds``; the
    sampler's options that only single envs support are refused with what to change."""
    if sampler.CollectorCls is not None and not issubclass(sampler.CollectorCls, BatchedResetCollector):
        raise ConfigError(
            f"CollectorCls={sampler.CollectorCls.__name__} steps single envs; a batched env backend autoresets "
            "mid-batch and uses BatchedResetCollector: pass CollectorCls=None.")
    env = sampler.EnvCls(num_envs=len(seeds), **sampler.env_kwargs)
    env.seed(list(seeds))
    return env


def make_batched_eval_envs(env: Any, seeds: Any) -> List[Any]:
    """Single eval envs (``env.make_eval_env()``, seeded with ``seeds``): evaluation runs episode by episode in
    the :class:`~rlframe.samplers.collectors.EvalCollector`, as with single-env backends. The first one is
    checked (same spaces as ``env``, probed) and re-seeded after its probe."""
    envs: List[Any] = []
    try:
        for s in seeds:
            envs.append(env.make_eval_env())
            envs[-1].seed(int(s))
        if envs:
            check_eval_env(env, envs[0])
            envs[0].seed(int(seeds[0]))
    except BaseException:
        close_envs(envs)
        raise
    return envs


class BatchedResetCollector(ResetCollector):
    """Collects ``[T, B]`` batches from one batched env (``envs=[batched_env]``); see the module docstring."""

    def __init__(self, rank: int, envs: Any, samples_np: Any, batch_T: int, *args: Any, **kwargs: Any):
        if len(envs) != 1:
            raise ConfigError(f"BatchedResetCollector steps one batched env, got {len(envs)} envs.")
        self.benv = envs[0]
        B = self.benv.num_envs
        self.env_rows = [_RowView(self.benv, b) for b in range(B)]  # B "envs" for the base class's sizes
        super().__init__(rank, self.env_rows, samples_np, batch_T, *args, **kwargs)
        reward_dtype = self.benv.reward_dtype
        exact = reward_dtype is not None and np.can_cast(reward_dtype, samples_np.env.reward.dtype, "safe")
        self._env_rewards = None if exact else np.zeros(B, dtype=np.float64)
        if self.debug:
            raise ConfigError("debug=True validates single envs step by step; use GymEnv (EnvCls) to debug, then "
                              "switch to the batched backend.")

    def start_envs(self, max_decorrelation_steps: int = 0, rng: Optional[np.random.Generator] = None) -> List[Any]:
        """Reset the batch; then, when ``max_decorrelation_steps > 0``, step the whole batch a random number of
        random-action steps in ``[0, max_decorrelation_steps]`` (episodes completed meanwhile are dropped)."""
        rng = rng if rng is not None else np.random.default_rng()
        obs_np, pa_np, pr_np = self.step_np
        o = self.benv.reset()
        pa_np[:] = 0
        pr_np[:] = 0
        self.traj_infos = [self.TrajInfoCls() for _ in self.env_rows]
        n = int(rng.integers(0, max_decorrelation_steps + 1)) if max_decorrelation_steps > 0 else 0
        space = self.benv.spaces.action
        for _ in range(n):
            a = np.stack([np.asarray(space.sample()) for _ in self.env_rows])
            o, r, te, tr, _ = self.benv.step(a)
            ended = te | tr
            pa_np[:] = a
            pr_np[:] = r
            pa_np[ended] = 0
            pr_np[ended] = 0
            for b in np.flatnonzero(ended):
                self.traj_infos[b] = self.TrajInfoCls()
            for b in np.flatnonzero(~ended):
                self.traj_infos[b].step(None, a[b], r[b], False, False, None, None)
        obs_np[:] = o
        return list(self.traj_infos)

    def _reset_env(self, b: int) -> Any:
        raise AssertionError("batched envs reset themselves inside step()")

    def restart_envs(self, idxs: Sequence[int]) -> None:
        """A batched env resets as a whole: every row starts a new episode (the agent's state is reset)."""
        obs_np, pa_np, pr_np = self.step_np
        obs_np[:] = self.benv.reset()
        pa_np[:] = 0
        pr_np[:] = 0
        self.traj_infos = [self.TrajInfoCls() for _ in self.env_rows]
        if self.agent is not None:
            self.agent.reset()

    def collect_batch(self, itr: int) -> List[Any]:
        """Fill the samples slice with ``batch_T`` steps of the batch; return completed TrajInfos."""
        self._itr = itr
        with torch.no_grad():  # once per batch: the agent's calls below need no autograd
            return self._collect(itr)

    def _collect(self, itr: int) -> List[Any]:
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        obs_np, pa_np, pr_np = self.step_np
        # Locals for everything used per time step (attribute lookups cost ~20-40 ns each).
        send, recv_into, act, agent = self.benv.send, self.benv.recv_into, self._act, self.agent
        obs_buf, prev_action_buf, prev_reward_buf = env_buf.observation, agent_buf.prev_action, env_buf.prev_reward
        action_buf, agent_info_buf, reward_buf = agent_buf.action, agent_buf.agent_info, env_buf.reward
        term_buf, trunc_buf, done_buf = env_buf.terminated, env_buf.truncated, env_buf.done
        timeout_buf = env_buf.timeout_value
        traj_infos, full_traj, has_value = self.traj_infos, self._full_traj_step, self._has_value
        # The env writes its rewards straight into the reward row when that row holds them exactly (the episode
        # statistics then read the row); otherwise into a float64 row that is copied into the buffer.
        env_rewards = self._env_rewards
        stats = None if full_traj else EpisodeStats(traj_infos)
        timeout_buf.fill(0)
        if self._final_obs_written:
            self._clear_final_observations()
        completed: List[Any] = []
        last = None  # the previous step's episode bookkeeping, done while the env steps (between send and recv)
        for t in range(self.batch_T):
            action, agent_info = act(t, itr)
            send(action)
            obs_buf[t] = obs_np
            prev_action_buf[t] = pa_np
            prev_reward_buf[t] = pr_np
            action_buf[t] = action
            pa_np[:] = action  # the agent's next input (rows of ended envs are zeroed after recv_into)
            if agent_info is not None:
                agent_info_buf[t] = agent_info
            if last is not None:
                self._end_step(stats, completed, *last)
            r_row, te, tr = reward_buf[t], term_buf[t], trunc_buf[t]
            r = r_row if env_rewards is None else env_rewards
            ended_final = recv_into(obs_np, r, te, tr, done_buf[t])  # obs_np: reset rows where ended
            if env_rewards is not None:
                r_row[:] = r
            pr_np[:] = r_row
            if stats is None:
                self._traj_steps(obs_np, r, te, tr, ended_final, action, agent_info)
            last = (t, r, te, tr, ended_final)
            if ended_final is None:
                continue
            ended, final = ended_final
            if has_value:  # V(true final observation) of the truncated episodes, before their reset rows are used
                trunc_ended = [b for b in ended if tr[b] and not te[b]]
                if trunc_ended:
                    reset_rows = obs_np[trunc_ended]
                    obs_np[trunc_ended] = final[trunc_ended]
                    timeout_buf[t, trunc_ended] = self._value(trunc_ended)
                    obs_np[trunc_ended] = reset_rows
            for b in ended:  # one or two envs a step: scalar stores beat a fancy-indexed one
                pa_np[b] = 0
                pr_np[b] = 0
                if agent is not None:
                    agent.reset_one(b)
        if last is not None:
            self._end_step(stats, completed, *last)
        if stats is not None:
            for b, traj in enumerate(traj_infos):
                stats.store(b, traj)
        if self.bootstrap_value:
            agent_buf.bootstrap_value[0] = self._value(None) if has_value else 0
        return completed

    def _end_step(self, stats: Optional[EpisodeStats], completed: List[Any], t: int, r: np.ndarray, te: np.ndarray,
                  tr: np.ndarray, ended_final: Any) -> None:
        """Step ``t``'s episode statistics and ended episodes (``completed`` gets their TrajInfos, new ones start;
        the final observations go into the samples), in step order; nothing here is read by the agent."""
        if stats is not None:
            stats.step(r)
        if ended_final is None:
            return
        ended, final = ended_final
        traj_infos, NewTrajInfo = self.traj_infos, self.TrajInfoCls
        for b in ended:
            traj = traj_infos[b]
            if stats is not None:
                stats.store(b, traj)
            completed.append(traj.terminate(final[b], bool(te[b]), bool(tr[b]), _NO_INFO))
            traj_infos[b] = NewTrajInfo()
            if stats is not None:
                stats.load(b, traj_infos[b])
        if self._final_obs is not None:  # the true final observations
            self._final_obs[t, ended] = final[ended]
            self._final_obs_written.extend((t, b) for b in ended)

    def _traj_steps(self, o: Any, r: Any, te: Any, tr: Any, ended_final: Any, action: Any, agent_info: Any) -> None:
        """``TrajInfo.step`` of a subclass that overrides it, env by env, with what single envs give it (``o``:
        the observations after the step, reset rows where an env ended; ``ended_final``: ``step_into``'s)."""
        rewards, terms, truncs = np.asarray(r).tolist(), te.tolist(), tr.tolist()
        acts = action.tolist() if action.ndim == 1 else action
        ended, final = ended_final if ended_final is not None else ((), None)
        for b, traj in enumerate(self.traj_infos):
            obs = final[b] if b in ended else o[b]
            traj.step(obs, acts[b], rewards[b], terms[b], truncs[b], None if agent_info is None else agent_info[b],
                      None)
