"""DQN's agent (Mnih et al. 2015): epsilon-greedy over a Q-network, with the target network it bootstraps from.

Acting: ``step`` picks ``argmax_a Q(s, a)`` and, with probability epsilon, a uniformly random (feasible)
action (:class:`~rlframe.distributions.epsilon_greedy.EpsilonGreedy`). Epsilon follows a linear schedule
over *env steps* in ``sample`` mode (``eps_init`` -> ``eps_final`` over ``eps_steps`` after ``eps_start``)
and is the constant ``eps_eval`` in ``eval`` mode.

The schedule is read in env steps, but ``sample_mode`` receives the iteration: the algorithm tells the
agent the batch size once (:meth:`DqnAgent.set_env_steps_per_itr`, done by
:class:`~rlframe.algos.dqn.dqn.DQN`). The sampling epsilon lives in a one-element tensor, in shared
memory when the model is (``CpuSampler``): the master writes it in ``sample_mode(itr)`` before each batch
and the workers' agent copies read it, so every worker acts with the master's schedule.

Training: ``agent(observation, prev_action, prev_reward)`` is the online network's output and
``agent.target(...)`` the target network's (no graph), on the model's device; ``update_target(tau)``
copies (tau = 1) or Polyak-averages (``target <- tau * online + (1 - tau) * target``) the weights.
``state_dict()`` is the online model's (like every agent); the target's travels in the algorithm's
``state_dict`` (:meth:`target_state_dict`).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import gymnasium as gym
import torch

from rlframe.agents.base import AgentStep, BaseAgent, load_weights
from rlframe.core.buffers import buffer_to
from rlframe.core.namedarraytuple import is_namedtuple, namedarraytuple
from rlframe.distributions.epsilon_greedy import EpsilonGreedy
from rlframe.errors import ConfigError
from rlframe.models.dqn import DqnMlpModel
from rlframe.models.observation import observation_shape_from_space

DqnAgentInfo = namedarraytuple("DqnAgentInfo", ["q"])


def linear_schedule(step: float, start: float, end: float, begin_step: float, n_steps: float) -> float:
    """``start`` until ``begin_step``, then linearly to ``end`` over ``n_steps`` steps, then ``end``."""
    if n_steps <= 0:
        return end if step >= begin_step else start
    frac = min(max((step - begin_step) / n_steps, 0.0), 1.0)
    return start + frac * (end - start)


class DqnAgent(BaseAgent):
    """Epsilon-greedy Q-learning agent for ``Discrete(n)`` actions (see the module docstring).

    Args:
        ModelCls: Q-network class taking ``observation_shape`` and ``action_size`` (default
            :class:`~rlframe.models.dqn.DqnMlpModel`; :class:`~rlframe.models.dqn.DqnConvModel` for images).
        model_kwargs: extra model arguments (``hidden_sizes``, ``dueling``, ...).
        initial_model_state_dict: weights loaded into the online (and so the target) network.
        eps_init, eps_final: sampling epsilon at the start and the end of the schedule.
        eps_steps: env steps of the linear decay.
        eps_start: env steps before the decay begins (epsilon stays ``eps_init``).
        eps_eval: epsilon in eval mode.
        mask_field: observation field holding an action mask (1 = allowed), used whenever present:
            masked actions are never picked, neither greedily nor at random, nor by the target's max.
    """

    def __init__(self, ModelCls: type = DqnMlpModel, model_kwargs: Optional[Dict[str, Any]] = None,
                 initial_model_state_dict: Optional[Dict[str, Any]] = None, eps_init: float = 1.0,
                 eps_final: float = 0.05, eps_steps: int = 10_000, eps_start: int = 0, eps_eval: float = 0.0,
                 mask_field: str = "action_mask"):
        super().__init__(ModelCls, model_kwargs, initial_model_state_dict)
        for name, eps in (("eps_init", eps_init), ("eps_final", eps_final), ("eps_eval", eps_eval)):
            if not 0.0 <= float(eps) <= 1.0:
                raise ConfigError(f"{type(self).__name__}: {name} must lie in [0, 1], got {eps}.")
        self.eps_init, self.eps_final, self.eps_eval = float(eps_init), float(eps_final), float(eps_eval)
        self.eps_steps, self.eps_start = int(eps_steps), int(eps_start)
        self.mask_field = mask_field
        self.target_model: Optional[torch.nn.Module] = None
        self.env_steps_per_itr: Optional[int] = None
        self._sample_epsilon = torch.tensor(self.eps_init, dtype=torch.float32)

    # --- set-up -----------------------------------------------------------------------------------------
    def make_env_to_model_kwargs(self, env_spaces) -> Dict[str, Any]:
        space = env_spaces.action
        if not isinstance(space, gym.spaces.Discrete) or int(space.start) != 0:
            raise ConfigError(
                f"{type(self).__name__} needs a Discrete action space starting at 0, got {space}: for Box actions "
                "use a continuous-control agent (rlframe.agents.qpg), or wrap the env."
            )
        return dict(observation_shape=observation_shape_from_space(env_spaces.observation), action_size=int(space.n))

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None) -> None:
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.target_model = copy.deepcopy(self.model)
        for p in self.target_model.parameters():
            p.requires_grad_(False)
        if share_memory:
            self._sample_epsilon.share_memory_()
        self.distribution = EpsilonGreedy(dim=self.env_model_kwargs["action_size"], epsilon=self._sample_epsilon)

    def to_device(self, device: Any = None) -> None:
        super().to_device(device)
        if device is not None and self.target_model is not None:
            self.target_model.to(self.device)

    def set_env_steps_per_itr(self, n: int) -> None:
        """Env steps per sampler iteration (the batch size), to read the epsilon schedule in env steps."""
        self.env_steps_per_itr = int(n)

    # --- epsilon -----------------------------------------------------------------------------------------
    def epsilon_at(self, env_steps: float) -> float:
        """The sampling epsilon after ``env_steps`` env steps."""
        return linear_schedule(env_steps, self.eps_init, self.eps_final, self.eps_start, self.eps_steps)

    @property
    def sample_epsilon(self) -> float:
        """The sampling epsilon in force (for logging as ``train/epsilon``)."""
        return float(self._sample_epsilon)

    def sample_mode(self, itr: int) -> None:
        super().sample_mode(itr)
        # Only the agent told the batch size (the master's) writes the shared epsilon; worker copies read it.
        if self.env_steps_per_itr is not None:
            self._sample_epsilon.fill_(self.epsilon_at(itr * self.env_steps_per_itr))
        self.distribution.set_epsilon(self._sample_epsilon)

    def eval_mode(self, itr: int) -> None:
        super().eval_mode(itr)
        self.distribution.set_epsilon(self.eps_eval)

    # --- acting -------------------------------------------------------------------------------------------
    def _inputs(self, observation, prev_action, prev_reward):
        inputs = (observation, prev_action, prev_reward)
        return inputs if self.device.type == "cpu" else buffer_to(inputs, self.device)

    def action_mask(self, observation) -> Optional[torch.Tensor]:
        """The observation's action mask (``mask_field``), or None when it has none."""
        if is_namedtuple(observation) and self.mask_field in observation._fields:
            return getattr(observation, self.mask_field)
        return None

    def q_values(self, model_output: torch.Tensor) -> torch.Tensor:
        """Q-values ``[..., A]`` from the model's output (the identity here; C51 takes the expectation)."""
        return model_output

    def __call__(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """The online network's output on ``[T, B]`` / ``[B]`` inputs, on the model's device (with a graph)."""
        return self.model(*self._inputs(observation, prev_action, prev_reward))

    @torch.no_grad()
    def target(self, observation, prev_action, prev_reward) -> torch.Tensor:
        """The target network's output (no graph), on the model's device."""
        return self.target_model(*self._inputs(observation, prev_action, prev_reward))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward) -> AgentStep:
        """Epsilon-greedy actions on ``[B]`` inputs; ``agent_info.q`` holds the Q-values."""
        inputs = self._inputs(observation, prev_action, prev_reward)
        q = self.q_values(self.model(*inputs))
        action = self.distribution.sample(q, self.action_mask(inputs[0]))
        step = AgentStep(action=action, agent_info=DqnAgentInfo(q=q))
        return step if self.device.type == "cpu" else buffer_to(step, "cpu")

    # --- target network -------------------------------------------------------------------------------------
    def _online(self) -> torch.nn.Module:
        return self.model.module if hasattr(self.model, "module") else self.model

    @torch.no_grad()
    def update_target(self, tau: float = 1.0) -> None:
        """``target <- tau * online + (1 - tau) * target`` (tau = 1: a copy)."""
        online = list(self._online().parameters())
        target = list(self.target_model.parameters())
        if tau >= 1.0:
            torch._foreach_copy_(target, online)
        else:
            torch._foreach_lerp_(target, online, float(tau))
        for tb, ob in zip(self.target_model.buffers(), self._online().buffers()):
            tb.copy_(ob)

    def target_state_dict(self) -> Dict[str, Any]:
        return self.target_model.state_dict()

    def load_target_state_dict(self, state_dict: Dict[str, Any]) -> None:
        load_weights(self.target_model, state_dict, f"{type(self).__name__} target network")
