"""The MaskPlace CNN and the Circuit Training edge-GNN on real env observations: shapes, masking,
gradients, and a few PPO iterations on macro_tiles_10x10 through the normal agent and sampler."""
import gymnasium
import numpy as np
import pytest
import torch

import rlframe.placement  # noqa: F401  (registers the env)
from rlframe.agents import CategoricalPgAgent
from rlframe.algos.pg import PPO
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.envs.gym import GymEnv
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.placement.policies import POLICIES, EdgeGnnPolicy, MaskPlaceCnnPolicy
from rlframe.samplers.serial import SerialSampler

ENV_ID = "rlframe.placement:rlframe/MacroPlacement-v0"
OBSERVATION = {"cnn": "image", "gnn": "graph"}


def _obs_batch(name, design="macro_tiles_10x10", steps=3, **env_kwargs):
    """A [B] batch of real observations (after 0, 1, 2 placements) as a namedarraytuple of tensors."""
    env = gymnasium.make("rlframe/MacroPlacement-v0", design=design, observation=OBSERVATION[name], **env_kwargs)
    obs, _ = env.reset(seed=0)
    batch = []
    for _ in range(steps):
        batch.append(obs)
        obs, *_ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
    fields = sorted(batch[0])
    Obs = namedarraytuple(f"PolicyTestObs_{name}_{len(env_kwargs)}", fields)
    tensors = Obs(*(torch.as_tensor(np.stack([o[f] for o in batch])) for f in fields))
    shapes = {f: batch[0][f].shape for f in fields}
    return env, tensors, shapes


@pytest.mark.parametrize("name", ["cnn", "gnn"])
def test_shapes_masking_and_gradients(name):
    env, obs, shapes = _obs_batch(name)
    n_cells = env.action_space.n
    model = POLICIES[name](shapes, n_cells)
    logits, value = model(obs)
    assert logits.shape == (3, n_cells) and value.shape == (3,)
    # the agent's masking gives masked cells zero probability
    agent = CategoricalPgAgent(POLICIES[name])
    from rlframe.envs.base import EnvSpaces
    agent.initialize(EnvSpaces(env.observation_space, env.action_space))
    probs = agent._dist_info((logits, value), obs).logits.softmax(-1)
    mask = obs.action_mask.bool()
    assert (~mask).any() and torch.all(probs[~mask] == 0)
    assert torch.allclose(probs.sum(-1), torch.ones(3))
    # gradients reach every parameter through the policy and the value
    (probs[mask].log().mean() + value.sum()).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    # leading dims [T, B] work too
    logits_tb, value_tb = model(type(obs)(*(x.unsqueeze(0) for x in obs)))
    assert logits_tb.shape == (1, 3, n_cells) and torch.allclose(logits_tb[0], logits, atol=1e-5)


@pytest.mark.parametrize("name,next_macro", [("cnn", False), ("cnn", True), ("gnn", False)])
def test_a_gradient_step_raises_the_rewarded_cells_probability(name, next_macro, one_torch_thread):
    """Learning through the agent's masked distribution and the deconvolution head: Adam steps on the
    log-probability of the least likely feasible cell of each sample raise it (by > 0.5 nats), for the CNN with
    three and with five planes (MaskPlace's next-macro planes) and for the edge-GNN; masked cells stay at 0."""
    torch.manual_seed(0)
    env, obs, _ = _obs_batch(name, "toy_macro_stdcell", 2, run_fd=False,
                             **(dict(next_macro_planes=True) if next_macro else {}))
    grid = env.unwrapped.problem.grid
    agent = CategoricalPgAgent(POLICIES[name], model_kwargs=dict(grid=(grid.rows, grid.cols)) if name == "gnn" else {})
    from rlframe.envs.base import EnvSpaces
    agent.initialize(EnvSpaces(env.observation_space, env.action_space))

    def log_probs():
        return agent._dist_info(agent.model(obs), obs).logits.log_softmax(-1)

    mask = obs.action_mask.bool()
    before = log_probs().detach()
    target = torch.where(mask, before, torch.full_like(before, np.inf)).argmin(-1)
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        (-log_probs().gather(1, target[:, None]).sum()).backward()
        opt.step()
    after = log_probs().detach()
    rows = torch.arange(len(target))
    assert torch.all(after[rows, target] > before[rows, target] + 0.5), (before[rows, target], after[rows, target])
    assert torch.all(after[~mask].exp() == 0)


def test_gnn_uses_the_graph_and_the_current_node():
    env, obs, shapes = _obs_batch("gnn")
    torch.manual_seed(0)
    model = EdgeGnnPolicy(shapes, env.action_space.n)
    base, _ = model(obs)
    moved = obs.current_node.clone()
    moved[0, 0] = (moved[0, 0] + 7) % shapes["node_features"][0]
    other, _ = model(obs._replace(current_node=moved))
    assert not torch.allclose(base[0], other[0]) and torch.allclose(base[1:], other[1:])


def test_named_errors():
    with pytest.raises(ShapeMismatchError, match="observation='graph'"):
        EdgeGnnPolicy({"image": (3, 4, 4), "macro": (4,)}, 16)
    with pytest.raises(ShapeMismatchError, match="observation='image'"):
        MaskPlaceCnnPolicy({"node_features": (5, 9)}, 16)
    with pytest.raises(ShapeMismatchError, match="one action per grid cell"):
        MaskPlaceCnnPolicy({"image": (3, 4, 5), "macro": (4,)}, 21)
    graph = {"node_features": (5, 9), "edge_index": (2, 4), "edge_weight": (4,), "current_node": (1,)}
    with pytest.raises(ConfigError, match="grid=\\(rows, cols\\)"):
        EdgeGnnPolicy(graph, 20)
    assert EdgeGnnPolicy(graph, 20, grid=(4, 5))(namedarraytuple("G", list(graph))(
        torch.rand(5, 9), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]), torch.ones(4),
        torch.tensor([2])))[0].shape == (20,)


@pytest.mark.parametrize("name,reward", [("cnn", "mix"), ("gnn", "hpwl")])
def test_a_few_ppo_iterations_on_macro_tiles(name, reward, one_torch_thread):
    env_kwargs = dict(id=ENV_ID, design="macro_tiles_10x10", observation=OBSERVATION[name], reward=reward)
    sampler = SerialSampler(GymEnv, env_kwargs, batch_T=25, batch_B=2, max_decorrelation_steps=0)
    agent = CategoricalPgAgent(POLICIES[name])
    algo = PPO(discount=1.0, gae_lambda=0.95, epochs=1, minibatches=2)
    try:
        sampler.initialize(agent, seed=0, bootstrap_value=algo.bootstrap_value)
        algo.initialize(agent, n_itr=2, batch_spec=sampler.batch_spec, mid_batch_reset=sampler.mid_batch_reset)
        before = [p.detach().clone() for p in agent.parameters()]
        for itr in range(2):
            agent.sample_mode(itr)
            samples, _ = sampler.obtain_samples(itr)
            assert np.isfinite(samples.env.reward).all()
            agent.train_mode(itr)
            info = algo.optimize_agent(itr, samples)
        assert any(not torch.equal(a, b.detach()) for a, b in zip(before, agent.parameters()))
        assert np.isfinite(np.asarray(info.policy_loss + info.value_loss, dtype=float)).all()
    finally:
        sampler.shutdown()
