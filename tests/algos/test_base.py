"""RlAlgorithm's family-neutral plumbing: optimizer building, learning-rate schedule, clipped steps, state."""
import pytest
import torch

from rlframe.algos.base import RlAlgorithm


class Plain(RlAlgorithm):
    """An algorithm that declares nothing beyond the base class."""

    def initialize(self, agent, n_itr, batch_spec, mid_batch_reset=True, examples=None, world_size=1, rank=0):
        self.n_itr = n_itr


def test_declared_defaults_runners_rely_on():
    algo = Plain()
    assert (algo.bootstrap_value, algo.final_observation, algo.discount, algo.mid_batch_reset) == (
        False, False, None, True)
    assert algo.update_counter == 0 and algo.optimizer is None
    assert algo.optim_state_dict() is None and algo.state_dict() == {}
    algo.load_state_dict({})  # nothing to restore: accepted


def test_make_optimizer_loads_initial_state():
    net = torch.nn.Linear(3, 1)
    opt = RlAlgorithm.make_optimizer(net.parameters(), torch.optim.Adam, 0.1, dict(eps=1e-5))
    net(torch.ones(2, 3)).sum().backward()
    opt.step()
    again = RlAlgorithm.make_optimizer(net.parameters(), torch.optim.Adam, 0.1, dict(eps=1e-5), opt.state_dict())
    assert again.param_groups[0]["eps"] == 1e-5
    assert torch.equal(again.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


@pytest.mark.parametrize("linear", [False, True])
def test_learning_rate_schedule(linear):
    algo = Plain()
    algo.initialize(None, 4, None)
    algo.learning_rate, algo.linear_lr_schedule = 0.8, linear
    nets = [torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)]
    algo.optimizer = torch.optim.SGD(nets[0].parameters(), lr=1.0)
    other = torch.optim.SGD(nets[1].parameters(), lr=1.0)
    lrs = [algo.set_learning_rate(i) for i in range(4)]
    assert lrs == pytest.approx([0.8, 0.6, 0.4, 0.2] if linear else [0.8] * 4)
    assert algo.optimizer.param_groups[0]["lr"] == pytest.approx(lrs[-1])
    assert algo.set_learning_rate(10, [other]) == pytest.approx(0.2 if linear else 0.8)  # floor: 1/n_itr
    assert other.param_groups[0]["lr"] == pytest.approx(0.2 if linear else 0.8)


def test_optimizer_step_clips_and_returns_the_norm_before_clipping():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=1.0)
    w.grad = torch.tensor([3.0, 4.0])
    norm = RlAlgorithm.optimizer_step(opt, [w], max_grad_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    assert torch.allclose(w.detach(), -torch.tensor([0.6, 0.8]), atol=1e-5)  # stepped with the clipped gradient
    RlAlgorithm.zero_grad([w])
    assert w.grad is None
