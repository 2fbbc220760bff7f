"""Building the ``[T, B]`` samples buffer from one real env step and the agent's example step.

As in rlpyt's ``build_samples_buffer`` (Stooke & Abbeel, 2019), the buffer is allocated once from
examples, but here the examples are validated first (``samplers.checks``) and the observation fields
take the env's *declared* dtype (an env emitting float64 for a float32 Box is cast on write).
Serial and parallel samplers share this function; parallel ones pass ``agent_shared``/``env_shared``
so the buffer lives in shared memory and workers write their B-slice of it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from rlframe.core.buffers import buffer_from_example, numpify, torch_buffer_from_example, torchify
from rlframe.core.specs import example_from_spec, spec_from_space
from rlframe.samplers.base import AgentSamples, AgentSamplesBsv, BatchSpec, EnvSamples, Samples
from rlframe.samplers.checks import EnvExample, check_agent_example, probe_env


def _alloc(example: Any, leading: Tuple[int, ...], shared: bool) -> Tuple[Any, Any]:
    """(torch, numpy) views of one zero buffer shaped ``leading + example``."""
    if shared:
        pyt = torch_buffer_from_example(example, leading, share_memory=True)
        return pyt, numpify(pyt)
    np_buf = buffer_from_example(example, leading)
    return torchify(np_buf), np_buf


def build_samples_buffer(
    agent: Any,
    env: Any,
    batch_spec: BatchSpec,
    bootstrap_value: bool = False,
    agent_shared: bool = False,
    env_shared: bool = False,
    example: Optional[EnvExample] = None,
    final_observation: bool = False,
) -> Tuple[Any, Any, Dict[str, Any]]:
    """Allocate the samples buffer for ``agent`` (already initialized) acting in envs like ``env``.

    ``env`` is reset and stepped once (:func:`~rlframe.samplers.checks.probe_env`) unless ``example``
    (from an earlier probe) is given; the agent's example step is validated against the action space.

    Returns ``(samples_pyt, samples_np, examples)``: torch and numpy views of the same
    :data:`~rlframe.samplers.base.Samples` buffer with leading dims ``[T, B]``
    (``agent.bootstrap_value``: ``[1, B]`` when ``bootstrap_value``; ``env.final_observation``, shaped like
    ``env.observation``, only when ``final_observation``, else None), and a dict of unbatched examples
    (``observation``, ``action``, ``prev_action``, ``reward``, ``terminated``, ``truncated``, ``done``,
    ``env_info``, ``agent_info``, ``value``) for algorithms' ``initialize``.
    """
    if example is None:
        example = probe_env(env, "train env")
    agent_ex = check_agent_example(agent, env, example)
    T, B = int(batch_spec.T), int(batch_spec.B)

    obs_ex = example_from_spec(spec_from_space(env.spaces.observation))
    action_ex = np.asarray(agent_ex.action)
    agent_fields = AgentSamples(action=action_ex, prev_action=action_ex, agent_info=agent_ex.agent_info)
    agent_pyt, agent_np = _alloc(agent_fields, (T, B), agent_shared)
    if bootstrap_value:
        bv_pyt, bv_np = _alloc(np.float32(0), (1, B), agent_shared)
        agent_pyt = AgentSamplesBsv(*agent_pyt, bootstrap_value=bv_pyt)
        agent_np = AgentSamplesBsv(*agent_np, bootstrap_value=bv_np)

    f32, false = np.float32(0), np.bool_(False)
    env_fields = EnvSamples(
        observation=obs_ex, reward=f32, prev_reward=f32, terminated=false, truncated=false, done=false,
        timeout_value=f32, env_info=example.step.env_info, final_observation=obs_ex if final_observation else None,
    )
    env_pyt, env_np = _alloc(env_fields, (T, B), env_shared)

    step = example.step
    examples = dict(
        observation=obs_ex, action=action_ex, prev_action=action_ex, reward=np.float32(step.reward),
        terminated=np.bool_(step.terminated), truncated=np.bool_(step.truncated),
        done=np.bool_(step.terminated or step.truncated), env_info=step.env_info,
        agent_info=agent_ex.agent_info, value=agent_ex.value,
    )
    return Samples(agent_pyt, env_pyt), Samples(agent_np, env_np), examples
