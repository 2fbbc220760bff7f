"""``GymEnv``: any gymnasium env behind rlframe's env contract (``rlframe.envs.base``).

rlpyt wrapped gym envs in ``GymEnvWrapper`` so that samplers could write observations and env infos
into preallocated ``[T, B]`` buffers (Stooke & Abbeel, 2019). This is the gymnasium-1.x version:

- ``GymEnv("CartPole-v1")`` or ``GymEnv("my_pkg.envs:MyEnv-v0")`` (gymnasium imports ``my_pkg.envs``
  first, whose import registers the id); extra keyword arguments go to ``gymnasium.make``.
- ``reset()`` returns the observation only; ``step(action)`` returns an :class:`EnvStep` with
  ``terminated`` and ``truncated`` kept apart. It never auto-resets: after ``terminated`` or
  ``truncated`` the observation is the true final one (collectors bootstrap from it on truncation).
- Dict/Tuple observations become namedarraytuples (``core.specs.to_structured``).
- The env info becomes a namedtuple with **fixed fields**, taken from the first ``step`` info: numeric
  values only (numbers, numpy scalars/arrays of bool/int/float); later missing keys are filled with
  zeros, unknown extra keys and non-numeric values are dropped. So envs should emit every info key
  from the first step on (e.g. a placement cost as 0 until the episode ends).
- Actions are converted at the boundary (a ``Discrete`` action becomes a Python ``int``: feeding
  ``np.int64`` made CartPole 40% slower per step, REFERENCES.md). ``Box`` actions are clipped to the
  space's bounds here (``clip_actions=True``), so Gaussian agents keep the unclipped sample for their
  log-probabilities, as in SB3.
- Seeding: ``seed(s)`` (or ``GymEnv(id, seed=s)``) stores a seed used by the next ``reset`` and seeds
  the action space; samplers give every env a distinct seed from ``core.seeding.env_seeds``.
- ``action_masks()`` is present exactly when the underlying env (or a wrapper) has it.
- gymnasium's usage-checking wrappers (``OrderEnforcing``: step before reset; ``PassiveEnvChecker``:
  first-call API checks, already run on the spaces by ``gymnasium.make``) are taken out of the wrapper
  chain: rlframe's collectors always reset first and its probe checks every value against the spaces
  (``samplers/checks.py``), and the two wrappers cost ~0.7 µs per CartPole step (~10% of the step).
- A ``Discrete`` action space of the env gets a ``contains`` that answers for Python ints directly
  (:func:`fast_discrete_check`: the same answers, ~2-3 µs less per CartPole step, whose ``step`` checks every
  action with it). ``lean_stack`` is both steps; benchmarks use it for the ceiling of GymEnv's own stepping.
- Exact resume: ``get_state()`` pickles the gymnasium env with its wrappers (simulator state, ``np_random``,
  the ``TimeLimit`` step count, the action space's generator); ``set_state`` swaps that env in. Classic-control
  envs pickle; an env that does not (e.g. one holding a native simulator handle) raises ``EnvStateError``
  and the sampler resets it on resume, with a warning naming it (``rlframe.envs.base.Env``).
"""
from __future__ import annotations

import functools
import importlib
import pickle
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from rlframe.core.namedarraytuple import RESERVED, namedarraytuple
from rlframe.core.specs import check_flag, field_name, spec_from_space, to_structured
from rlframe.envs.base import EPISODE_METRICS_KEY, Env, EnvSpaces, EnvStep, EpisodeMetrics, pickle_state
from rlframe.errors import ConfigError

_NUMERIC_KINDS = frozenset("biuf")
_NO_INFO: Dict[str, Any] = {}
_tuple_new = tuple.__new__  # builds a namedtuple from a tuple/list without its Python-level __new__


def _is_numeric(v: Any) -> bool:
    if isinstance(v, (bool, int, float, np.bool_, np.number)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in _NUMERIC_KINDS


def _info_field_name(key: Any) -> str:
    name = field_name(key)
    if name.startswith("_"):
        name = "f" + name
    if name in RESERVED:
        name = "f_" + name
    return name


def _zero_like(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return np.zeros_like(v)
    if isinstance(v, (bool, np.bool_)):
        return False
    return type(v)(0)


_USAGE_CHECKS = (gym.wrappers.OrderEnforcing, gym.wrappers.PassiveEnvChecker)


def without_usage_checks(env: gym.Env) -> gym.Env:
    """``env`` with gymnasium's ``OrderEnforcing`` and ``PassiveEnvChecker`` wrappers removed from its chain
    (every other wrapper, e.g. ``TimeLimit``, kept in order)."""
    if isinstance(env, _USAGE_CHECKS):
        return without_usage_checks(env.env)
    if isinstance(env, gym.Wrapper):
        env.env = without_usage_checks(env.env)
    return env


def _discrete_contains(space: gym.spaces.Discrete, start: int, stop: int, x: Any) -> bool:
    """``Discrete.contains(space, x)``, with the answer for a Python ``int`` computed directly."""
    if x.__class__ is int:
        return start <= x < stop
    return gym.spaces.Discrete.contains(space, x)


def fast_discrete_check(env: gym.Env) -> None:
    """Give the unwrapped env's ``Discrete`` action space a ``contains`` with a fast path for Python ints.

    Many envs check every action (CartPole's ``step`` starts with ``assert self.action_space.contains(action)``);
    gymnasium 1.x's ``Discrete.contains`` builds ``np.iinfo`` and a numpy scalar for an ``int``, ~2.3 µs of a
    ~6.5 µs CartPole step. For a Python ``int`` (what ``GymEnv`` passes for ``Discrete`` actions) the answer is
    ``start <= x < start + n`` exactly (gymnasium's range and cast checks cannot fail for a value in that range
    of the space's own dtype); anything else (numpy integers, ``bool``) goes to ``Discrete.contains``. Set as an
    attribute of that space object only (a ``functools.partial`` of a module function: it pickles), only for a
    space whose class is exactly ``gymnasium.spaces.Discrete`` and whose range fits its dtype; nothing else is
    touched. Idempotent.
    """
    space = getattr(env.unwrapped, "action_space", None)
    if type(space) is not gym.spaces.Discrete or not np.issubdtype(space.dtype, np.integer):
        return
    start, n, limits = int(space.start), int(space.n), np.iinfo(space.dtype)
    if limits.min <= start and start + n - 1 <= limits.max:
        space.contains = functools.partial(_discrete_contains, space, start, start + n)


def lean_stack(env: gym.Env) -> gym.Env:
    """What ``GymEnv`` steps of a ``gymnasium.make`` env: :func:`without_usage_checks` and
    :func:`fast_discrete_check` (the same results, ~3 µs less per CartPole step)."""
    env = without_usage_checks(env)
    fast_discrete_check(env)
    return env


class EnvInfoConverter:
    """Turns gymnasium info dicts into namedarraytuples with the fields fixed by the first info seen.

    Shared by :class:`GymEnv` and any env that wants the same behaviour. ``fields`` is empty until
    :meth:`__call__` has seen one info dict (or :meth:`fix` was called). When the fixed fields are none
    (CartPole and most control envs) every call returns the same empty instance: no work per step.
    """

    def __init__(self, typename: str = "EnvInfo"):
        self.typename = typename
        self.cls: Optional[type] = None
        self.keys: List[Any] = []
        self.defaults: List[Any] = []
        self._pairs: List[Tuple[Any, Any]] = []
        self._empty: Any = None  # the one (immutable) instance when there are no fields

    def fix(self, info: Dict[str, Any]) -> None:
        keys, names, defaults = [], [], []
        for k, v in info.items():
            if not _is_numeric(v):
                continue
            name = _info_field_name(k)
            if name in names:  # two keys that sanitise to the same identifier: keep the first
                continue
            keys.append(k)
            names.append(name)
            defaults.append(_zero_like(v))
        self.keys, self.defaults = keys, defaults
        self._pairs = list(zip(keys, defaults))
        self.cls = namedarraytuple(self.typename, names)
        # An empty namedtuple holds nothing: one shared instance serves every step (no per-step allocation).
        self._empty = None if keys else self.cls()

    def __call__(self, info: Optional[Dict[str, Any]]) -> Any:
        empty = self._empty
        if empty is not None:  # hot path for envs whose info has no numeric fields (CartPole)
            return empty
        if self.cls is None:
            self.fix(info or {})
            if self._empty is not None:
                return self._empty
        get = info.get if info else _NO_INFO.get
        return _tuple_new(self.cls, [get(k, d) for k, d in self._pairs])

    @property
    def fields(self) -> Tuple[str, ...]:
        return tuple(self.cls._fields) if self.cls is not None else ()

    @property
    def empty(self) -> Any:
        """The one env info every call returns once the fields are fixed as none; None otherwise."""
        return self._empty


class GymEnv(Env):
    """A gymnasium env (``gymnasium.make(id, **kwargs)``) following rlframe's env contract.

    Args:
        id: a registered gymnasium id, or ``"module:EnvId"`` to import ``module`` first.
        seed: optional seed for the first ``reset`` (samplers call :meth:`seed` instead).
        clip_actions: clip ``Box`` actions to the action space's bounds before ``env.step``.
        wrappers: functions ``env -> wrapped env`` applied in order after ``gymnasium.make`` (picklable, e.g.
            module-level functions or ``functools.partial`` of them, for parallel samplers).
        **kwargs: passed to ``gymnasium.make`` (``max_episode_steps``, ``render_mode``, env kwargs).

    Attributes:
        id: the id given (used in every error message about this env).
        spaces: :class:`EnvSpaces` of the gymnasium observation and action spaces.
        env: the underlying gymnasium env (with gymnasium's wrappers, e.g. ``TimeLimit``).
    """

    def __init__(self, id: str, seed: Optional[int] = None, clip_actions: bool = True,
                 wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (), **kwargs: Any):
        self.id = str(id)
        try:
            self.env = gym.make(id, **kwargs)
        except gym.error.UnregisteredEnv as e:  # unknown id, name, version or namespace
            raise ConfigError(
                f"env id {self.id!r} is not registered with gymnasium ({e}). Check the spelling and version "
                "(the scripts' --env flag, GymEnv(id=...)); for your own env, use 'module:EnvId' so that the module "
                "registering it is imported first."
            ) from None
        except ModuleNotFoundError as e:
            if ":" not in self.id:
                raise
            module = self.id.split(":", 1)[0]
            raise ConfigError(
                f"env id {self.id!r}: cannot import module {module!r} ({e}). Make it importable: run from the "
                f"folder that holds {module.replace('.', '/')}.py, add that folder to PYTHONPATH, or install "
                "the package that provides it."
            ) from e
        self.env = lean_stack(self.env)
        for wrap in wrappers:
            self.env = wrap(self.env)
        self.spaces = EnvSpaces(observation=self.env.observation_space, action=self.env.action_space)
        self._obs_spec = spec_from_space(self.env.observation_space)
        self._structured_obs = not hasattr(self._obs_spec, "shape")
        act = self.env.action_space
        if isinstance(act, gym.spaces.Discrete):
            self._convert_action = int
        elif isinstance(act, gym.spaces.Box) and clip_actions and act.is_bounded("both"):
            low, high, dtype = act.low, act.high, act.dtype
            self._convert_action = lambda a: np.clip(np.asarray(a, dtype=dtype), low, high)
        elif isinstance(act, (gym.spaces.Box, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
            dtype = act.dtype
            self._convert_action = lambda a: np.asarray(a, dtype=dtype)
        else:
            self._convert_action = None
        self._info = EnvInfoConverter()
        self._empty_info: Any = None  # self._info.empty, read per step without calling the converter
        self._pending_seed: Optional[int] = None
        self._closed = False
        self.last_reset_info: Dict[str, Any] = {}
        if seed is not None:
            self.seed(seed)
        self._bind_action_masks()

    def _bind_action_masks(self) -> None:
        try:
            masks = self.env.get_wrapper_attr("action_masks")
        except AttributeError:
            masks = None
        if callable(masks):
            self.action_masks = masks  # only present when the wrapped env has it

    # --- contract -------------------------------------------------------------------------------
    def seed(self, seed: Optional[int]) -> None:
        """Use ``seed`` at the next ``reset`` and seed the action space (for random actions)."""
        self._pending_seed = None if seed is None else int(seed)
        if seed is not None:
            self.env.action_space.seed(int(seed))

    def reset(self) -> Any:
        if self._pending_seed is not None:
            obs, info = self.env.reset(seed=self._pending_seed)
            self._pending_seed = None
        else:
            obs, info = self.env.reset()
        self.last_reset_info = info
        return to_structured(obs, self._obs_spec) if self._structured_obs else obs

    def step(self, action: Any) -> EnvStep:
        convert = self._convert_action
        if convert is not None:
            action = convert(action)
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._structured_obs:
            obs = to_structured(obs, self._obs_spec)
        if terminated.__class__ is not bool or truncated.__class__ is not bool:
            terminated, truncated = self._flags(terminated, truncated)
        env_info = self._empty_info  # the one empty env info once the fields are fixed as none (CartPole)
        if env_info is None:
            env_info = self._info(info)
            self._empty_info = self._info.empty
        return _tuple_new(EnvStep, (obs, reward, terminated, truncated, env_info))

    def _flags(self, terminated: Any, truncated: Any) -> Tuple[bool, bool]:
        """``terminated``/``truncated`` as Python bools; anything but a bool (or a 0/1 integer) is an error
        naming the env (``bool("abc")`` would silently be True)."""
        for name, flag in (("terminated", terminated), ("truncated", truncated)):
            if flag.__class__ is not bool and flag.__class__ is not np.bool_:
                check_flag(flag, f"env '{self.id}'", name, "returned by step()")
        return bool(terminated), bool(truncated)

    # --- exact resume (rlframe.envs.base.Env) -----------------------------------------------------
    def get_state(self) -> bytes:
        """The gymnasium env (wrappers included), the pending seed and the last reset info, pickled."""
        return pickle_state({"env": self.env, "pending_seed": self._pending_seed,
                             "last_reset_info": self.last_reset_info}, self.id)

    def set_state(self, state: bytes) -> None:
        """Replace the gymnasium env by the one saved in ``state`` (the current one is closed)."""
        saved = pickle.loads(state)
        old, self.env = self.env, saved["env"]
        if old is not self.env:
            old.close()
        fast_discrete_check(self.env)  # a state saved before GymEnv set it
        self._pending_seed, self.last_reset_info = saved["pending_seed"], saved["last_reset_info"]
        self.spaces = EnvSpaces(observation=self.env.observation_space, action=self.env.action_space)
        self._bind_action_masks()

    @property
    def info_fields(self) -> Tuple[str, ...]:
        """Fields of the env-info namedtuple (empty until the first step)."""
        return self._info.fields

    @property
    def unwrapped(self) -> gym.Env:
        return self.env.unwrapped

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()

    def __repr__(self) -> str:
        return f"GymEnv({self.id!r})"


def episode_metrics_for(EnvCls: Any, env_kwargs: Optional[Dict[str, Any]] = None) -> EpisodeMetrics:
    """The :class:`~rlframe.envs.base.EpisodeMetrics` that the envs ``EnvCls(**env_kwargs)`` name, found
    without making an env: for ``GymEnv`` the registered env class of ``env_kwargs["id"]`` (its module is
    imported for ``"module:EnvId"`` ids), for a ``gymnasium.Env`` subclass that class; its
    ``metadata[EPISODE_METRICS_KEY]`` (a class or ``"module:Class"``) is made with ``env_kwargs``.
    Anything else, or an env naming none, gets the default (generic statistics only)."""
    kwargs = dict(env_kwargs or {})
    if isinstance(EnvCls, functools.partial):
        kwargs = {**EnvCls.keywords, **kwargs}
        EnvCls = EnvCls.func
    env_class = None
    if isinstance(EnvCls, type) and issubclass(EnvCls, GymEnv) and "id" in kwargs:
        env_class = _registered_class(str(kwargs["id"]))
    elif isinstance(EnvCls, type) and issubclass(EnvCls, gym.Env):
        env_class = EnvCls
    named = env_class.metadata.get(EPISODE_METRICS_KEY) if env_class is not None else None
    if named is None:
        return EpisodeMetrics(kwargs)
    if isinstance(named, str):
        module, _, attr = named.partition(":")
        named = getattr(importlib.import_module(module), attr)
    if not (isinstance(named, type) and issubclass(named, EpisodeMetrics)):
        raise ConfigError(f"{env_class.__name__}.metadata[{EPISODE_METRICS_KEY!r}] is {named!r}; it must name a "
                          "subclass of rlframe.envs.base.EpisodeMetrics (a class or 'module:Class').")
    return named(kwargs)


def _registered_class(env_id: str) -> Optional[type]:
    """The ``gymnasium.Env`` class registered for ``env_id`` (``None`` when the entry point is a function)."""
    module, _, name = env_id.rpartition(":")
    if module:
        importlib.import_module(module)
    creator = gym.spec(name or env_id).entry_point
    if isinstance(creator, str):
        creator = load_env_creator(creator)
    return creator if isinstance(creator, type) and issubclass(creator, gym.Env) else None
