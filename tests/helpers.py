"""Test helpers any test may use: a random agent following the agent contract and small envs.

``RandomAgent`` samples uniformly from the action space (seeded), reports ``agent_info.value`` and has
``value(observation, ...)`` = sum of the observation's first leaf, so tests can check exactly which
observation a value was computed from. ``LinearAgent`` wraps a one-layer model that checks its input
with ``core.leading_dims.infer_leading_dims`` (for model-shape-error tests).
"""
from __future__ import annotations

from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch

from rlframe.agents.base import AgentStep, BaseAgent
from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.core.namedarraytuple import iter_leaves, namedarraytuple
from rlframe.envs.base import EnvSpaces, EnvStep

RandomAgentInfo = namedarraytuple("RandomAgentInfo", ["value"])


def _first_leaf(x):
    return next(leaf for _, leaf in iter_leaves(x))


class RandomAgent(BaseAgent):
    """Uniform random actions; ``value(obs)`` = sum of the first observation leaf over its trailing dims.

    ``action_override``: a fixed action emitted for every env (to test bad actions).
    """

    def __init__(self, seed: int = 0, action_override: Any = None, with_value: bool = True):
        super().__init__(ModelCls=None)
        self.seed = seed
        self.action_override = action_override
        if not with_value:
            self.value = None  # collectors then skip timeout/bootstrap values
        self.n_resets = 0
        self.reset_one_calls = []

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces
        self.model = torch.nn.Identity()
        self.global_B = global_B
        self.env_ranks = list(env_ranks) if env_ranks is not None else list(range(global_B))
        self.generator = torch.Generator().manual_seed(self.seed)
        self._obs_ndim = len(getattr(env_spaces.observation, "shape", None) or ())

    def _value(self, observation):
        x = _first_leaf(observation).float()
        n = x.dim() - 1  # [B, *obs]
        return x.reshape(x.shape[0], -1).sum(-1) if n > 0 else x

    def value(self, observation, prev_action, prev_reward):
        return self._value(observation)

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        B = _first_leaf(observation).shape[0]
        space = self.env_spaces.action
        if self.action_override is not None:
            a = torch.as_tensor(np.asarray(self.action_override)).expand(B, *np.shape(self.action_override)).clone()
        elif isinstance(space, gym.spaces.Discrete):
            a = torch.randint(int(space.n), (B,), generator=self.generator) + int(space.start)
        elif isinstance(space, gym.spaces.MultiDiscrete):
            nvec = torch.as_tensor(space.nvec)
            a = (torch.rand((B,) + nvec.shape, generator=self.generator) * nvec).long()
        elif isinstance(space, gym.spaces.Box):
            low = torch.as_tensor(np.clip(space.low, -1, 1))
            high = torch.as_tensor(np.clip(space.high, -1, 1))
            a = (low + (high - low) * torch.rand((B,) + space.shape, generator=self.generator)).to(torch.float32)
        else:
            raise TypeError(f"RandomAgent does not support {space}")
        return AgentStep(action=a, agent_info=RandomAgentInfo(value=self._value(observation)))

    def reset(self):
        self.n_resets += 1

    def reset_one(self, idx):
        self.reset_one_calls.append(int(idx))


class LinearModel(torch.nn.Module):
    """One linear layer that checks its input's trailing dims (``infer_leading_dims``)."""

    def __init__(self, input_size: int, n_actions: int):
        super().__init__()
        self.input_size = int(input_size)
        self.fc = torch.nn.Linear(self.input_size, n_actions)

    def forward(self, x):
        lead_dim, T, B, _ = infer_leading_dims(x, (self.input_size,), component=type(self).__name__)
        out = self.fc(x.reshape(T * B, -1).float())
        return restore_leading_dims(out, lead_dim, T, B)


class LinearAgent(BaseAgent):
    """Greedy agent over a :class:`LinearModel`; ``input_size`` overrides the size taken from the space."""

    def __init__(self, input_size: Optional[int] = None, check_inputs: bool = True):
        super().__init__(ModelCls=LinearModel if check_inputs else _UncheckedLinear)
        self.input_size = input_size

    def make_env_to_model_kwargs(self, env_spaces):
        size = self.input_size or int(np.prod(env_spaces.observation.shape))
        return dict(input_size=size, n_actions=int(env_spaces.action.n))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        logits = self.model(observation)
        return AgentStep(action=logits.argmax(-1), agent_info=None)


class _UncheckedLinear(torch.nn.Module):
    def __init__(self, input_size: int, n_actions: int):
        super().__init__()
        self.fc = torch.nn.Linear(input_size, n_actions)

    def forward(self, x):
        return self.fc(x.float())


# --- small envs following rlframe.envs.base directly --------------------------------------------------
class CounterEnv:
    """Observation ``[t, 1, ...]`` (float32, ``obs_size``) where ``t`` counts steps in the episode.

    Terminates after ``terminate_at`` steps (when given) and truncates after ``truncate_at`` steps:
    the final observation's first entry is therefore the episode length. Reward is 1 per step.
    ``emit_size`` lets the env emit another size than it declares; ``bad_at`` = (step, value) puts
    ``value`` (e.g. NaN) into the observation at that step; ``change_at`` = (n, size) emits ``size``
    entries once the env has made ``n`` steps in total.
    """

    def __init__(self, obs_size: int = 3, truncate_at: Optional[int] = 5, terminate_at: Optional[int] = None,
                 emit_size: Optional[int] = None, reward_shape: tuple = (), bad_at=None, id: str = "Counter-v0",
                 n_actions: int = 2, info: bool = True, change_at=None):
        self.id = id
        self.spaces = EnvSpaces(
            observation=gym.spaces.Box(-np.inf, np.inf, (obs_size,), np.float32),
            action=gym.spaces.Discrete(n_actions),
        )
        self.emit_size = emit_size or obs_size
        self.truncate_at, self.terminate_at = truncate_at, terminate_at
        self.reward_shape = tuple(reward_shape)
        self.bad_at = bad_at
        self.info = info
        self.change_at = change_at  # (total_steps, size): emit another size from then on
        self.t = 0
        self.n_steps_total = 0
        self.n_resets = 0
        self.seeds = []
        self.closed = False

    def seed(self, seed):
        self.seeds.append(seed)
        self.spaces.action.seed(seed)

    def _obs(self):
        size = self.emit_size
        if self.change_at is not None and self.n_steps_total >= self.change_at[0]:
            size = self.change_at[1]
        o = np.ones(size, dtype=np.float32)
        o[0] = self.t
        if self.bad_at is not None and self.t == self.bad_at[0]:
            o[-1] = self.bad_at[1]
        return o

    def reset(self):
        self.t = 0
        self.n_resets += 1
        return self._obs()

    def step(self, action):
        assert isinstance(action, (int, np.integer)), type(action)
        self.t += 1
        self.n_steps_total += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        truncated = not terminated and self.truncate_at is not None and self.t >= self.truncate_at
        reward = np.ones(self.reward_shape, dtype=np.float32) if self.reward_shape else 1.0
        Info = namedarraytuple("CounterInfo", ["t"] if self.info else [])
        info = Info(self.t) if self.info else Info()
        return EnvStep(self._obs(), reward, terminated, truncated, info)

    def close(self):
        self.closed = True


def load_experiment(name: str):
    """Import ``experiments/<name>.py`` as a module (its ``main(argv)`` runs the script in-process)."""
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
