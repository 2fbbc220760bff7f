"""The agent contract (rlpyt's, kept): a torch model plus a distribution, driven by samplers.

Samplers call ``initialize`` once, then ``reset()`` / ``reset_one(idx)`` at episode boundaries and
``step(observation, prev_action, prev_reward)`` with torch tensors of leading dim ``[B]``
(zero-copy views of the sampler's numpy step buffers); ``step`` returns an :class:`AgentStep` of CPU
tensors. Algorithms call the agent (``agent(*agent_inputs)``) on ``[T, B]`` training batches.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Sequence

import torch

from rlframe.core.grad_mode import no_grad  # noqa: F401 (re-exported: agents decorate their per-step calls with it)
from rlframe.core.namedarraytuple import namedarraytuple

AgentInputs = namedarraytuple("AgentInputs", ["observation", "prev_action", "prev_reward"])
AgentStep = namedarraytuple("AgentStep", ["action", "agent_info"])


def load_weights(model: torch.nn.Module, state_dict: Dict[str, Any], component: str) -> None:
    """``model.load_state_dict(state_dict)``, after checking every tensor's shape: weights saved for another
    env (e.g. a 461-dim observation loaded into a model built for 365) raise a ``ShapeMismatchError`` naming
    ``component``, the parameter and both shapes, instead of torch's ``size mismatch`` list."""
    from rlframe.errors import ShapeMismatchError

    own = model.state_dict()
    for name, value in state_dict.items():
        if name in own and hasattr(value, "shape") and tuple(value.shape) != tuple(own[name].shape):
            raise ShapeMismatchError(
                component, name, tuple(own[name].shape), tuple(value.shape),
                detail="the weights were saved from a model of another shape",
                hint="load weights saved for an env with the same observation and action spaces (and the same "
                     "model_kwargs), or build the model for the env the weights came from.")
    model.load_state_dict(state_dict)


class BaseAgent:
    """Holds ``self.model`` and a distribution; subclasses implement ``step`` and ``__call__``.

    Args:
        ModelCls: the torch module class, built in :meth:`initialize` from the env spaces.
        model_kwargs: extra keyword arguments for ``ModelCls``.
        initial_model_state_dict: optional weights loaded right after building the model.
    """

    recurrent = False

    def __init__(
        self,
        ModelCls: Optional[type] = None,
        model_kwargs: Optional[Dict[str, Any]] = None,
        initial_model_state_dict: Optional[Dict[str, Any]] = None,
    ):
        self.ModelCls = ModelCls
        self.model_kwargs = dict(model_kwargs or {})
        self.initial_model_state_dict = initial_model_state_dict
        self.model: Optional[torch.nn.Module] = None
        self.shared_model: Optional[torch.nn.Module] = None
        self.distribution = None
        self.env_spaces = None
        self.device = torch.device("cpu")
        self._mode = "train"
        self._itr = 0

    # --- set-up -----------------------------------------------------------------------------
    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        """Model constructor arguments derived from the env spaces (e.g. observation shape)."""
        return {}

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1,
                   env_ranks: Optional[Sequence[int]] = None) -> None:
        """Build the model for ``env_spaces``; with ``share_memory`` its weights live in shared memory
        (parallel samplers' workers then read them without copies)."""
        self.env_spaces = env_spaces
        self.env_model_kwargs = self.make_env_to_model_kwargs(env_spaces)
        self.model = self.ModelCls(**self.env_model_kwargs, **self.model_kwargs)
        if self.initial_model_state_dict is not None:
            load_weights(self.model, self.initial_model_state_dict,
                         f"{type(self).__name__} initial_model_state_dict (model {type(self.model).__name__})")
        if share_memory:
            self.model.share_memory()
            self.shared_model = self.model
        self.global_B = global_B
        self.env_ranks = list(env_ranks) if env_ranks is not None else list(range(global_B))

    def to_device(self, device: Any = None) -> None:
        """Move the model to ``device`` (``"cuda"``, an index, or None for CPU); a shared CPU copy
        stays behind for samplers that need it."""
        if device is None:
            return
        device = torch.device(device if not isinstance(device, int) else f"cuda:{device}")
        if device.type != "cpu":
            if self.shared_model is not None and self.shared_model is self.model:
                # ``Module.to`` moves in place: train a device copy, keep the shared CPU model that
                # parallel workers read (``sync_shared_memory`` copies into it every iteration).
                self.model = copy.deepcopy(self.shared_model).to(device)
            else:
                self.model = self.model.to(device)
        self.device = device

    def sync_shared_memory(self) -> None:
        """Copy the training model's weights into the shared CPU copy (when they differ)."""
        if self.shared_model is not None and self.shared_model is not self.model:
            self.shared_model.load_state_dict(self.model.state_dict())

    def data_parallel(self, device=None):
        """Wrap the model in DistributedDataParallel (used by SyncRl-style multi-process training)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.model = DDP(self.model, device_ids=None if device is None else [device])
        return device

    # --- acting --------------------------------------------------------------------------------
    def __call__(self, observation, prev_action, prev_reward):
        raise NotImplementedError

    @no_grad
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        raise NotImplementedError

    def reset(self) -> None:
        """Called at the start of sampling (all envs)."""

    def reset_one(self, idx: int) -> None:
        """Called when env ``idx`` resets (recurrent agents clear their state here)."""

    # --- modes -----------------------------------------------------------------------------------
    def train_mode(self, itr: int) -> None:
        self.model.train()
        self._mode, self._itr = "train", itr

    def sample_mode(self, itr: int) -> None:
        self.model.eval()
        self._mode, self._itr = "sample", itr

    def eval_mode(self, itr: int) -> None:
        self.model.eval()
        self._mode, self._itr = "eval", itr

    # --- state ----------------------------------------------------------------------------------
    def parameters(self):
        return self.model.parameters()

    def state_dict(self) -> Dict[str, Any]:
        model = self.model.module if hasattr(self.model, "module") else self.model
        return model.state_dict()

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        model = self.model.module if hasattr(self.model, "module") else self.model
        model.load_state_dict(state_dict)
        self.sync_shared_memory()

    def sampling_state_dict(self) -> Dict[str, Any]:
        """What the agent carries from one ``step`` to the next while sampling (a recurrent state, exploration
        noise): samplers save it with their envs for an exact resume (``samplers.base.BaseSampler.state_dict``).
        Plain tensors only; nothing for a memoryless agent."""
        return {}

    def load_sampling_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`sampling_state_dict`'s output (after ``initialize``)."""


def box_action_model_kwargs(agent: Any, env_spaces: Any, instead: str) -> Dict[str, Any]:
    """``observation_shape`` and ``action_size`` for an agent acting in a 1-D Box; any other action space is a
    :class:`ConfigError` naming the agent and ``instead`` (the agent to use for it)."""
    import gymnasium as gym

    from rlframe.errors import ConfigError
    from rlframe.models.observation import observation_shape_from_space

    space = env_spaces.action
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ConfigError(f"{type(agent).__name__} needs a 1-D Box action space, got {space}: {instead}, or "
                          "flatten the action space in a wrapper.")
    return dict(observation_shape=observation_shape_from_space(env_spaces.observation), action_size=int(space.shape[0]))

