"""A tiny concrete ReplayAlgorithm (one-layer Q-learning) and its agent, only to test the off-policy
base and the runner's support for it; the real DQN lives in rlframe/algos/dqn/."""
from __future__ import annotations

import copy

import torch

from rlframe.agents.base import AgentStep, BaseAgent
from rlframe.algos.replay_base import ReplayAlgorithm
from rlframe.core.namedarraytuple import namedarraytuple

ToyInfo = namedarraytuple("ToyInfo", ["q"])


class LinearQ(torch.nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.fc = torch.nn.Linear(obs_dim, n_actions)

    def forward(self, observation, prev_action=None, prev_reward=None):
        return self.fc(observation.float())


class ToyQAgent(BaseAgent):
    """Epsilon-greedy over a linear Q-function (epsilon 0.5 while sampling, 0 in eval mode)."""

    def __init__(self, epsilon: float = 0.5):
        super().__init__(ModelCls=LinearQ)
        self.epsilon = epsilon

    def make_env_to_model_kwargs(self, env_spaces):
        return {"obs_dim": env_spaces.observation.shape[0], "n_actions": int(env_spaces.action.n)}

    def __call__(self, observation, prev_action, prev_reward):
        return self.model(observation)

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        q = self.model(observation)
        greedy = q.argmax(-1)
        eps = 0.0 if self._mode == "eval" else self.epsilon
        random = torch.randint(q.shape[-1], greedy.shape)
        action = torch.where(torch.rand(greedy.shape) < eps, random, greedy)
        return AgentStep(action=action, agent_info=ToyInfo(q=q.max(-1).values))


class ToyQ(ReplayAlgorithm):
    """One-layer Q-learning on replay batches; records every target update it is asked for."""

    opt_info_fields = ("loss", "td_abs_mean", "q_mean")

    def build_optimizers(self):
        self.target = copy.deepcopy(self.agent.model)
        self.optimizer = torch.optim.SGD(self.agent.model.parameters(), lr=self.learning_rate)
        self.target_calls = []
        self.batches = []

    def update_targets(self, tau):
        self.target_calls.append(tau)
        with torch.no_grad():
            for t, p in zip(self.target.parameters(), self.agent.model.parameters()):
                t.mul_(1 - tau).add_(tau * p)

    def train_step(self, batch):
        self.batches.append(batch)
        obs = batch.agent_inputs.observation
        q = self.agent.model(obs).gather(1, batch.action.long().unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            target = batch.return_ + batch.bootstrap_discount * self.target(batch.target_inputs.observation).max(1).values
        td = target - q
        loss = (batch.is_weights * td ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "td_abs_mean": td.abs().mean().item(), "q_mean": q.mean().item()}, td.abs().detach()

    def target_state_dict(self):  # this toy keeps its target itself, not in its agent
        return self.target.state_dict()

    def load_target_state_dict(self, state):
        self.target.load_state_dict(state)
