"""Shape checks every sampler runs (DESIGN.md "Shape checking", items 1, 2 and 5).

rlpyt users met ``RuntimeError: size mismatch, m1: [1 x 365], m2: [461 x 32]`` deep inside a worker,
because nothing compared what an env *declared* with what it *emitted*. Before any batch is collected,
samplers here:

1. reset and step one real train env and one real eval env in the master, validating every leaf of
   the observation, the reward (a scalar), the done flags and the env info (:func:`probe_env`);
   the eval env's spaces must equal the train env's (:func:`check_eval_env`);
2. run the agent on that first observation and validate its action against the action space, surfacing
   model shape errors before training (:func:`check_agent_example`);
5. with ``debug=True``, validate every step (shapes, bounds, NaN/inf) naming the env index and step
   (:class:`StepValidator`).

All failures are :class:`~rlframe.errors.ShapeMismatchError` naming the env id (or agent/model class),
the field, the declared and emitted shapes and what to change.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Optional, Sequence

import numpy as np
import torch

from rlframe.core.namedarraytuple import is_namedtuple, iter_leaves, map_leaves
from rlframe.core.specs import check_flag, check_reward, describe, spec_from_space, specs_equal, validate
from rlframe.errors import ShapeMismatchError
from rlframe.samplers.watchdog import bounded_call

PROBE_TIMEOUT = 60.0  # seconds for each env call of the probe when the caller gives none (samplers: worker_timeout)

EnvExample = namedtuple("EnvExample", ["observation", "action", "step"])
EnvExample.__doc__ = "The first observation of a probed env, the random action sent, and the EnvStep it returned."

AgentExample = namedtuple("AgentExample", ["action", "agent_info", "value"])
AgentExample.__doc__ = "The agent's outputs on an env's first observation, numpy, without leading dims."

_SHAPE_ERROR_MARKERS = ("size mismatch", "mat1 and mat2", "shape", "must match the size", "Expected size")


def env_name(env: Any) -> str:
    """The name used for ``env`` in error messages: its ``id`` when it has one, else its class."""
    return str(getattr(env, "id", None) or type(env).__name__)


def _component(env: Any, label: str) -> str:
    return f"{label} '{env_name(env)}'"


def check_env_step(step: Any, obs_spec: Any, component: str, where: str = "", check_finite: bool = False) -> None:
    """Validate one ``EnvStep`` (observation leaves, scalar finite reward, flags, numeric env info)."""
    if not (isinstance(step, tuple) and len(step) == 5):
        raise ShapeMismatchError(
            component, "step()", "EnvStep(observation, reward, terminated, truncated, env_info)",
            f"{type(step).__name__} of length {len(step) if isinstance(step, tuple) else '?'}", detail=where,
            hint="step() must return rlframe.envs.EnvStep (wrap gymnasium envs in rlframe.envs.GymEnv).",
        )
    obs, reward, terminated, truncated, env_info = step
    validate(obs, obs_spec, component, "observation", check_finite=check_finite, where=where)
    check_reward(reward, component, where)
    r_shape = tuple(np.shape(reward))
    if r_shape != ():
        raise ShapeMismatchError(
            component, "reward", (), r_shape, detail=where,
            hint="step() must return a scalar reward (a float or 0-d array): reduce a vector reward "
            "to one number in the env (or a wrapper) and put the components into the info dict.",
        )
    if check_finite and not np.isfinite(float(reward)):
        raise ShapeMismatchError(
            component, "reward", "a finite value", float(reward), detail=where,
            hint="find where the env produces non-finite rewards (division by zero, overflow, log(0)).",
        )
    for name, flag in (("terminated", terminated), ("truncated", truncated)):
        if tuple(np.shape(flag)) == ():
            check_flag(flag, component, name, where)
        if tuple(np.shape(flag)) != ():
            raise ShapeMismatchError(
                component, name, (), tuple(np.shape(flag)), detail=where,
                hint=f"step() must return one boolean '{name}' per env.",
            )
    if env_info is not None and not is_namedtuple(env_info):
        raise ShapeMismatchError(
            component, "env_info", "a namedtuple with fixed fields", type(env_info).__name__, detail=where,
            hint="wrap the env in rlframe.envs.GymEnv (or use rlframe.envs.EnvInfoConverter) so infos fit a buffer.",
        )
    for name, leaf in iter_leaves(env_info):
        arr = np.asarray(leaf)
        if arr.dtype.kind not in "biuf":
            raise ShapeMismatchError(
                component, f"env_info.{name}", "a number or numeric array", f"dtype {arr.dtype}", detail=where,
                hint="keep only numeric values in env infos (they go into a numeric buffer).",
            )
        if check_finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ShapeMismatchError(
                component, f"env_info.{name}", "finite values", arr.ravel()[:8].tolist(), detail=where,
                hint="find where the env produces non-finite info values.",
            )


def probe_env(env: Any, label: str = "train env", timeout: Optional[float] = None) -> EnvExample:
    """Reset and step ``env`` once with an allowed action (:func:`probe_action`), validating everything
    against its spaces.

    Returns the example the samples buffer is built from. ``label`` ("train env", "eval env") goes
    into error messages with the env id. Each env call is bounded by ``timeout`` seconds (default
    :data:`PROBE_TIMEOUT`; samplers pass their ``worker_timeout``): a hang ends in
    :class:`~rlframe.errors.EnvTimeoutError` naming the env, the call and the timeout (``samplers.watchdog``).
    """
    component = _component(env, label)
    spaces = getattr(env, "spaces", None)
    if spaces is None:
        raise TypeError(f"{component} has no 'spaces' attribute: envs must follow rlframe.envs.base "
                        "(wrap gymnasium envs in rlframe.envs.GymEnv).")
    timeout = PROBE_TIMEOUT if timeout is None else float(timeout)
    where = f"(the {label} pre-flight check, before training)"
    obs_spec = spec_from_space(spaces.observation)
    obs = bounded_call(env.reset, (), timeout, env_name(env), "reset()", where)
    validate(obs, obs_spec, component, "observation", check_finite=True, where="returned by reset()")
    action = probe_action(env, obs, component)
    step = bounded_call(env.step, (action,), timeout, env_name(env), "step()", where)
    check_env_step(step, obs_spec, component, where="returned by step() after reset()", check_finite=True)
    return EnvExample(obs, action, step)


def action_mask(env: Any, observation: Any) -> Optional[np.ndarray]:
    """The env's mask of allowed actions, by the two common conventions: an ``action_mask`` entry of a
    Dict observation, else an ``action_masks()`` method (sb3-contrib's MaskablePPO); None without one."""
    mask = None
    if isinstance(observation, dict):
        mask = observation.get("action_mask")
    elif is_namedtuple(observation) and "action_mask" in observation._fields:
        mask = observation.action_mask
    if mask is None and callable(getattr(env, "action_masks", None)):
        mask = env.action_masks()
    return None if mask is None else np.asarray(mask)


def probe_action(env: Any, observation: Any, component: str = "env") -> Any:
    """The probe's action: a random *allowed* action when the env has an action mask (:func:`action_mask`,
    for a ``Discrete`` action space), else a random sample of the action space."""
    space = env.spaces.action
    mask = action_mask(env, observation)
    n = getattr(space, "n", None)
    if mask is None or n is None or mask.size != int(n):
        return space.sample()
    allowed = np.flatnonzero(mask.reshape(-1))
    if allowed.size == 0:
        raise ShapeMismatchError(
            component, "action mask", "at least one allowed action after reset()", "a mask allowing none",
            hint="the env's first state must allow an action: check its action mask.",
        )
    rng = getattr(space, "np_random", None) or np.random.default_rng()
    return np.int64(int(getattr(space, "start", 0)) + int(allowed[int(rng.integers(allowed.size))]))


def check_eval_env(train_env: Any, eval_env: Any, probe: bool = True,
                   timeout: Optional[float] = None) -> Optional[EnvExample]:
    """Eval env spaces must equal train env spaces; then probe the eval env like a train env."""
    component = _component(eval_env, "eval env")
    for field in ("observation", "action"):
        train_spec = spec_from_space(getattr(train_env.spaces, field))
        eval_spec = spec_from_space(getattr(eval_env.spaces, field))
        if not specs_equal(train_spec, eval_spec):
            raise ShapeMismatchError(
                component, f"{field} space", describe(train_spec), describe(eval_spec),
                detail=f"the train env '{env_name(train_env)}' declares {describe(train_spec)}",
                hint="eval_env_kwargs must make an env with the same observation and action spaces as "
                "env_kwargs: the agent's model is built from the train env.",
            )
    return probe_env(eval_env, "eval env", timeout) if probe else None


def _batch1(x: Any) -> Any:
    return map_leaves(lambda v: torch.as_tensor(np.asarray(v))[None].clone(), x)


def _unbatch(x: Any, component: str, field: str) -> Any:
    def one(v):
        v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        if v.ndim == 0 or v.shape[0] != 1:
            raise ShapeMismatchError(
                component, field, "leading dim [1] (one per env)", tuple(v.shape),
                detail="the agent was called with a batch of 1 observation",
                hint="agent.step must keep the leading [B] dim of its inputs (use core.leading_dims).",
            )
        return v[0]

    return map_leaves(one, x)


def _model_name(agent: Any) -> str:
    model = getattr(agent, "model", None)
    return type(model).__name__ if model is not None else type(agent).__name__


def check_agent_example(agent: Any, env: Any, example: EnvExample) -> AgentExample:
    """Run the (initialized) agent on ``example``'s first observation and validate its action.

    Model shape errors surface here, before training: a ``ShapeMismatchError`` from the model
    (``core.leading_dims.infer_leading_dims``) is re-raised with the env named; a torch size-mismatch
    ``RuntimeError`` becomes a ``ShapeMismatchError`` naming the model class.
    """
    spaces = env.spaces
    act_spec = spec_from_space(spaces.action, "Action")
    obs_spec = spec_from_space(spaces.observation)
    obs = _batch1(example.observation)
    prev_action = _batch1(np.zeros_like(np.asarray(example.action)))
    prev_reward = torch.zeros(1, dtype=torch.float32)
    where = f"agent.step on the first observation of env '{env_name(env)}'"
    agent.reset()
    try:
        with torch.no_grad():
            agent_step = agent.step(obs, prev_action, prev_reward)
            value = agent.value(obs, prev_action, prev_reward) if callable(getattr(agent, "value", None)) else None
    except ShapeMismatchError as e:
        raise ShapeMismatchError(e.component, e.field, e.expected, e.actual, e.hint,
                                 detail=f"found by the sampler's pre-flight check: {where}") from e
    except RuntimeError as e:
        if not any(m in str(e) for m in _SHAPE_ERROR_MARKERS):
            raise
        leaves = list(iter_leaves(example.observation))
        emitted = tuple(np.shape(leaves[0][1])) if len(leaves) == 1 and leaves[0][0] == "" else \
            "{" + ", ".join(f"{k}: {tuple(np.shape(v))}" for k, v in leaves) + "}"
        raise ShapeMismatchError(
            _model_name(agent), "observation", "an input of the shape the model was built for", emitted,
            detail=f"the model's forward failed in {where}: {str(e).splitlines()[0]}; the env declares {describe(obs_spec)}",
            hint="build the model from the env's observation space (agent.make_env_to_model_kwargs / "
            "model_kwargs must not override the input size), and check that the env emits what it declares.",
        ) from e
    agent_component = f"agent {type(agent).__name__} (model {_model_name(agent)}) on env '{env_name(env)}'"
    action = _unbatch(agent_step.action, agent_component, "action")
    agent_info = _unbatch(agent_step.agent_info, agent_component, "agent_info")
    validate(action, act_spec, agent_component, "action", check_finite=True, check_bounds=True,
             where=f"declared action space {describe(act_spec)}")
    if value is not None:
        v_shape = tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))
        if v_shape != (1,):
            raise ShapeMismatchError(
                agent_component, "value", (1,), v_shape, detail="agent.value on a batch of 1 observation",
                hint="agent.value must return one value per env, shape [B].",
            )
        value = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)[0]
    return AgentExample(action, agent_info, value)


class StepValidator:
    """Debug-mode check of every step (DESIGN.md item 5): shapes, bounds, NaN/inf.

    Error messages name the env id, the env index inside the collector, its global env rank,
    the step within the batch and the iteration.
    """

    def __init__(self, envs: Sequence[Any], env_ranks: Optional[Sequence[int]] = None, rank: int = 0):
        self.envs = list(envs)
        self.env_ranks = list(env_ranks) if env_ranks is not None else list(range(len(self.envs)))
        self.rank = rank
        spaces = self.envs[0].spaces
        self.obs_spec = spec_from_space(spaces.observation)
        self.act_spec = spec_from_space(spaces.action, "Action")
        self.components = [_component(e, "env") for e in self.envs]

    def where(self, b: int, t: int, itr: Any) -> str:
        return (f"env index {b} (global env rank {self.env_ranks[b]}, worker rank {self.rank}), "
                f"step {t} of iteration {itr}")

    def check_reset(self, b: int, obs: Any, t: int, itr: Any) -> None:
        validate(obs, self.obs_spec, self.components[b], "observation", check_finite=True,
                 where=self.where(b, t, itr) + ", returned by reset()")

    def check_step(self, b: int, step: Any, t: int, itr: Any) -> None:
        check_env_step(step, self.obs_spec, self.components[b], where=self.where(b, t, itr), check_finite=True)

    def check_action(self, b: int, action: Any, t: int, itr: Any, agent: Any = None) -> None:
        component = f"agent {type(agent).__name__}" if agent is not None else "agent"
        validate(action, self.act_spec, component, "action", check_finite=True, check_bounds=True,
                 where=f"action for {self.components[b]} at " + self.where(b, t, itr))
