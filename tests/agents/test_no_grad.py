"""rlframe.agents.base.no_grad: torch.no_grad's result, passing straight through when autograd is already off."""
import gymnasium as gym
import torch

from rlframe.agents.base import no_grad
from rlframe.agents.pg import CategoricalPgAgent
from rlframe.envs.base import EnvSpaces


def test_outputs_never_track_gradients_and_grad_mode_is_restored():
    agent = CategoricalPgAgent(model_kwargs={"hidden_sizes": [8]})
    agent.initialize(EnvSpaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2)))
    agent.sample_mode(0)
    inputs = (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.zeros(4))
    for enabled in (True, False):
        with torch.set_grad_enabled(enabled):
            step = agent.step(*inputs)
            assert not step.agent_info.value.requires_grad
            assert not any(x.requires_grad for x in step.agent_info.dist_info)
            assert not agent.value(*inputs).requires_grad
            assert torch.is_grad_enabled() is enabled


def test_passes_through_when_autograd_is_off():
    seen = []

    @no_grad
    def f(x):
        seen.append(torch.is_grad_enabled())
        return x * 2

    w = torch.ones(2, requires_grad=True)
    assert not f(w).requires_grad and seen == [False]
    with torch.no_grad():
        assert not f(w).requires_grad
    assert f.__name__ == "f" and torch.is_grad_enabled()
