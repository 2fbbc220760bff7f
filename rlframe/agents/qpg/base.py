"""Shared machinery of the Q-value policy-gradient agents (DDPG, TD3, SAC), after rlpyt's ``DdpgAgent``.

A QPG agent holds four models: the actor ``model`` (the only one samplers use, shared with parallel
workers), the critic ``q_model`` (``n_critics`` Q-functions fused in one module,
:class:`~rlframe.models.qpg.QMlpModel`), and their target copies ``target_model`` (None for SAC, whose targets
use the online actor) and ``target_q_model``. Algorithms use the agent's methods (``q``, ``target_q``, the
actor's) and ``update_targets(tau)``. ``state_dict`` holds the online actor and critics (what acting and
evaluation need); the targets travel in the algorithm's ``state_dict`` through :meth:`QpgAgentBase.target_state_dict`,
as DQN's do (``rlframe/algos/replay_base.py``), so checkpoints resume with them.

Actions: every model works in ``[-1, 1]^A``; :class:`BoxActionScaler` maps to the env's Box bounds when the
agent acts (``step``) and back when an algorithm reads actions from a replay (``action_scaler.from_env``).
That class is the only place where the bounds enter. Before learning starts the algorithm may ask for
uniformly random actions (:meth:`QpgAgentBase.explore_uniform_until`, SB3's ``learning_starts`` behaviour).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from rlframe.agents.base import AgentStep, BaseAgent, box_action_model_kwargs, load_weights
from rlframe.core.buffers import buffer_to
from rlframe.errors import ConfigError
from rlframe.models.qpg import QMlpModel, soft_update_


class BoxActionScaler:
    """Affine map between normalised actions in ``[-1, 1]^A`` and a Box's ``[low, high]``.

    ``to_env(a) = center + half_range * a``; ``from_env(x) = (x - center) / half_range``.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, component: str = "agent"):
        low = np.asarray(low, dtype=np.float64)
        high = np.asarray(high, dtype=np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ConfigError(
                f"{component}: the action space needs finite bounds (low={low}, high={high}): tanh policies map "
                "[-1, 1] onto [low, high]. Wrap the env in gymnasium.wrappers.RescaleAction(env, -1, 1) or give "
                "the Box finite bounds."
            )
        if np.any(high <= low):
            raise ConfigError(f"{component}: action space has high <= low somewhere (low={low}, high={high}).")
        self.center = torch.as_tensor((high + low) / 2.0, dtype=torch.float32)
        self.half_range = torch.as_tensor((high - low) / 2.0, dtype=torch.float32)
        self.identity = bool(torch.all(self.center == 0) and torch.all(self.half_range == 1))

    def to(self, device: Any) -> "BoxActionScaler":
        self.center, self.half_range = self.center.to(device), self.half_range.to(device)
        return self

    def to_env(self, action: torch.Tensor) -> torch.Tensor:
        """Normalised ``[-1, 1]`` actions → env actions."""
        if self.identity:
            return action
        return torch.addcmul(self.center.to(action.device), action, self.half_range.to(action.device))

    def from_env(self, action: torch.Tensor) -> torch.Tensor:
        """Env actions → normalised ``[-1, 1]`` actions."""
        if self.identity:
            return action
        return (action - self.center.to(action.device)) / self.half_range.to(action.device)


class QpgAgentBase(BaseAgent):
    """Actor + fused critics + targets; subclasses define the actor's action (``_act``) and its model class.

    Args:
        ModelCls, model_kwargs: the actor (built with ``observation_shape`` and ``action_size``).
        QModelCls, q_model_kwargs: the critics (default :class:`~rlframe.models.qpg.QMlpModel`).
        initial_model_state_dict: an earlier ``agent.state_dict()`` (all four models) or actor weights alone.
    """

    has_target_actor = True

    def __init__(self, ModelCls: type, model_kwargs: Optional[Dict[str, Any]] = None,
                 QModelCls: type = QMlpModel, q_model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None):
        super().__init__(ModelCls, model_kwargs, None)
        self.QModelCls = QModelCls
        self.q_model_kwargs = dict(q_model_kwargs or {})
        self.initial_state_dict = initial_model_state_dict
        self.q_model: Optional[torch.nn.Module] = None
        self.target_model: Optional[torch.nn.Module] = None
        self.target_q_model: Optional[torch.nn.Module] = None
        self.action_scaler: Optional[BoxActionScaler] = None
        self._uniform_until_itr: Optional[int] = None

    # --- set-up -----------------------------------------------------------------------------------------
    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        return box_action_model_kwargs(self, env_spaces, "use DqnAgent for Discrete actions")

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1,
                   env_ranks: Optional[Sequence[int]] = None) -> None:
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        space = env_spaces.action
        self.action_scaler = BoxActionScaler(space.low, space.high, type(self).__name__)
        self.action_size = self.env_model_kwargs["action_size"]
        self.q_model = self.QModelCls(**self.env_model_kwargs, **self.q_model_kwargs)
        self.target_q_model = _frozen_copy(self.q_model)
        self.target_model = _frozen_copy(self.model) if self.has_target_actor else None
        if self.initial_state_dict is not None:
            self.load_state_dict(self.initial_state_dict)
        self._target_lists = None
        # Warm-up flag read by every copy of the agent: in shared memory with the actor (CpuSampler workers),
        # written only by the agent the algorithm configured (the master's) in sample_mode.
        self._explore_uniform = torch.zeros(1, dtype=torch.bool)
        if share_memory:
            self._explore_uniform.share_memory_()

    def to_device(self, device: Any = None) -> None:
        super().to_device(device)
        if device is None:
            return
        for name in ("q_model", "target_model", "target_q_model"):
            m = getattr(self, name)
            if m is not None:
                setattr(self, name, m.to(self.device))
        self.action_scaler.to(self.device)
        self._target_lists = None

    def _to_device(self, *inputs):
        return inputs if self.device.type == "cpu" else buffer_to(inputs, self.device)

    # --- what algorithms call -----------------------------------------------------------------------------
    def q(self, observation, action: torch.Tensor, detach_params: bool = False,
          n_critics: Optional[int] = None) -> torch.Tensor:
        """``Q_i(observation, action)`` of the first ``n_critics`` critics (default all): ``[k, *leading dims]``
        (normalised actions); ``detach_params``: gradients reach the action only, never the critics."""
        return self.q_model(observation, action, detach_params=detach_params, n_critics=n_critics)

    @torch.no_grad()
    def target_q(self, observation, action: torch.Tensor) -> torch.Tensor:
        """The target critics' ``Q_i`` (no graph)."""
        return self.target_q_model(observation, action)

    def actor_parameters(self) -> List[torch.nn.Parameter]:
        return list(self.model.parameters())

    def q_parameters(self) -> List[torch.nn.Parameter]:
        return list(self.q_model.parameters())

    def update_targets(self, tau: float = 1.0) -> None:
        """Polyak-average the target networks towards the online ones (``tau = 1``: copy)."""
        if self._target_lists is None:
            t, s = list(self.target_q_model.parameters()), list(self.q_model.parameters())
            if self.target_model is not None:
                t += list(self.target_model.parameters())
                s += list(self.model.parameters())
            self._target_lists = (t, s)
        soft_update_(*self._target_lists, tau)

    def explore_uniform_until(self, itr: int) -> None:
        """Act uniformly at random (over the Box) in sample mode for iterations ``< itr`` (warm-up; the
        algorithm converts its ``random_steps`` to iterations)."""
        self._uniform_until_itr = int(itr)

    # --- acting -------------------------------------------------------------------------------------------
    def _act(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """Normalised action for sample mode (exploration included)."""
        raise NotImplementedError

    def _act_greedy(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """Normalised deterministic action for eval mode."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        """Env actions for ``[B]`` observations (CPU tensors); no ``agent_info`` is stored."""
        observation, prev_action, prev_reward = self._to_device(observation, prev_action, prev_reward)
        if self._mode == "eval":
            action = self._act_greedy(observation, prev_action, prev_reward)
        elif self._mode == "sample" and bool(self._explore_uniform):
            lead = prev_reward.shape if isinstance(prev_reward, torch.Tensor) else ()
            action = torch.rand(tuple(lead) + (self.action_size,), device=self.device) * 2.0 - 1.0
        else:
            action = self._act(observation, prev_action, prev_reward)
        action = self.action_scaler.to_env(action)
        if self.device.type != "cpu":
            action = action.cpu()
        return AgentStep(action=action, agent_info=None)

    # --- modes ----------------------------------------------------------------------------------------------
    def train_mode(self, itr: int) -> None:
        super().train_mode(itr)
        self.q_model.train()

    def sample_mode(self, itr: int) -> None:
        super().sample_mode(itr)
        self.q_model.eval()
        if self._uniform_until_itr is not None:
            self._explore_uniform.fill_(itr < self._uniform_until_itr)

    def eval_mode(self, itr: int) -> None:
        super().eval_mode(itr)
        self.q_model.eval()

    # --- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """The online actor and critics (the targets: :meth:`target_state_dict`)."""
        return dict(model=self.model.state_dict(), q_model=self.q_model.state_dict())

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Load an agent ``state_dict``, or the actor's weights alone. A checkpoint written before the targets
        moved to the algorithm's state (its agent state holds ``target_q_model``) loads its targets too."""
        if "q_model" not in state_dict:
            load_weights(self.model, state_dict, f"{type(self).__name__} actor")
            if self.target_model is not None:
                self.target_model.load_state_dict(state_dict)
        else:
            load_weights(self.model, state_dict["model"], f"{type(self).__name__} actor")
            load_weights(self.q_model, state_dict["q_model"], f"{type(self).__name__} critics")
            if "target_q_model" in state_dict:
                self.load_target_state_dict({k: state_dict[k] for k in ("target_q_model", "target_model")
                                             if k in state_dict})
        self.sync_shared_memory()

    def target_state_dict(self) -> Dict[str, Any]:
        """The target networks: ``{"target_q_model": ..., "target_model": ...}`` (no actor target for SAC)."""
        state = dict(target_q_model=self.target_q_model.state_dict())
        if self.target_model is not None:
            state["target_model"] = self.target_model.state_dict()
        return state

    def load_target_state_dict(self, state_dict: Dict[str, Any]) -> None:
        load_weights(self.target_q_model, state_dict["target_q_model"], f"{type(self).__name__} target critics")
        if self.target_model is not None:
            load_weights(self.target_model, state_dict.get("target_model", self.model.state_dict()),
                         f"{type(self).__name__} target actor")


def _frozen_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` whose parameters never require gradients (a target network)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target
