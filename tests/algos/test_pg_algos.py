import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents import CategoricalPgAgent
from rlframe.agents.pg import AgentInfo
from rlframe.algos.pg import A2C, PPO
from rlframe.distributions import DistInfo
from rlframe.envs.base import EnvSpaces
from rlframe.models import CategoricalPgMlpModel
from rlframe.samplers.base import AgentSamplesBsv, BatchSpec, EnvSamples, Samples

T, B, OBS = 8, 4, 3


def make_agent(seed=0):
    torch.manual_seed(seed)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(16,)))
    agent.initialize(EnvSpaces(gym.spaces.Box(-1, 1, (OBS,), np.float32), gym.spaces.Discrete(2)))
    return agent


def bandit_samples(agent, rng, T=T, B=B, valid_cut=None):
    """Contextual bandit batch: action 1 is rewarded (reward 1), action 0 is not; every step terminates.
    Numpy buffers, as SerialSampler returns them."""
    obs = rng.normal(size=(T, B, OBS)).astype(np.float32)
    agent.sample_mode(0)
    step = agent.step(torch.from_numpy(obs), None, None)
    action = step.action.numpy()
    reward = (action == 1).astype(np.float32)
    term = np.ones((T, B), bool)
    f = np.zeros((T, B), bool)
    agent_samples = AgentSamplesBsv(
        action=action, prev_action=np.zeros_like(action),
        agent_info=AgentInfo(DistInfo(step.agent_info.dist_info.logits.numpy()), step.agent_info.value.numpy()),
        bootstrap_value=np.zeros((1, B), np.float32))
    env = EnvSamples(observation=obs, reward=reward, prev_reward=np.zeros((T, B), np.float32), terminated=term,
                     truncated=f, done=term.copy(), timeout_value=np.zeros((T, B), np.float32), env_info=None)
    return Samples(agent_samples, env)


def flat_batch(algo, s):
    """``(obs, action, old_logp, old_value, return_, advantage, valid)`` of bandit samples ``s``, flattened to
    ``T*B`` torch tensors (``valid`` None when every slot is real), for references built on ``algo.loss``."""
    n = T * B
    ret, adv, valid = algo.process_returns(s)
    act = torch.from_numpy(s.agent.action.reshape(n))
    with torch.no_grad():
        old = algo.agent.distribution.log_likelihood(act, DistInfo(torch.from_numpy(
            s.agent.agent_info.dist_info.logits.reshape(n, 2))))
    return (torch.from_numpy(s.env.observation.reshape(n, OBS)), act, old,
            torch.from_numpy(s.agent.agent_info.value.reshape(n)), torch.from_numpy(ret.reshape(n)),
            torch.from_numpy(adv.reshape(n)), None if valid is None else torch.from_numpy(valid.reshape(n)))


def prob_good(agent, rng):
    with torch.no_grad():
        dist_info, _ = agent(torch.from_numpy(rng.normal(size=(256, OBS)).astype(np.float32)), None, None)
    return torch.softmax(dist_info.logits, -1)[:, 1].mean().item()


@pytest.mark.parametrize("Algo,kwargs", [
    (PPO, dict(epochs=4, minibatches=2, learning_rate=3e-3)),
    (PPO, dict(epochs=4, minibatches=2, learning_rate=3e-3, fast_gradients=False)),
    (PPO, dict(epochs=4, minibatches=1, learning_rate=3e-3, value_clip=0.2, linear_clip_schedule=True)),
    (A2C, dict(learning_rate=3e-3)),
])
def test_pg_algos_learn_a_bandit(Algo, kwargs):
    rng = np.random.default_rng(0)
    agent = make_agent()
    algo = Algo(discount=0.9, gae_lambda=0.95, **kwargs)
    algo.initialize(agent, n_itr=40, batch_spec=BatchSpec(T, B))
    before = prob_good(agent, np.random.default_rng(1))
    for itr in range(40):
        opt_info = algo.optimize_agent(itr, bandit_samples(agent, rng))
    after = prob_good(agent, np.random.default_rng(1))
    assert after > before + 0.2
    for field in opt_info._fields:
        vals = getattr(opt_info, field)
        assert len(vals) >= 1, field
        # explained variance is nan once every return is equal (the policy always pulls the good arm)
        assert field == "explained_variance" or all(np.isfinite(vals)), field
    expected = {"policy_loss", "value_loss", "entropy", "explained_variance", "learning_rate", "grad_norm"}
    if Algo is PPO:
        expected |= {"approx_kl", "clip_fraction"}
        assert len(opt_info.policy_loss) == kwargs["epochs"] * kwargs["minibatches"]
    assert expected <= set(opt_info._fields)
    assert algo.update_counter == (40 * kwargs["epochs"] * kwargs["minibatches"] if Algo is PPO else 40)


def test_ppo_first_step_statistics_and_clipping():
    rng = np.random.default_rng(0)
    agent = make_agent()
    algo = PPO(epochs=1, minibatches=1)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(T, B))
    s = bandit_samples(agent, rng)
    n = T * B
    obs = torch.from_numpy(s.env.observation.reshape(n, OBS))
    action = torch.from_numpy(s.agent.action.reshape(n))
    with torch.no_grad():
        old_logp = agent.distribution.log_likelihood(action, agent(obs, None, None)[0])
    adv = torch.from_numpy(np.random.default_rng(2).normal(size=n).astype(np.float32))
    ret = torch.zeros(n)
    old_v = torch.zeros(n)
    loss, (pl, vl, ent, kl, cf) = algo.loss((obs, None, None), action, old_logp, old_v, ret, adv, None, 0.2)
    # Same policy as at sampling: ratio 1, normalised advantages have mean 0.
    assert pl.item() == pytest.approx(0.0, abs=1e-5)
    assert kl.item() == pytest.approx(0.0, abs=1e-6) and cf.item() == 0.0
    assert ent.item() == pytest.approx(np.log(2), abs=0.05)  # near-uniform initial policy (gain 0.01)
    # Ratios far above 1 + clip with positive advantages: clipped, so no policy gradient (value loss off,
    # advantages not re-normalised, which would make some of them negative).
    algo.value_loss_coeff = 0.0
    algo.normalize_advantage = False
    _, (pl, *_, cf) = algo.loss((obs, None, None), action, old_logp - 1.0, old_v, ret, adv.abs() + 1, None, 0.2)
    assert cf.item() == 1.0
    assert pl.item() == pytest.approx(-1.2 * (adv.abs() + 1).mean().item(), rel=1e-5)
    agent.model.zero_grad()
    algo.loss((obs, None, None), action, old_logp - 1.0, old_v, ret, adv.abs() + 1, None, 0.2)[0].backward()
    assert all(p.grad is None or p.grad.abs().max().item() == 0.0 for p in agent.parameters())


@pytest.mark.parametrize("mid_batch_reset", [False, True])
def test_ppo_valid_mask_ignores_blanks(mid_batch_reset):
    """Wait-reset batches: slots after an env's first done must not change the loss, whatever
    mid_batch_reset the algorithm was told (blanks are recognised from the samples)."""
    rng = np.random.default_rng(0)
    agent = make_agent()
    s = bandit_samples(agent, rng)
    s.env.terminated[:] = False
    s.env.done[:] = False
    s.env.terminated[2, 0] = s.env.done[2:, 0] = True   # env 0 ends at t=2, blanks after
    s.env.terminated[5, 1] = s.env.done[5:, 1] = True
    algo = PPO(epochs=1, minibatches=1)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(T, B), mid_batch_reset=mid_batch_reset)
    ret, adv, valid = algo.process_returns(s)
    assert valid[:3, 0].all() and not valid[3:, 0].any() and valid[:6, 1].all() and not valid[6:, 1].any()

    def total_loss(samples):
        r, a, v = algo.process_returns(samples)
        n = T * B
        obs = torch.from_numpy(samples.env.observation.reshape(n, OBS))
        act = torch.from_numpy(samples.agent.action.reshape(n))
        with torch.no_grad():
            old = agent.distribution.log_likelihood(act, DistInfo(torch.from_numpy(
                samples.agent.agent_info.dist_info.logits.reshape(n, 2))))
        return algo.loss((obs, None, None), act, old, torch.from_numpy(samples.agent.agent_info.value.reshape(n)),
                         torch.from_numpy(r.reshape(n)), torch.from_numpy(a.reshape(n)),
                         torch.from_numpy(v.reshape(n)), 0.2)[0].item()

    before = total_loss(s)
    s.env.reward[4:, 0] = 100.0  # garbage in invalid slots
    s.env.observation[4:, 0] = 50.0
    assert total_loss(s) == pytest.approx(before, rel=1e-6)


def test_schedules_and_optimizer_state_roundtrip():
    agent = make_agent()
    algo = PPO(learning_rate=1e-3, ratio_clip=0.2, linear_clip_schedule=True, epochs=2, minibatches=2)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(T, B))
    rng = np.random.default_rng(0)
    info0 = algo.optimize_agent(0, bandit_samples(agent, rng))
    info5 = algo.optimize_agent(5, bandit_samples(agent, rng))
    assert info0.learning_rate == [pytest.approx(1e-3)] and info0.ratio_clip == [pytest.approx(0.2)]
    assert info5.learning_rate == [pytest.approx(5e-4)] and info5.ratio_clip == [pytest.approx(0.1)]
    state = algo.optim_state_dict()
    agent2 = make_agent()
    agent2.load_state_dict(agent.state_dict())
    algo2 = PPO(learning_rate=1e-3)
    algo2.initialize(agent2, n_itr=10, batch_spec=BatchSpec(T, B))
    algo2.load_optim_state_dict(state)
    s1 = algo.optimizer.state_dict()["state"]
    s2 = algo2.optimizer.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"])


def test_ppo_rejects_more_minibatches_than_samples():
    from rlframe.errors import ConfigError

    with pytest.raises(ConfigError):
        PPO(minibatches=64).initialize(make_agent(), 10, BatchSpec(4, 2))


class ConstValueModel(CategoricalPgMlpModel):
    """V(s) = 10 for every s (the true value of 'reward 1 forever' at gamma 0.9)."""

    def _heads(self, x):
        pi, v = super()._heads(x)
        return pi, torch.full_like(v, 10.0)

    def _value_head(self, x):
        return torch.full(x.shape[:1], 10.0)


class ConstantRewardEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}

    def step(self, action):
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), 1.0, False, False, {}


def test_truncation_bootstrap_through_serial_sampler():
    """End to end with the real collector: episodes truncated every 5 steps by gymnasium's TimeLimit;
    the collector stores V(true final obs) = 10 in timeout_value and every PPO return target is 10."""
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.serial import SerialSampler

    env_id = "RlframeTestConstantReward-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=ConstantRewardEnv, max_episode_steps=5)
    sampler = SerialSampler(GymEnv, dict(id=env_id), batch_T=12, batch_B=2, max_decorrelation_steps=0)
    agent = CategoricalPgAgent(ModelCls=ConstValueModel)
    algo = PPO(discount=0.9, gae_lambda=0.8, epochs=1, minibatches=1)
    try:
        sampler.initialize(agent, seed=0, bootstrap_value=algo.bootstrap_value)
        algo.initialize(agent, n_itr=1, batch_spec=sampler.batch_spec, mid_batch_reset=sampler.mid_batch_reset)
        agent.sample_mode(0)
        samples, _ = sampler.obtain_samples(0)
        assert samples.env.truncated[4].all() and samples.env.truncated[9].all()
        np.testing.assert_allclose(samples.env.timeout_value[[4, 9]], 10.0)
        ret, adv, valid = algo.process_returns(samples)
        assert valid is None
        np.testing.assert_allclose(ret, 10.0, rtol=1e-5)
        np.testing.assert_allclose(adv, 0.0, atol=1e-4)
    finally:
        sampler.shutdown()


@pytest.mark.parametrize("kwargs,with_valid", [
    (dict(), False),
    (dict(value_clip=0.05, entropy_loss_coeff=0.01), False),
    (dict(entropy_loss_coeff=0.02), True),
])
def test_ppo_fast_gradients_equal_autograd_loss(kwargs, with_valid):
    """optimize_agent's closed-form gradients == autograd of PPO.loss, with clipping active."""
    rng = np.random.default_rng(3)
    agent_a, agent_b = make_agent(5), make_agent(5)
    s = bandit_samples(agent_a, rng)
    # Make the stored (old) policy differ from the current one so that ratios leave the clip range,
    # and the stored values differ so that value clipping engages.
    s.agent.agent_info.dist_info.logits[:] += rng.normal(scale=0.5, size=s.agent.agent_info.dist_info.logits.shape)
    s.agent.agent_info.value[:] += rng.normal(scale=0.2, size=s.agent.agent_info.value.shape).astype(np.float32)
    s.env.reward[:] = rng.normal(size=s.env.reward.shape)
    mid_batch_reset = True
    if with_valid:
        s.env.terminated[:] = False
        s.env.done[:] = False
        s.env.terminated[3, 1] = s.env.done[3:, 1] = True
        mid_batch_reset = False
    common = dict(epochs=1, minibatches=1, learning_rate=1.0, linear_lr_schedule=False, max_grad_norm=None,
                  OptimCls=torch.optim.SGD, optim_kwargs={}, **kwargs)
    algo_a, algo_b = PPO(fast_gradients=True, **common), PPO(**common)
    algo_a.initialize(agent_a, 10, BatchSpec(T, B), mid_batch_reset=mid_batch_reset)
    algo_b.initialize(agent_b, 10, BatchSpec(T, B), mid_batch_reset=mid_batch_reset)
    before = [p.detach().clone() for p in agent_a.parameters()]
    info = algo_a.optimize_agent(0, s)
    fast_grads = [b - p.detach() for b, p in zip(before, agent_a.parameters())]  # SGD, lr 1: delta = -grad

    obs, act, old, old_v, ret, adv, vt = flat_batch(algo_b, s)
    loss, stats = algo_b.loss((obs, None, None), act, old, old_v, ret, adv, vt, 0.2)
    assert 0.0 < stats[4].item() < 1.0  # some, not all, ratios clipped
    loss.backward()
    for g_fast, p in zip(fast_grads, agent_b.parameters()):
        torch.testing.assert_close(g_fast, p.grad, rtol=1e-4, atol=1e-6)
    for name, ref in zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"), stats):
        assert getattr(info, name)[0] == pytest.approx(ref.item(), rel=1e-4, abs=1e-6), name


def test_ppo_target_kl_stops_before_the_step_that_would_exceed_it():
    """SB3's rule: the approximate KL is measured on each minibatch before its gradient step and, once
    above 1.5 * target_kl, that step is not taken. A stored policy far from the current one exceeds it
    at once: no update at all (the parameters stay put), and the OptInfo has no per-step entries."""
    rng = np.random.default_rng(0)
    agent = make_agent()
    s = bandit_samples(agent, rng)
    s.agent.agent_info.dist_info.logits[:] += rng.normal(scale=2.0, size=s.agent.agent_info.dist_info.logits.shape)
    algo = PPO(epochs=3, minibatches=2, target_kl=1e-3)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(T, B))
    before = [p.detach().clone() for p in agent.parameters()]
    info = algo.optimize_agent(0, s)
    assert algo.update_counter == 0 and info.grad_norm == [] and info.policy_loss == []
    assert all(torch.equal(b, p) for b, p in zip(before, agent.parameters()))
    assert len(info.learning_rate) == 1 and len(info.explained_variance) == 1

    algo = PPO(epochs=3, minibatches=2, target_kl=1e6)  # never reached: every step is taken
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(T, B))
    info = algo.optimize_agent(0, bandit_samples(agent, rng))
    assert algo.update_counter == 6 and len(info.grad_norm) == 6


def _variant_agent(kind, seed):
    from rlframe.agents import GaussianPgAgent

    torch.manual_seed(seed)
    box = gym.spaces.Box(-1, 1, (OBS,), np.float32)
    if kind == "masked":
        space = gym.spaces.Dict({"x": box, "action_mask": gym.spaces.MultiBinary(5)})
        agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=(16,), shared=True))
        agent.initialize(EnvSpaces(space, gym.spaces.Discrete(5)))
    else:
        agent = GaussianPgAgent(model_kwargs=dict(hidden_sizes=(16,), shared=kind.endswith("shared"),
                                                  state_dependent_std=kind.startswith("gauss_sd")))
        agent.initialize(EnvSpaces(box, gym.spaces.Box(-1, 1, (2,), np.float32)))
    return agent


@pytest.mark.parametrize("kind", ["gauss", "gauss_sd_shared", "gauss_sd", "masked"])
def test_ppo_fast_gradients_equal_autograd_for_gaussian_and_masked_policies(kind):
    """The closed-form surrogate gradients also match autograd for Gaussian policies (state-independent
    and state-dependent log_std, separate and shared trunks) and for masked categoricals."""
    from rlframe.core.namedarraytuple import map_leaves, namedarraytuple

    rng = np.random.default_rng(4)
    agent_a, agent_b = _variant_agent(kind, 7), _variant_agent(kind, 7)
    x = rng.normal(size=(T, B, OBS)).astype(np.float32)
    if kind == "masked":
        Obs = namedarraytuple("Obs", ["x", "action_mask"])
        mask = (rng.random((T, B, 5)) < 0.6).astype(np.int8)
        mask[..., 0] = 1
        obs = Obs(x, mask)
    else:
        obs = x
    agent_a.sample_mode(0)
    step = agent_a.step(map_leaves(torch.from_numpy, obs), None, None)
    dist_info = map_leaves(lambda v: v.detach().numpy().copy(), step.agent_info.dist_info)
    if kind != "masked":  # move the stored policy away from the current one so that ratios get clipped
        dist_info = map_leaves(lambda v: v + rng.normal(scale=0.3, size=v.shape).astype(np.float32), dist_info)
    action = step.action.numpy()
    value = step.agent_info.value.numpy() + rng.normal(scale=0.2, size=(T, B)).astype(np.float32)
    term = rng.random((T, B)) < 0.2
    s = Samples(
        AgentSamplesBsv(action=action, prev_action=np.zeros_like(action), agent_info=AgentInfo(dist_info, value),
                        bootstrap_value=np.zeros((1, B), np.float32)),
        EnvSamples(observation=obs, reward=rng.normal(size=(T, B)).astype(np.float32),
                   prev_reward=np.zeros((T, B), np.float32), terminated=term, truncated=np.zeros((T, B), bool),
                   done=term.copy(), timeout_value=np.zeros((T, B), np.float32), env_info=None))
    common = dict(epochs=1, minibatches=1, learning_rate=1.0, linear_lr_schedule=False, max_grad_norm=None,
                  OptimCls=torch.optim.SGD, optim_kwargs={}, value_clip=0.1, entropy_loss_coeff=0.01)
    algo_a, algo_b = PPO(fast_gradients=True, **common), PPO(**common)
    algo_a.initialize(agent_a, 10, BatchSpec(T, B))
    algo_b.initialize(agent_b, 10, BatchSpec(T, B))
    before = [p.detach().clone() for p in agent_a.parameters()]
    algo_a.optimize_agent(0, s)
    fast_grads = [b - p.detach() for b, p in zip(before, agent_a.parameters())]

    n = T * B
    flat = lambda v: torch.from_numpy(np.ascontiguousarray(v).reshape((n,) + v.shape[2:]))  # noqa: E731
    ret, adv, _ = algo_b.process_returns(s)
    act = flat(action)
    old = agent_b.distribution.log_likelihood(act, map_leaves(flat, dist_info))
    loss, _ = algo_b.loss((map_leaves(flat, obs), None, None), act, old, flat(value), flat(ret), flat(adv),
                          None, 0.2)
    loss.backward()
    for g_fast, p in zip(fast_grads, agent_b.parameters()):
        scale = p.grad.abs().max().item() + 1e-6
        torch.testing.assert_close(g_fast / scale, p.grad / scale, rtol=1e-4, atol=1e-5)


def _minibatch_reference(s, common, clip, seed, per_minibatch):
    """Parameters after one epoch of SGD (lr 1) over the minibatches PPO draws with torch seed ``seed``,
    each step ``loss(...).backward()``; advantages standardised per minibatch (``per_minibatch``) or,
    wrongly, over the whole batch."""
    def normalize_advantage(a):  # SB3's, written out here so that the reference does not share PPO's code
        return (a - a.mean()) / (a.std() + 1e-8)

    agent, algo = make_agent(9), PPO(**common)
    algo.initialize(agent, 10, BatchSpec(T, B))
    n = T * B
    obs, act, old, old_v, ret, adv, _ = flat_batch(algo, s)
    if not per_minibatch:
        adv = normalize_advantage(adv)
    torch.manual_seed(seed)
    perm = torch.randperm(n)
    size = n // algo.minibatches
    for m in range(algo.minibatches):
        idx = perm[m * size:(m + 1) * size]
        mb_adv = normalize_advantage(adv[idx]) if per_minibatch else adv[idx]
        loss, _ = algo.loss((obs[idx], None, None), act[idx], old[idx], old_v[idx], ret[idx], mb_adv, None, clip,
                            advantage_normalized=True)
        for p in agent.parameters():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in agent.parameters():
                p -= p.grad
    return [p.detach().clone() for p in agent.parameters()]


@pytest.mark.parametrize("fast_gradients", [True, False])
def test_ppo_minibatches_normalise_advantages_per_minibatch(fast_gradients):
    """Several minibatches: each step standardises the advantages of its own minibatch (SB3). The result
    equals a step-by-step autograd reference, and differs from normalising over the whole batch, so a
    path that normalised once per batch (or not at all) fails here."""
    rng = np.random.default_rng(5)
    s = bandit_samples(make_agent(9), rng)
    s.agent.agent_info.dist_info.logits[:] += rng.normal(scale=0.5, size=s.agent.agent_info.dist_info.logits.shape)
    s.env.reward[:] = rng.normal(loc=2.0, scale=3.0, size=s.env.reward.shape)
    common = dict(epochs=1, minibatches=4, learning_rate=1.0, linear_lr_schedule=False, max_grad_norm=None,
                  OptimCls=torch.optim.SGD, optim_kwargs={}, value_clip=0.1, entropy_loss_coeff=0.01)
    agent = make_agent(9)
    algo = PPO(fast_gradients=fast_gradients, **common)
    algo.initialize(agent, 10, BatchSpec(T, B))
    torch.manual_seed(123)
    info = algo.optimize_agent(0, s)
    assert len(info.grad_norm) == 4 and algo.update_counter == 4

    right = _minibatch_reference(s, common, 0.2, 123, per_minibatch=True)
    wrong = _minibatch_reference(s, common, 0.2, 123, per_minibatch=False)
    for p, r, w in zip(agent.parameters(), right, wrong):
        torch.testing.assert_close(p.detach(), r, rtol=1e-4, atol=1e-5)
    assert max((r - w).abs().max().item() for r, w in zip(right, wrong)) > 1e-2  # the test can tell them apart


def test_ppo_fast_and_autograd_paths_take_the_same_steps():
    """Whole optimize_agent runs (2 epochs x 3 minibatches, Adam, clipping, value clip, entropy): the closed-form
    path and the autograd path end at the same parameters with the same logged statistics."""
    rng = np.random.default_rng(6)
    s = bandit_samples(make_agent(2), rng)
    s.agent.agent_info.dist_info.logits[:] += rng.normal(scale=0.5, size=s.agent.agent_info.dist_info.logits.shape)
    common = dict(epochs=2, minibatches=3, learning_rate=1e-2, value_clip=0.1, entropy_loss_coeff=0.01,
                  max_grad_norm=0.5)
    out = {}
    for fast in (True, False):
        agent = make_agent(2)
        algo = PPO(fast_gradients=fast, **common)
        algo.initialize(agent, 10, BatchSpec(T, B))
        torch.manual_seed(7)
        out[fast] = algo.optimize_agent(0, s), [p.detach().clone() for p in agent.parameters()]
    (info_f, params_f), (info_a, params_a) = out[True], out[False]
    for a, b in zip(params_f, params_a):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"):
        np.testing.assert_allclose(getattr(info_f, name), getattr(info_a, name), rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("kind", ["categorical", "gauss"])
def test_ppo_closed_form_keeps_the_gradients_in_one_flat_buffer(kind):
    """The closed-form path writes every gradient into the algorithm's FlatGradients buffer (so clipping is one
    norm of it), for the twin-MLP categorical and Gaussian (state-independent log_std) models."""
    from rlframe.core.namedarraytuple import map_leaves

    rng = np.random.default_rng(8)
    s = bandit_samples(make_agent(3), rng)
    agent = make_agent(3) if kind == "categorical" else _variant_agent("gauss", 3)
    if kind == "gauss":  # the same observations and rewards, the Gaussian policy's actions
        agent.sample_mode(0)
        step = agent.step(torch.from_numpy(s.env.observation), None, None)
        info = AgentInfo(map_leaves(lambda v: v.detach().numpy().copy(), step.agent_info.dist_info),
                         step.agent_info.value.numpy())
        action = step.action.numpy()
        s = s._replace(agent=s.agent._replace(action=action, prev_action=np.zeros_like(action), agent_info=info))
    algo = PPO(epochs=2, minibatches=2, learning_rate=1e-2)
    algo.initialize(agent, 10, BatchSpec(T, B))
    before = [p.detach().clone() for p in agent.parameters()]
    algo.optimize_agent(0, s)
    assert algo._flat_grads is not None and algo._flat_grads.intact()
    assert algo._flat_grads.flat.abs().sum() > 0
    assert any((p.detach() - b).abs().max() > 0 for p, b in zip(agent.parameters(), before))
