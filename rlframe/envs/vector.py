"""Batched env backends: ``B`` envs stepped in one call (gymnasium vector envs, EnvPool).

The single-env contract (``rlframe.envs.base``) costs one Python call per env and per step; for cheap
envs that call is most of the time. A :class:`BatchedEnv` steps its whole batch in one call and returns
``[B]`` arrays, which the batched collector (``rlframe.samplers.batched``) writes straight into the
``[T, B]`` samples buffer. Two backends:

- :class:`GymVectorEnv`: a ``gymnasium.vector.VectorEnv`` (built from an id with ``gymnasium.make_vec``,
  or one you built, in ``AutoresetMode.SAME_STEP``);
- :class:`EnvPoolEnv`: an EnvPool env (Weng et al., 2022, "EnvPool: A Highly Parallel Reinforcement
  Learning Environment Execution Engine"), C++ envs stepped by its own threads (``pip install envpool``,
  the ``envpool`` extra).

Contract (what the batched collector relies on): ``num_envs``, ``spaces`` (the *single* env's spaces),
``id``, ``seed(seeds)`` (one seed per env, used by the next ``reset``), ``reset() -> obs [B]``,
``step(actions [B]) -> BatchedStep`` and ``close()``. ``step`` resets the envs whose episode ended *in the
same call* (gymnasium's ``SAME_STEP`` autoreset): ``observation[b]`` is then the reset observation and
``final_observation[b]`` the true final one (rows of envs that did not end are unspecified), so the
collector gets exactly what the single-env path gets from ``step`` followed by ``reset``. Env infos are not
carried (the samples' ``env_info`` has no fields).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, List, Optional, Sequence

import gymnasium as gym
import numpy as np

from rlframe.envs.base import EnvSpaces
from rlframe.errors import ConfigError

BatchedStep = namedtuple("BatchedStep", ["observation", "reward", "terminated", "truncated", "final_observation"])
BatchedStep.__doc__ = ("One step of a batched env: ``[B]`` arrays (float32 reward, bool flags); envs that ended "
                       "are already reset in ``observation`` and their true final observation is in "
                       "``final_observation``.")


class BatchedEnv:
    """Base class of batched env backends (see the module docstring for the contract).

    Samplers recognise a batched backend by ``EnvCls`` being a subclass of this class; they construct it
    as ``EnvCls(num_envs=B, **env_kwargs)``.
    """

    id: str = "batched env"
    num_envs: int
    spaces: EnvSpaces

    def seed(self, seeds: Sequence[int]) -> None:
        raise NotImplementedError

    def reset(self) -> np.ndarray:
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> BatchedStep:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def make_eval_env(self) -> Any:
        """One single env equivalent to an env of the batch, for evaluation (``GymEnv(self.id)``: EnvPool and
        gymnasium vector envs use gymnasium's ids). Samplers build their eval envs with it."""
        from rlframe.envs.gym import GymEnv

        return GymEnv(self.id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, num_envs={self.num_envs})"


def is_batched_env_class(EnvCls: Any) -> bool:
    """True when ``EnvCls`` (a class or a ``functools.partial`` of one) builds a :class:`BatchedEnv`."""
    cls = getattr(EnvCls, "func", EnvCls)
    return isinstance(cls, type) and issubclass(cls, BatchedEnv)


def _discrete_actions(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Discrete)


class GymVectorEnv(BatchedEnv):
    """A gymnasium vector env as a :class:`BatchedEnv`.

    Args:
        id: gymnasium id, built with ``gymnasium.make_vec(id, num_envs, vectorization_mode, ...)`` in
            ``SAME_STEP`` autoreset mode (extra keyword arguments go to ``make_vec`` as env kwargs).
        num_envs: batch size ``B``.
        vectorization_mode: ``"sync"`` (one process, gymnasium's ``SyncVectorEnv``) or ``"async"``.
        env: instead of ``id``, a ``gymnasium.vector.VectorEnv`` built by you with
            ``autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP`` and ``num_envs`` envs.
    """

    def __init__(self, id: Optional[str] = None, num_envs: int = 1, vectorization_mode: str = "sync",
                 env: Optional[gym.vector.VectorEnv] = None, **kwargs: Any):
        from gymnasium.vector import AutoresetMode

        if env is None:
            if id is None:
                raise ConfigError("GymVectorEnv needs an env id (id='CartPole-v1') or a built vector env (env=...).")
            env = gym.make_vec(id, num_envs=int(num_envs), vectorization_mode=vectorization_mode,
                               vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs)
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            env.close()
            raise ConfigError(
                f"GymVectorEnv: the vector env autoresets in mode {mode}, but samplers need the final observation "
                "and the reset observation of the same step: build it with "
                "autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP (e.g. "
                "gymnasium.make_vec(id, n, vector_kwargs={'autoreset_mode': AutoresetMode.SAME_STEP}))."
            )
        if env.num_envs != int(num_envs):
            env.close()
            raise ConfigError(f"GymVectorEnv: the vector env has {env.num_envs} envs but the sampler asked for "
                              f"{num_envs} (batch_B per process): build it with that many envs.")
        self.env = env
        self.id = str(id or getattr(env.spec, "id", None) or type(env).__name__)
        self.num_envs = int(num_envs)
        self.spaces = EnvSpaces(observation=env.single_observation_space, action=env.single_action_space)
        self._int_actions = _discrete_actions(env.single_action_space)
        self._pending_seeds: Optional[List[int]] = None

    def seed(self, seeds: Sequence[int]) -> None:
        self._pending_seeds = [int(s) for s in seeds]
        self.spaces.action.seed(self._pending_seeds[0])

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self._pending_seeds)
        self._pending_seeds = None
        return obs

    def step(self, actions: np.ndarray) -> BatchedStep:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        final = None
        mask = info.get("_final_obs")
        if mask is not None and mask.any():
            final = np.zeros_like(obs)
            for b in np.flatnonzero(mask):
                final[b] = info["final_obs"][b]
        return BatchedStep(obs, reward, terminated, truncated, final)

    def close(self) -> None:
        self.env.close()


class EnvPoolEnv(BatchedEnv):
    """An EnvPool env (``envpool.make_gymnasium(id, num_envs=B + spares, seed=..., **kwargs)``) as a :class:`BatchedEnv`.

    EnvPool autoresets an ended env at its *next* step (that step's action is ignored and it returns the reset
    observation), but the collector needs the reset observation of an ended env before the agent acts again.
    Resetting the ended envs in a second call (``reset(env_ids)``) costs a round trip through EnvPool's threads on
    most CartPole steps, about a third of EnvPool's rate. Instead the pool holds ``spares`` extra envs that are
    already reset: when the env behind column ``b`` ends, column ``b`` goes on at once from a spare's reset
    observation, and the ended env is sent along with the next step, where EnvPool's own autoreset makes it a
    spare again. So a step is one EnvPool call, as in EnvPool's own loop; only when more envs end in one step
    than spares are ready are the rest reset in a second call. Columns therefore do not keep one EnvPool env:
    every episode still starts from a fresh reset of an env seeded from ``seed`` (EnvPool seeds env ``i`` with
    ``seed + i``), and ``final_observation`` is the true last observation of the ended episode.

    Args:
        id: EnvPool task id (``"CartPole-v1"``, ``"HalfCheetah-v5"``, Atari ``"Pong-v5"``, ...).
        num_envs: batch size ``B``.
        seed: base seed (:meth:`seed` rebuilds the pool with the first seed given when it differs).
        spares: extra envs kept reset (default ``max(1, B // 4)``; 0: reset ended envs in a second call).
        direct_calls: step through EnvPool's C++ ``_send``/``_recv`` (what its Python ``step`` wraps) when the env
            takes one action array and returns one observation array: EnvPool's Python layer converts actions
            and builds dicts on every call (~15-20% of a 32-env CartPole step); the values are the same
            (tests/envs/test_vector.py). False, or an env of another layout: EnvPool's public ``step``.
        **kwargs: passed to ``envpool.make_gymnasium`` (e.g. ``num_threads``).
    """

    def __init__(self, id: str, num_envs: int = 1, seed: int = 0, spares: Optional[int] = None,
                 direct_calls: bool = True, **kwargs: Any):
        try:
            import envpool
        except ImportError as e:
            raise ConfigError("EnvPoolEnv needs EnvPool: pip install envpool (or rlframe[envpool]); it ships "
                              "Linux wheels for CPython 3.8-3.12.") from e
        self.id, self.num_envs, self._seed = str(id), int(num_envs), int(seed)
        self.spares = max(1, self.num_envs // 4) if spares is None else int(spares)
        if self.spares < 0:
            raise ConfigError(f"EnvPoolEnv: spares={spares} must be >= 0 (extra envs kept reset; 0 for none).")
        n_pool = self.num_envs + self.spares
        self._make = lambda s: envpool.make_gymnasium(id, num_envs=n_pool, seed=int(s), **kwargs)
        self.env = self._make(self._seed)
        self.spaces = EnvSpaces(observation=self.env.observation_space, action=self.env.action_space)
        self._action_dtype = np.int32 if _discrete_actions(self.spaces.action) else self.spaces.action.dtype
        self._direct_calls = bool(direct_calls)
        self._core = self._bind_core()
        self._columns = np.arange(self.num_envs, dtype=np.int32)  # the EnvPool env behind each column
        self._ready: List[Any] = []  # (EnvPool env id, its reset observation) of the spares, oldest first
        self._pending = np.zeros(0, dtype=np.int32)  # envs that ended last step: EnvPool resets them next step

    def seed(self, seeds: Sequence[int]) -> None:
        first = int(seeds[0]) % (2 ** 31)
        self.env.close()
        self._seed, self.env = first, self._make(first)
        self._core = self._bind_core()
        self.spaces.action.seed(first)

    def _bind_core(self) -> Optional[Any]:
        """``(send, recv, obs, reward, done, trunc, env_id)``: EnvPool's C++ calls and the positions of those
        state arrays, when the env has the plain layout (actions ``env_id, players.env_id, action`` of the action
        dtype used here, one player, one observation array); None otherwise (the public ``step`` is used)."""
        env = self.env
        if not self._direct_calls:
            return None
        try:
            action_keys, state_keys = list(env._spec._action_keys), list(env._state_keys)
            action_dtype = np.dtype(env._spec._action_spec[-1][0])
            send, recv = env._send, env._recv
        except (AttributeError, IndexError, TypeError):
            return None
        needed = ("obs", "reward", "done", "trunc", "info:env_id")
        if (action_keys != ["env_id", "players.env_id", "action"] or action_dtype != np.dtype(self._action_dtype)
                or not all(k in state_keys for k in needed) or env.config.get("max_num_players", 1) != 1):
            return None
        return (send, recv) + tuple(state_keys.index(k) for k in needed)

    def reset(self) -> np.ndarray:
        obs, info = self.env.reset()
        obs = obs[np.argsort(info["env_id"])]  # rows in env-id order
        B = self.num_envs
        self._columns = np.arange(B, dtype=np.int32)
        self._ready = [(i, obs[i].copy()) for i in range(B, B + self.spares)]
        self._pending = np.zeros(0, dtype=np.int32)
        return obs[:B]

    def step(self, actions: np.ndarray) -> BatchedStep:
        actions = np.asarray(actions, dtype=self._action_dtype)
        B, pending = self.num_envs, self._pending
        ids = self._columns
        if len(pending):  # their action is ignored: EnvPool resets them in this call
            ids = np.concatenate([ids, pending])
            actions = np.concatenate([actions, np.zeros((len(pending),) + actions.shape[1:], actions.dtype)])
        core = self._core
        if core is not None:
            send, recv, i_obs, i_reward, i_done, i_trunc, i_id = core
            send([ids, ids, np.ascontiguousarray(actions)])
            state = recv()
            obs, reward, truncated, got = state[i_obs], state[i_reward], state[i_trunc], state[i_id]
            terminated = state[i_done] & ~truncated  # as EnvPool's own step: done = terminated or truncated
        else:
            obs, reward, terminated, truncated, info = self.env.step(actions, ids)
            got = info["env_id"]
        if not (got == ids).all():  # rows come back in the order sent; never trust it blindly
            order = np.argsort(got)[np.argsort(np.argsort(ids))]
            obs, reward, terminated, truncated = obs[order], reward[order], terminated[order], truncated[order]
        if len(pending):
            self._ready.extend(zip(pending.tolist(), obs[B:].copy()))
            obs, reward, terminated, truncated = obs[:B], reward[:B], terminated[:B], truncated[:B]
            self._pending = np.zeros(0, dtype=np.int32)
        done = terminated | truncated
        final = None
        if done.any():
            final = obs.copy()
            self._restart(np.flatnonzero(done).tolist(), obs)
        return BatchedStep(obs, reward, terminated, truncated, final)

    def _restart(self, ended: List[int], obs: np.ndarray) -> None:
        """Columns ``ended`` go on from spares' reset observations (written into ``obs``); their ended envs are
        reset by EnvPool at the next step. Columns left without a spare are reset now, in a second call."""
        ready, columns = self._ready, self._columns
        n = min(len(ended), len(ready))
        self._pending = columns[ended[:n]].copy()
        for b in ended[:n]:
            columns[b], obs[b] = ready.pop(0)
        late = ended[n:]
        if late:
            reset_obs, info = self.env.reset(columns[late])
            where = {int(e): row for row, e in enumerate(info["env_id"])}
            for b in late:
                obs[b] = reset_obs[where[int(columns[b])]]

    def close(self) -> None:
        self.env.close()
