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
collector gets exactly what the single-env path gets from ``step`` followed by ``reset``. The collector calls
``step_into``, the same step written into its own arrays (the base class's version calls ``step``). Env infos
are not carried (the samples' ``env_info`` has no fields).
"""
from __future__ import annotations

from collections import deque, namedtuple
from typing import Any, Deque, List, Optional, Sequence, Tuple

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
    #: dtype of the rewards ``step`` returns when known (the collector then keeps them only in the samples'
    #: reward row when that row holds them exactly); None: unknown.
    reward_dtype: Optional[np.dtype] = None

    def seed(self, seeds: Sequence[int]) -> None:
        raise NotImplementedError

    def reset(self) -> np.ndarray:
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> BatchedStep:
        raise NotImplementedError

    def step_into(self, actions: np.ndarray, obs: Any, reward: np.ndarray, terminated: np.ndarray,
                  truncated: np.ndarray, done: np.ndarray) -> Optional[Tuple[List[int], Any]]:
        """:meth:`step` with its ``[B]`` results written into the given arrays (the collector passes its step
        buffer and rows of the samples buffer; ``done = terminated or truncated``). Returns None when no env
        ended, else ``(ended, final)``: the ended envs' indices, ascending, and an array whose row ``b`` is env
        ``b``'s true final observation for each ``b`` in ``ended``. This default calls :meth:`step`; a backend
        overrides it to skip the intermediate arrays."""
        o, r, te, tr, final = self.step(actions)
        obs[:] = o
        reward[:] = r
        terminated[:] = te
        truncated[:] = tr
        np.logical_or(terminated, truncated, out=done)
        if not done.any():
            return None
        return np.flatnonzero(done).tolist(), final

    def send(self, actions: np.ndarray) -> None:
        """First half of :meth:`step_into`: start the step (a backend whose envs run in their own threads, as
        EnvPool's, steps them while the caller does other work); :meth:`recv_into` finishes it. This default
        keeps the actions and steps in :meth:`recv_into`."""
        self._sent_actions = actions

    def recv_into(self, obs: Any, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                  done: np.ndarray) -> Optional[Tuple[List[int], Any]]:
        """Second half of :meth:`step_into` (after :meth:`send`): the same outputs and return value."""
        actions, self._sent_actions = self._sent_actions, None
        return self.step_into(actions, obs, reward, terminated, truncated, done)

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

    Per step (:meth:`step_into`) the actions go into a preallocated send buffer (columns first, then the ended
    envs riding along), EnvPool's result rows are written straight into the caller's arrays, and Python runs per
    column only for the columns that ended.

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
        self.reward_dtype = self._spec_dtype("reward")
        # What is sent each step: the EnvPool env behind each column (ids[:B]), then the envs that ended last
        # step (ids[B:B + n_pending], reset by EnvPool's autoreset in this call, their actions ignored).
        self._ids = np.arange(n_pool, dtype=np.int32)
        self._actions = np.zeros((n_pool,) + tuple(self.spaces.action.shape or ()), dtype=self._action_dtype)
        self._n_pending = 0
        self._sent = self._ids[:self.num_envs]  # the ids of the last send
        self._ready: Deque[Any] = deque()  # (EnvPool env id, its reset observation) of the spares, oldest first

    @property
    def _columns(self) -> np.ndarray:
        """The EnvPool env behind each column (a view)."""
        return self._ids[:self.num_envs]

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

    def _spec_dtype(self, key: str) -> Optional[np.dtype]:
        """The dtype EnvPool's spec declares for state array ``key`` (None when the spec cannot be read)."""
        try:
            return np.dtype(self.env._spec._state_spec[list(self.env._state_keys).index(key)][0])
        except (AttributeError, IndexError, TypeError, ValueError):
            return None

    def reset(self) -> np.ndarray:
        obs, info = self.env.reset()
        obs = obs[np.argsort(info["env_id"])]  # rows in env-id order
        B = self.num_envs
        self._ids[:] = np.arange(len(self._ids), dtype=np.int32)
        self._ready = deque((i, obs[i].copy()) for i in range(B, B + self.spares))
        self._n_pending = 0
        return obs[:B]

    def step(self, actions: np.ndarray) -> BatchedStep:
        B, space = self.num_envs, self.spaces.observation
        obs = np.empty((B,) + tuple(space.shape), dtype=space.dtype)
        reward = np.empty(B, dtype=np.float32)
        terminated, truncated, done = np.empty(B, dtype=bool), np.empty(B, dtype=bool), np.empty(B, dtype=bool)
        ended = self.step_into(actions, obs, reward, terminated, truncated, done)
        return BatchedStep(obs, reward, terminated, truncated, None if ended is None else ended[1][:B])

    def step_into(self, actions: np.ndarray, obs: np.ndarray, reward: np.ndarray, terminated: np.ndarray,
                  truncated: np.ndarray, done: np.ndarray) -> Optional[Tuple[List[int], np.ndarray]]:
        self.send(actions)
        return self.recv_into(obs, reward, terminated, truncated, done)

    def send(self, actions: np.ndarray) -> None:
        """Send the columns' actions, and the envs that ended last step (EnvPool resets them): EnvPool's threads
        step them while the caller goes on until :meth:`recv_into`."""
        n = self.num_envs + self._n_pending
        send_actions = self._actions
        send_actions[:self.num_envs] = actions  # the pending envs' rows: ignored by EnvPool (it resets them)
        ids = self._ids[:n]
        if self._core is not None:
            self._core[0]([ids, ids, send_actions[:n]])
        else:
            self.env.send(send_actions[:n].copy(), ids.copy())
        self._sent = ids

    def recv_into(self, obs: np.ndarray, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                  done: np.ndarray) -> Optional[Tuple[List[int], np.ndarray]]:
        B, ids, core = self.num_envs, self._sent, self._core
        n = len(ids)
        if core is not None:
            _, recv, i_obs, i_reward, i_done, i_trunc, i_id = core
            state = recv()
            o, r, d, tr, got = state[i_obs], state[i_reward], state[i_done], state[i_trunc], state[i_id]
            te = None  # terminated = done and not truncated, as EnvPool's own step computes it
        else:
            o, r, te, tr, info = self.env.recv(reset=False, return_info=True)
            got = info["env_id"]
        if got.tobytes() != ids.tobytes():  # rows come back in the order sent; never trust it blindly
            order = np.argsort(got)[np.argsort(np.argsort(ids))]
            o, r, tr = o[order], r[order], tr[order]
            d, te = (d[order], None) if te is None else (None, te[order])
        if n > B:  # reset rows: views of the array EnvPool returned (a new one per call, never written again)
            self._ready.extend(zip(ids[B:].tolist(), o[B:]))
            self._n_pending = 0
        reward[:] = r[:B]
        truncated[:] = tr[:B]
        if te is None:
            np.greater(d[:B], truncated, out=terminated)  # bools: d > t is d and not t
        else:
            terminated[:] = te[:B]
        np.logical_or(terminated, truncated, out=done)
        obs[:] = o[:B]
        ended = done.nonzero()[0]
        if not len(ended):
            return None
        ended = ended.tolist()
        self._restart(ended, obs)
        return ended, o  # o: the true final observations, row b for column b

    def _restart(self, ended: List[int], obs: np.ndarray) -> None:
        """Columns ``ended`` go on from spares' reset observations (written into ``obs``); their ended envs are
        reset by EnvPool at the next step. Columns left without a spare are reset now, in a second call."""
        ready, ids, B = self._ready, self._ids, self.num_envs
        n = min(len(ended), len(ready))
        for k, b in enumerate(ended[:n]):
            ids[B + k] = ids[b]
            ids[b], obs[b] = ready.popleft()
        self._n_pending = n
        late = ended[n:]
        if late:
            reset_obs, info = self.env.reset(ids[late])
            where = {int(e): row for row, e in enumerate(info["env_id"])}
            for b in late:
                obs[b] = reset_obs[where[int(ids[b])]]

    def close(self) -> None:
        self.env.close()
