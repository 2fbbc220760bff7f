"""PPO's closed-form backward pass (rlframe/algos/pg/closed_form.py): when it applies, and that whole
optimize_agent runs with it end where autograd's backward pass ends."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import rlframe.algos.pg.ppo as ppo_module
from rlframe.agents import CategoricalPgAgent, GaussianPgAgent
from rlframe.algos.pg import PPO
from rlframe.algos.pg.closed_form import CategoricalClosedForm, GaussianClosedForm, closed_form_policy
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.base import EnvSpaces
from rlframe.samplers.base import BatchSpec

from tests.algos.test_pg_algos import OBS, T, B, bandit_samples

BOX = gym.spaces.Box(-1, 1, (OBS,), np.float32)


def _agent(kind, seed=0, **model_kwargs):
    torch.manual_seed(seed)
    if kind == "categorical":
        agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(16, 16), **model_kwargs))
        agent.initialize(EnvSpaces(BOX, gym.spaces.Discrete(2)))
    else:
        agent = GaussianPgAgent(model_kwargs=dict(hidden_sizes=(16, 16), nonlinearity=torch.nn.ReLU, **model_kwargs))
        agent.initialize(EnvSpaces(BOX, gym.spaces.Box(-1, 1, (2,), np.float32)))
    return agent


def test_closed_form_applies_to_the_usual_ppo_agents_only():
    obs = torch.zeros(4, OBS)
    assert isinstance(closed_form_policy(_agent("categorical"), obs), CategoricalClosedForm)
    assert isinstance(closed_form_policy(_agent("gaussian"), obs), GaussianClosedForm)
    assert closed_form_policy(_agent("categorical", shared=True), obs) is None
    clamped = GaussianPgAgent(min_std=0.1, model_kwargs=dict(hidden_sizes=(16,)))
    clamped.initialize(EnvSpaces(BOX, gym.spaces.Box(-1, 1, (2,), np.float32)))
    assert closed_form_policy(clamped, obs) is None
    Obs = namedarraytuple("Obs", ["x", "action_mask"])
    masked = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(16,)))
    masked.initialize(EnvSpaces(gym.spaces.Dict({"x": BOX, "action_mask": gym.spaces.MultiBinary(2)}),
                                gym.spaces.Discrete(2)))
    assert closed_form_policy(masked, Obs(obs, torch.ones(4, 2))) is None


def _gaussian_samples(agent, rng):
    """A Box-action batch (every step terminates) whose stored policy differs from the current one."""
    from rlframe.agents.pg.base import AgentInfo
    from rlframe.distributions.gaussian import DistInfoStd
    from rlframe.samplers.base import AgentSamplesBsv, EnvSamples, Samples

    obs = rng.normal(size=(T, B, OBS)).astype(np.float32)
    agent.sample_mode(0)
    step = agent.step(torch.from_numpy(obs), None, None)
    info = step.agent_info.dist_info
    dist_info = DistInfoStd(info.mean.numpy() + rng.normal(scale=0.3, size=info.mean.shape).astype(np.float32),
                            info.log_std.detach().numpy().copy())
    action = step.action.numpy()
    value = step.agent_info.value.numpy() + rng.normal(scale=0.2, size=(T, B)).astype(np.float32)
    term = np.ones((T, B), bool)
    return Samples(
        AgentSamplesBsv(action=action, prev_action=np.zeros_like(action), agent_info=AgentInfo(dist_info, value),
                        bootstrap_value=np.zeros((1, B), np.float32)),
        EnvSamples(observation=obs, reward=rng.normal(size=(T, B)).astype(np.float32),
                   prev_reward=np.zeros((T, B), np.float32), terminated=term, truncated=np.zeros((T, B), bool),
                   done=term.copy(), timeout_value=np.zeros((T, B), np.float32), env_info=None))


@pytest.mark.parametrize("entropy_coeff", [0.01, 0.0])
@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_closed_form_and_autograd_backward_take_the_same_steps(kind, entropy_coeff, monkeypatch):
    """2 epochs x 3 minibatches with Adam, gradient clipping, value clipping and an entropy bonus (or none: the
    closed form then computes the logged entropies after the steps): the closed-form backward pass and autograd's
    (PPO's fast path with the closed form switched off) end at the same parameters with the same statistics."""
    rng = np.random.default_rng(11)
    if kind == "categorical":
        s = bandit_samples(_agent(kind), rng)
        s.agent.agent_info.dist_info.logits[:] += rng.normal(scale=0.5, size=s.agent.agent_info.dist_info.logits.shape)
    else:
        s = _gaussian_samples(_agent(kind), rng)
    common = dict(epochs=2, minibatches=3, learning_rate=1e-2, value_clip=0.1, entropy_loss_coeff=entropy_coeff,
                  max_grad_norm=0.5)
    out = {}
    for closed in (True, False):
        if not closed:
            monkeypatch.setattr(ppo_module, "closed_form_policy", lambda agent, observation: None)
        agent = _agent(kind, seed=1)
        algo = PPO(**common)
        algo.initialize(agent, 10, BatchSpec(T, B))
        torch.manual_seed(7)
        out[closed] = algo.optimize_agent(0, s), [p.detach().clone() for p in agent.parameters()]
    (info_c, params_c), (info_a, params_a) = out[True], out[False]
    start = [p.detach() for p in _agent(kind, seed=1).parameters()]
    assert max((a - b).abs().max().item() for a, b in zip(params_c, start)) > 1e-4  # steps were taken
    for a, b in zip(params_c, params_a):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"):
        np.testing.assert_allclose(getattr(info_c, name), getattr(info_a, name), rtol=1e-4, atol=1e-6, err_msg=name)


def test_closed_form_iterations_leave_no_inference_tensors_behind():
    """The closed-form path runs in inference mode; what outlives an iteration (optimiser state, gradients, the
    model's kept buffers) is made of normal tensors, so the autograd path can take over on the same algorithm and
    optimiser (in-place updates of inference tensors outside inference mode would raise)."""
    rng = np.random.default_rng(3)
    agent = _agent("categorical")
    s = bandit_samples(agent, rng)
    algo = PPO(epochs=2, minibatches=2, learning_rate=1e-2)
    algo.initialize(agent, 10, BatchSpec(T, B))
    info = algo.optimize_agent(0, s)
    assert len(info.policy_loss) == 4 and np.isfinite(info.grad_norm).all()
    state = [t for st in algo.optimizer.state.values() for t in st.values() if isinstance(t, torch.Tensor)]
    kept = list(agent.model.trunk._workspace.values()) + list(agent.model._grad_out)
    assert state and kept and not any(t.is_inference() for t in state + kept)
    assert not any(p.grad.is_inference() or p.is_inference() for p in agent.parameters())
    algo.fast_gradients = False  # the autograd path on the same optimiser and gradients
    before = [p.detach().clone() for p in agent.parameters()]
    algo.optimize_agent(1, s)
    assert any((p.detach() - b).abs().max() > 0 for p, b in zip(agent.parameters(), before))
