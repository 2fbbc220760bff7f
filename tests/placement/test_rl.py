"""`rlframe placement rl`: fine-tune for a few seconds and save a checkpoint, then place a different
netlist (another grid) zero-shot from it; the written .plc scores as reported under the protocol."""
import json
import os

import pytest

from rlframe.errors import ConfigError
from rlframe.placement import evaluate
from rlframe.placement.cli import main as placement_main
from rlframe.placement.rl import rl_place
from rlframe.placement.synthetic import SyntheticSpec, write_synthetic


@pytest.mark.parametrize("policy", ["cnn", "gnn"])
def test_fine_tune_then_zero_shot_on_another_netlist(tmp_path, capsys, policy):
    ck = str(tmp_path / "ck.pt")
    res = rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"), policy=policy, seconds=2.0, seed=0,
                   save_checkpoint=ck, batch_T=25, batch_B=2)
    assert res.env_steps >= 50 and res.evaluations >= 1 and res.costs["proxy_cost"] > 0
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=6, seed=1))
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", ck, "--time", "0",
                           "--out", str(tmp_path / "b.plc"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env_steps"] == res.env_steps and out["evaluations"] == 1
    assert evaluate(netlist, str(tmp_path / "b.plc"), fd="centre").costs["proxy_cost"] == \
        pytest.approx(out["proxy_cost"])


def test_zero_shot_needs_a_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="--time 0 needs --checkpoint"):
        rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"))
    with pytest.raises(ConfigError, match="does not exist"):
        rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"), checkpoint=str(tmp_path / "none.pt"))


def test_fine_tune_where_a_random_first_action_is_infeasible(tmp_path):
    """The sampler's start-up probe steps a random action; on this netlist many cells do not fit the
    first macro, which the env in infeasible_action='error' mode would refuse."""
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=16, seed=0))
    res = rl_place(netlist, str(tmp_path / "a.plc"), plc=plc, policy="cnn", seconds=0.1,
                   batch_T=16, batch_B=1)
    assert res.env_steps == 16 and res.costs["overlap"] == 0.0


def test_pretrained_checkpoint_places_an_unseen_netlist_zero_shot(tmp_path, capsys):
    """The shipped weights load (--checkpoint pretrained) and place a netlist they never saw (synthetic seeds
    0-99 are held out of pre-training) with --time 0; the .plc re-scores to the printed value."""
    from rlframe.placement.rl import PRETRAINED, load_checkpoint
    ck = load_checkpoint("pretrained")
    assert ck["policy"] == "cnn" and ck["env_steps"] > 0 and os.path.getsize(PRETRAINED) < 5 * 2 ** 20
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=8, seed=3))
    assert not any(os.path.basename(netlist) in n for n in ck["trained_on"])
    out = str(tmp_path / "z.plc")
    assert placement_main(["rl", "--netlist", netlist, "--checkpoint", "pretrained", "--time", "0",
                           "--samples", "0", "--out", out, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["evaluations"] == 1 and res["sampled"] == 0 and res["winner"] == "deterministic"
    assert res["overlap"] == 0.0
    assert evaluate(netlist, out, fd="none").costs["proxy_cost"] == pytest.approx(res["proxy_cost"], rel=1e-9)


def test_fine_tuning_keeps_the_best_sampled_placement(tmp_path):
    """Best-of-N: the result is never worse than any sampled or deterministic placement seen, and the
    sampled ones are replayed exactly (the env is deterministic)."""
    from rlframe.placement.rl import PolicyTrainer
    netlist, _ = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=4, seed=2))
    tr = PolicyTrainer("cnn", batch_T=8, batch_B=2, seed=0)
    tr.use(netlist)
    seen = []
    for _ in range(3):
        seen += tr.iterate()
        seen.append(tr.evaluate())
    tr.close()
    assert tr.sampled >= 4 and tr.best.cost == pytest.approx(min(c for c in seen if c is not None), rel=1e-6)
    env = tr.replay(tr.best)
    assert env.final_costs["proxy_cost"] == pytest.approx(tr.best.cost, rel=1e-6)


def test_sampling_without_training_keeps_the_best_of_n(tmp_path):
    """PolicyTrainer.sample: exactly N complete placements from the stochastic policy (envs in lockstep),
    the best of them and the deterministic one kept, replayed to the same cost; no PPO step taken."""
    from rlframe.placement.rl import PolicyTrainer
    netlist, _ = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=4))
    tr = PolicyTrainer("cnn", seed=0)
    tr.use(netlist, train=False)
    det = tr.evaluate()
    costs = tr.sample(episodes=10, envs=4)
    assert len(costs) == 10 and tr.sampled == 10 and tr.env_steps == 0 and tr.sample_steps >= 50
    assert len(set(costs)) > 1   # a stochastic policy, not the deterministic placement ten times
    assert tr.best.cost == pytest.approx(min(costs + [det]), rel=1e-6)
    assert tr.replay(tr.best).final_costs["proxy_cost"] == pytest.approx(tr.best.cost, rel=1e-6)
    with pytest.raises(ConfigError, match="episodes= or seconds="):
        tr.sample()


def test_zero_shot_best_of_n_and_sampling_after_fine_tuning(tmp_path, capsys):
    """`--samples N` adds N sampled placements to the zero-shot one; with --time, ``sample_share`` of the
    budget goes to sampling after PPO. The written .plc re-scores to the printed value."""
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=6, seed=5))
    out = str(tmp_path / "z.plc")
    assert placement_main(["rl", "--netlist", netlist, "--checkpoint", "pretrained", "--time", "0",
                           "--samples", "6", "--out", out, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["evaluations"] == 1 and res["sampled"] == 6
    assert evaluate(netlist, out, fd="none").costs["proxy_cost"] == pytest.approx(res["proxy_cost"], rel=1e-9)
    ft = rl_place(netlist, str(tmp_path / "f.plc"), checkpoint="pretrained", seconds=3.0, seed=0,
                  batch_T=6, batch_B=2, sample_share=0.5, sample_envs=4)
    assert ft.sampled > 2 and ft.seconds < 10.0
    ppo_only = rl_place(netlist, str(tmp_path / "g.plc"), checkpoint="pretrained", seconds=0.1, batch_T=12,
                        batch_B=2, sample_share=0.0)   # one PPO iteration: 2 envs x 2 episodes, nothing after
    assert ppo_only.sampled <= 4
    with pytest.raises(ConfigError, match="sample_share"):
        rl_place(netlist, out, checkpoint="pretrained", sample_share=1.0)


def test_env_kwargs_reach_every_env_of_the_trainer(tmp_path, one_torch_thread):
    """``rl_place(env_kwargs=dict(fd="none"))``: the policy trains and is selected on the cost with the soft
    macros at the .plc's positions (no FD at the episode ends), and the placement is written that way."""
    from rlframe.placement.rl import PolicyTrainer
    tr = PolicyTrainer("cnn", env_kwargs=dict(fd="none"), batch_T=8, batch_B=2)
    tr.use("sample_clustered")
    try:
        assert tr.show.unwrapped.fd_regime == "none" and tr.env_kwargs["fd"] == "none"
    finally:
        tr.close()
    out = str(tmp_path / "p.plc")
    res = rl_place("sample_clustered", out, policy="cnn", seconds=1.0, fd="none", reward="proxy",
                   env_kwargs=dict(fd="none"), batch_T=8, batch_B=2)
    # no FD at the episode's end: the soft macros were written where the design's .plc has them
    from rlframe.placement.designs import load_design
    nl, initial = load_design("sample_clustered", None)
    _, written = load_design("sample_clustered", out)
    def at(pl, node):
        row = list(pl.node_index).index(node)
        return pl.x[row], pl.y[row]
    soft = [int(i) for i in nl.soft_macro_indices]
    assert soft and all(at(written, i) == pytest.approx(at(initial, i), abs=1e-6) for i in soft)
    assert evaluate("sample_clustered", out, fd="none").costs["proxy_cost"] == \
        pytest.approx(res.costs["proxy_cost"], rel=1e-9)


def test_fine_tuning_starts_from_the_priors_best_of_n_and_evaluates_every_k(tmp_path):
    """With a checkpoint, the prior's best-of-N is sampled before the first PPO iteration (from scratch:
    not); the deterministic policy is placed after every ``eval_every``-th iteration and after the last;
    ``history`` lists each improvement of the best, ending at the written placement's cost."""
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=4, seed=6))
    for checkpoint in ("pretrained", None):
        seen = []
        res = rl_place(netlist, str(tmp_path / "f.plc"), plc=plc, checkpoint=checkpoint, seconds=4.0, seed=0,
                       batch_T=8, batch_B=2, samples=10, sample_share=0.5, sample_envs=4, eval_every=3,
                       on_iteration=lambda tr, t: seen.append((tr.itr, tr.evaluations, tr.sample_steps)))
        zero_shot = 1 if checkpoint else 0
        assert (seen[0][2] >= 10) if checkpoint else (seen[0][2] == 0)   # 10 episodes of >= 1 step each
        assert [e for _, e, _ in seen] == [zero_shot + itr // 3 for itr, _, _ in seen]
        assert res.evaluations == zero_shot + -(-len(seen) // 3)   # and one after the last iteration
        times, steps, costs, _ = zip(*res.history)
        assert list(times) == sorted(times) and list(steps) == sorted(steps)
        assert all(a > b for a, b in zip(costs, costs[1:])) and costs[-1] == pytest.approx(res.costs["proxy_cost"])
        if checkpoint:   # the zero-shot placement first, before any env step of PPO or sampling
            assert res.history[0][1:] == (0, res.zero_shot_cost, "deterministic")
    with pytest.raises(ConfigError, match="eval_every"):
        rl_place(netlist, str(tmp_path / "g.plc"), checkpoint="pretrained", seconds=1.0, eval_every=0)


def test_self_imitation_raises_the_likelihood_of_the_best_placement(tmp_path):
    """PolicyTrainer.imitate: optimizer steps on the best placement's own actions raise their mean
    log-likelihood (0 steps: measured only); rl_place(imitate=) fine-tunes with it and stays best-of-N."""
    from rlframe.placement.rl import PolicyTrainer
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    tr = PolicyTrainer("cnn", batch_T=10, batch_B=2, seed=0)
    tr.use(netlist)
    tr.iterate()
    tr.evaluate()
    before = tr.imitate(tr.best, 0)
    after = tr.imitate(tr.best, 30)
    assert after > before + 0.05                     # a fresh policy: ~log(1 / cells) per action
    assert tr.imitate(tr.best, 0) == pytest.approx(after)   # measured on the moved weights
    tr.close()
    res = rl_place(netlist, str(tmp_path / "i.plc"), plc=plc, checkpoint="pretrained", seconds=3.0, batch_T=10,
                   batch_B=2, samples=8, sample_envs=4, imitate=5)
    assert res.history[-1][2] == pytest.approx(res.costs["proxy_cost"]) and res.sampled >= 8


@pytest.mark.parametrize("policy", ["cell", "cnn", "gnn"])
def test_temper_divides_the_logits_and_keeps_the_argmax(tmp_path, policy):
    """temper(policy, state_dict, T): the same policy's logits divided by T (a softmax temperature: the
    deterministic placement's argmax is unchanged, the sampling distribution flatter for T > 1)."""
    import torch
    from rlframe.core.namedarraytuple import map_leaves
    from rlframe.placement.rl import PolicyTrainer, temper
    netlist, _ = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    tr = PolicyTrainer(policy, seed=0)
    tr.use(netlist, train=False)
    model = tr.agent.model
    obs = map_leaves(lambda a: torch.as_tensor(a)[None], tr.show.reset())
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        logits, value = model(obs)
        model.load_state_dict(temper(policy, sd, 2.5))
        hot, hot_value = model(obs)
    assert torch.allclose(hot, logits / 2.5, atol=1e-6) and torch.equal(hot_value, value)
    assert torch.equal(hot.argmax(-1), logits.argmax(-1))
    assert all(torch.equal(sd[k], v) for k, v in model.state_dict().items() if not k.startswith(("pi.", "head.out.")))
    with pytest.raises(ConfigError, match="temperature"):
        temper(policy, sd, 0.0)
    with pytest.raises(ConfigError, match="logits"):
        temper(policy, {"x.weight": torch.zeros(1)}, 2.0)


def test_fine_tuning_starts_from_the_tempered_prior(tmp_path, monkeypatch):
    """rl_place(prior_temperature=T, warm_temperature=W) (CLI --prior-temperature / --warm-temperature; default
    rl.PRIOR_TEMPERATURE / rl.WARM_TEMPERATURE): the checkpoint's first best-of-N samples from it tempered by W,
    PPO starts from it tempered by T; zero-shot uses the checkpoint as it is."""
    import torch
    from rlframe.placement import rl
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    built, trained = [], []
    init, iterate = rl.PolicyTrainer.__init__, rl.PolicyTrainer.iterate

    def spy_init(self, policy="cnn", model_kwargs=None, state_dict=None, *a, **k):
        built.append(state_dict["head.out.weight"].clone())
        init(self, policy, model_kwargs, state_dict, *a, **k)

    def spy_iterate(self):
        if self.itr == 0:
            trained.append(self.agent.model.state_dict()["head.out.weight"].clone())
        return iterate(self)

    monkeypatch.setattr(rl.PolicyTrainer, "__init__", spy_init)
    monkeypatch.setattr(rl.PolicyTrainer, "iterate", spy_iterate)
    prior = rl.load_checkpoint("pretrained")["state_dict"]["head.out.weight"]
    kw = dict(plc=plc, checkpoint="pretrained", batch_T=10, batch_B=2, samples=4, sample_envs=4)
    rl_place(netlist, str(tmp_path / "t.plc"), seconds=1.0, **kw)   # the defaults
    rl_place(netlist, str(tmp_path / "w.plc"), seconds=1.0, prior_temperature=4.0, warm_temperature=2.0, **kw)
    rl_place(netlist, str(tmp_path / "z.plc"), seconds=0, prior_temperature=4.0, **kw)
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", "pretrained", "--time", "1",
                           "--samples", "4", "--prior-temperature", "3", "--warm-temperature", "1.5",
                           "--out", str(tmp_path / "c.plc")]) == 0
    assert [round(float(prior.norm() / w.norm()), 4) for w in built] == [rl.WARM_TEMPERATURE, 2.0, 1.0, 1.5]
    assert [round(float(prior.norm() / w.norm()), 4) for w in trained] == [rl.PRIOR_TEMPERATURE, 4.0, 3.0]
    assert all(torch.allclose(w * float(prior.norm() / w.norm()), prior) for w in built + trained)


def test_elite_keeps_the_k_cheapest_distinct_placements():
    """PolicyTrainer.elite (elite_size k; rl_place's imitate_top): the k cheapest distinct placements offered,
    cheapest first; a repeat of a kept placement or one no cheaper than the k-th changes nothing."""
    from rlframe.placement.rl import Candidate, PolicyTrainer
    tr = PolicyTrainer("cnn", seed=0)
    tr._offer(Candidate(0.5, (1, 2), "sampled"))
    assert tr.elite == [] and tr.best.cost == 0.5   # elite_size 0: not kept
    tr.elite_size = 3
    for cost, actions in [(0.9, (1,)), (0.7, (2,)), (0.8, (3,)), (0.7, (2,)), (0.95, (4,)), (0.6, (5,)),
                          (float("nan"), (6,))]:
        tr._offer(Candidate(cost, actions, "sampled"))
    assert [(c.cost, c.actions) for c in tr.elite] == [(0.6, (5,)), (0.7, (2,)), (0.8, (3,))]
    assert tr.elite_changes == 4 and tr.best.cost == 0.5


def test_imitating_the_elite_raises_the_likelihood_of_all_its_placements(tmp_path, monkeypatch):
    """PolicyTrainer.imitate(list): every step raises the mean log-likelihood of all the placements' actions
    (random subsets of IMITATE_BATCH states when there are more); rl_place(imitate=, imitate_top=) imitates
    the elite and stays best-of-N."""
    from rlframe.placement import rl
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    monkeypatch.setattr(rl, "IMITATE_BATCH", 7)   # 4 placements x 5 macros: subsets of 7 states
    tr = rl.PolicyTrainer("cnn", batch_T=10, batch_B=2, seed=0)
    tr.elite_size = 4
    tr.use(netlist)
    tr.sample(episodes=16, envs=4)
    assert len(tr.elite) == 4 and len({c.actions for c in tr.elite}) == 4
    each = [tr.imitate(c, 0) for c in tr.elite]
    before = tr.imitate(tr.elite, 0)
    assert before == pytest.approx(sum(each) / 4)   # the mean over all their actions (same length)
    after = tr.imitate(tr.elite, 30)
    assert after > before + 0.05
    assert tr.imitate(tr.elite, 0) == pytest.approx(after)
    with pytest.raises(ConfigError, match="no placement"):
        tr.imitate([], 1)
    tr.close()
    calls = []
    imitate = rl.PolicyTrainer.imitate
    monkeypatch.setattr(rl.PolicyTrainer, "imitate", lambda self, c, s: calls.append(len(c)) or imitate(self, c, s))
    res = rl_place(netlist, str(tmp_path / "e.plc"), plc=plc, checkpoint="pretrained", seconds=3.0, batch_T=10,
                   batch_B=2, samples=8, sample_envs=4, imitate=2, imitate_top=3)
    assert res.history[-1][2] == pytest.approx(res.costs["proxy_cost"]) and res.sampled >= 8
    assert calls and max(calls) == 3 and calls[0] == 3   # 8 warm samples first: the elite is full at once
    calls.clear()
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", "pretrained", "--time", "2",
                           "--samples", "8", "--imitate", "2", "--imitate-top", "3", "--sample-temperature", "0.5",
                           "--out", str(tmp_path / "c.plc")]) == 0
    assert calls and max(calls) == 3
    with pytest.raises(ConfigError, match="imitate_top"):
        rl_place(netlist, str(tmp_path / "f.plc"), checkpoint="pretrained", seconds=1.0, imitate=2, imitate_top=0)


def test_imitate_interval_imitates_the_unchanged_elite_again(tmp_path, monkeypatch):
    """rl_place(imitate_interval=s) (CLI --imitate-interval): the elite is imitated also when s seconds passed
    since the last imitation, changed or not; 0: at every chance (before each PPO iteration and each round of
    sampling after PPO), each repeat on new random subsets of the states."""
    from rlframe.placement import rl
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    calls = {"imitate": [], "iterate": 0, "sample": 0}
    imitate, iterate, sample = rl.PolicyTrainer.imitate, rl.PolicyTrainer.iterate, rl.PolicyTrainer.sample

    def spy_imitate(self, c, steps):
        calls["imitate"].append(self.elite_changes)
        return imitate(self, c, steps)

    def spy_iterate(self):
        calls["iterate"] += 1
        return iterate(self)

    def spy_sample(self, *a, **k):
        calls["sample"] += 1
        return sample(self, *a, **k)

    monkeypatch.setattr(rl.PolicyTrainer, "imitate", spy_imitate)
    monkeypatch.setattr(rl.PolicyTrainer, "iterate", spy_iterate)
    monkeypatch.setattr(rl.PolicyTrainer, "sample", spy_sample)
    kw = dict(plc=plc, checkpoint="pretrained", seconds=3.0, batch_T=10, batch_B=2, samples=8, sample_envs=4,
              imitate=1, imitate_top=3, sample_share=0.5)
    rl_place(netlist, str(tmp_path / "a.plc"), imitate_interval=0.0, **kw)
    # every PPO iteration and every round after PPO (the first sample call is the warm best-of-N)
    assert len(calls["imitate"]) == calls["iterate"] + calls["sample"] - 1
    assert len(calls["imitate"]) > len(set(calls["imitate"]))   # the same elite imitated again
    calls.update(imitate=[], iterate=0, sample=0)
    rl_place(netlist, str(tmp_path / "b.plc"), **kw)   # None: only when the elite changed
    assert len(calls["imitate"]) == len(set(calls["imitate"]))
    calls.update(imitate=[], iterate=0, sample=0)
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", "pretrained", "--time", "2",
                           "--samples", "8", "--imitate", "1", "--imitate-interval", "0",
                           "--out", str(tmp_path / "c.plc")]) == 0
    assert len(calls["imitate"]) > len(set(calls["imitate"]))
    with pytest.raises(ConfigError, match="imitate interval"):
        rl_place(netlist, str(tmp_path / "d.plc"), imitate_interval=-1.0, **kw)


def test_best_weights_keep_the_cheapest_and_put_them_back_when_worse():
    """BestWeights: offer() keeps a copy of the weights with the lowest deterministic cost (None: a dead end,
    ignored); restore() loads it when the current cost is higher or a dead end, and says which cost it restored."""
    import torch
    from rlframe.placement.rl import BestWeights
    model, kept = torch.nn.Linear(3, 2), BestWeights()
    assert kept.restore(0.9, model) is None   # nothing kept yet
    with torch.no_grad():
        for cost, value in [(0.9, 1.0), (0.7, 2.0), (0.8, 3.0), (None, 4.0)]:
            model.weight.fill_(value)
            kept.offer(cost, model)
        model.weight.fill_(5.0)
    assert kept.cost == 0.7 and kept.restore(0.6, model) is None and float(model.weight[0, 0].detach()) == 5.0
    assert kept.restore(0.7, model) is None   # as good: the current weights stay
    assert kept.restore(0.95, model) == 0.7 and torch.all(model.weight == 2.0)
    with torch.no_grad():
        model.weight.fill_(6.0)
    assert kept.restore(None, model) == 0.7 and torch.all(model.weight == 2.0)


def test_restore_best_policy_puts_back_the_weights_of_the_cheapest_deterministic_placement(tmp_path, monkeypatch,
                                                                                          capsys):
    """rl_place(restore_best_policy=True) (CLI --restore-best-policy): the checkpoint's deterministic placement
    and every one during PPO are offered to BestWeights; after PPO, if the last is worse, the kept weights are
    loaded and the result's restored_cost says which (here the costs are made to rise: the checkpoint's)."""
    from rlframe.placement import rl
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    evaluate, counter = rl.PolicyTrainer.evaluate, [0]

    def rising(self):   # the real placement, then a made-up deterministic cost that only gets worse
        evaluate(self)
        counter[0] += 1
        self.last_deterministic = 0.5 + 0.1 * counter[0]
        return self.last_deterministic

    monkeypatch.setattr(rl.PolicyTrainer, "evaluate", rising)
    kw = dict(plc=plc, checkpoint="pretrained", seconds=2.0, batch_T=10, batch_B=2, samples=4, sample_envs=4,
              eval_every=1)
    res = rl_place(netlist, str(tmp_path / "r.plc"), restore_best_policy=True, **kw)
    assert counter[0] >= 2 and res.restored_cost == pytest.approx(0.6)   # the zero-shot placement's weights
    assert rl_place(netlist, str(tmp_path / "n.plc"), **kw).restored_cost is None
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", "pretrained", "--time", "2",
                           "--samples", "4", "--restore-best-policy", "--out", str(tmp_path / "c.plc"),
                           "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["restored_cost"] is not None


def test_sampling_at_a_low_temperature_follows_the_argmax_and_restores_the_weights(tmp_path):
    """PolicyTrainer.sample(temperature=T) samples from the logits divided by T (T -> 0: the deterministic
    placement every time) and leaves the weights as they were; rl_place(sample_temperature=) uses it after PPO."""
    import torch
    from rlframe.placement.rl import PolicyTrainer, load_checkpoint
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=5, seed=8))
    ck = load_checkpoint("pretrained")
    tr = PolicyTrainer(ck["policy"], ck["model_kwargs"], ck["state_dict"], batch_T=10, batch_B=2, seed=0)
    tr.use(netlist, plc)
    det = tr.evaluate()
    weights = {k: v.clone() for k, v in tr.agent.model.state_dict().items()}
    cold = tr.sample(episodes=8, envs=4, temperature=1e-4)
    assert len(cold) == 8 and all(c == pytest.approx(det, abs=1e-5) for c in cold)
    assert all(torch.equal(weights[k], v) for k, v in tr.agent.model.state_dict().items())
    hot = tr.sample(episodes=8, envs=4, temperature=100.0)
    assert any(abs(c - det) > 1e-4 for c in hot)   # nearly uniform over the legal cells
    tr.close()
    res = rl_place(netlist, str(tmp_path / "s.plc"), plc=plc, checkpoint="pretrained", seconds=2.0, batch_T=10,
                   batch_B=2, samples=4, sample_envs=4, sample_temperature=0.5)
    assert res.history[-1][2] == pytest.approx(res.costs["proxy_cost"])
    with pytest.raises(ConfigError, match="sample temperature"):
        rl_place(netlist, str(tmp_path / "t.plc"), checkpoint="pretrained", seconds=1.0, sample_temperature=0)
