"""experiments/placement_ppo.py --policy cnn|gnn on a tiny budget: it builds the policy through the normal
agent, trains and returns 0."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    path = os.path.join(REPO, "experiments", "placement_ppo.py")
    spec = importlib.util.spec_from_file_location("placement_ppo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("policy,reward", [("cnn", "hpwl"), ("gnn", "mix")])
def test_placement_ppo_policy_option(tmp_path, policy, reward):
    import sys
    sys.path.insert(0, os.path.join(REPO, "experiments"))  # the script imports its sibling common.py
    try:
        rc = _load().main(["--policy", policy, "--reward", reward, "--design", "macro_tiles_10x10",
                           "--steps", "40", "--log-dir", str(tmp_path)])
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    assert rc == 0
    assert (tmp_path / "placement_ppo" / "run_0" / "progress.csv").is_file()


def test_recipe_writes_its_best_placement_scored_in_every_regime(tmp_path, one_torch_thread):
    """Without --steps the script is the recipe: PPO for a wall-clock budget, the best placement as a .plc,
    its hard macros scored under every soft-macro regime, and where the time went."""
    import json
    import sys

    from rlframe.placement import evaluate
    sys.path.insert(0, os.path.join(REPO, "experiments"))
    out, js = tmp_path / "best.plc", tmp_path / "best.json"
    try:
        rc = _load().main(["--design", "sample_clustered", "--time", "2", "--checkpoint", "none", "--out", str(out),
                           "--json", str(js)])
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    assert rc == 0 and out.is_file()
    res = json.loads(js.read_text())
    assert set(res["regimes"]) == {"centre", "refine", "none"} and res["env_steps"] >= 128
    # the .plc holds the soft macros where FD from the centre put them: it re-scores to the centre cost
    assert evaluate("sample_clustered", str(out), fd="centre").costs["proxy_cost"] == \
        pytest.approx(res["regimes"]["centre"]["proxy_cost"], rel=1e-9)
    assert res["regimes"]["refine"]["proxy_cost"] <= res["regimes"]["none"]["proxy_cost"] + 1e-12
    assert res["timing"]["ppo_update"]["calls"] >= 1
    assert res["timing"]["fd_and_proxy_cost (inside the two above)"]["calls"] >= 1


@pytest.mark.parametrize("train_fd", [None, "refine"])
def test_recipe_regime_refine_trains_on_the_plc_positions_and_writes_the_refined_placement(tmp_path, train_fd,
                                                                                           one_torch_thread):
    """--regime refine: reward and best-of-N with the soft macros at the design's .plc positions (no FD at
    the episode ends; --train-fd refine: FD from there, kept if better, at every episode end), the written .plc
    holds the refined placement and re-scores as written to the refine cost; the default stays the centre
    regime (FD from the centre at every episode end), and --train-fd goes with --regime refine only."""
    from rlframe.errors import ConfigError
    import json
    import sys

    from rlframe.placement import evaluate
    sys.path.insert(0, os.path.join(REPO, "experiments"))
    out, js = tmp_path / "best.plc", tmp_path / "best.json"
    try:
        mod = _load()
        assert mod.recipe_args([]).regime == "centre"
        with pytest.raises(ConfigError, match="--train-fd goes with --regime refine"):
            mod.main(["--design", "sample_clustered", "--time", "1", "--train-fd", "refine"])
        rc = mod.main(["--design", "sample_clustered", "--time", "2", "--checkpoint", "none", "--regime", "refine",
                       "--out", str(out), "--json", str(js)] + (["--train-fd", train_fd] if train_fd else []))
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    assert rc == 0
    res = json.loads(js.read_text())
    assert res["regime"] == "refine" and res["trained_on_fd"] == (train_fd or "none")
    assert res["proxy_cost"] == pytest.approx(res["regimes"]["refine"]["proxy_cost"], rel=1e-9)
    assert evaluate("sample_clustered", str(out), fd="none").costs["proxy_cost"] == \
        pytest.approx(res["regimes"]["refine"]["proxy_cost"], rel=1e-6)
    timing = res["timing"]
    assert timing["fd_and_proxy_cost (inside the two above)"]["calls"] == 0       # no FD from the centre
    assert timing["proxy_cost_in_the_env_fd_regime (inside the two above)"]["calls"] >= res["sampled_episodes"]


def test_recipe_soft_canvas_density_reward_and_batch_flags_reach_the_env(tmp_path, one_torch_thread, monkeypatch):
    """--soft-canvas / --density-reward C / --batch-B / --batch-T: the env kwargs and batch of rl_place, recorded
    in the JSON; the shipped checkpoint loads with the soft-macro canvas (same image shape)."""
    import json
    import sys

    import rlframe.placement.rl as rl
    seen = {}
    real = rl.rl_place

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(rl, "rl_place", spy)
    sys.path.insert(0, os.path.join(REPO, "experiments"))
    js = tmp_path / "r.json"
    try:
        rc = _load().main(["--design", "sample_clustered", "--time", "2", "--regime", "refine", "--soft-canvas",
                           "--density-reward", "0.5", "--wire-density", "2", "--batch-B", "2", "--batch-T", "16",
                           "--sample-share", "0.5", "--samples", "8", "--wirelength-reward", "1.5",
                           "--imitate", "3", "--imitate-top", "4", "--prior-temperature", "3",
                           "--warm-temperature", "1.5", "--sample-temperature", "0.5", "--plain",
                           "--out", str(tmp_path / "r.plc"), "--json", str(js)])
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    assert rc == 0
    assert seen["env_kwargs"] == dict(fd="none", soft_macro_canvas=True, density_reward=0.5, wire_mask_density=2.0,
                                      wirelength_reward=1.5)
    assert (seen["batch_B"], seen["batch_T"], seen["sample_share"], seen["samples"], seen["imitate"]) == \
        (2, 16, 0.5, 8, 3)
    assert (seen["imitate_top"], seen["prior_temperature"], seen["warm_temperature"], seen["sample_temperature"]) == \
        (4, 3.0, 1.5, 0.5)
    res = json.loads(js.read_text())
    assert res["soft_canvas"] is True and res["density_reward"] == 0.5 and res["wire_density"] == 2.0
    assert (res["imitate_top"], res["prior_temperature"], res["sample_temperature"]) == (4, 3.0, 0.5)
    assert res["timing"]["self_imitation"]["calls"] >= 1   # --imitate: the elite imitated at least once
    assert (res["ppo"]["batch_B"], res["ppo"]["batch_T"]) == (2, 16) and res["env_steps"] >= 32


def test_recipe_defaults_are_the_regimes_measured_settings_when_fine_tuning():
    """Fine-tuning a checkpoint, the flags not given take placement_ppo.RECIPES[regime] (elite self-imitation,
    90 % sampling at temperature 1; refine adds the soft-macro-aware flags and --train-fd refine); flags given
    win; --checkpoint none (from scratch) and --plain keep the flags' own defaults."""
    import sys
    sys.path.insert(0, os.path.join(REPO, "experiments"))
    try:
        mod = _load()
        centre, refine = mod.recipe_args([]), mod.recipe_args(["--regime", "refine"])
        given = mod.recipe_args(["--regime", "refine", "--imitate", "3", "--train-fd", "none", "--batch-B", "2"])
        scratch, plain = mod.recipe_args(["--checkpoint", "none", "--regime", "refine"]), mod.recipe_args(["--plain"])
    finally:
        sys.path.remove(os.path.join(REPO, "experiments"))
    pick = lambda a, keys: {k: getattr(a, k) for k in keys}   # noqa: E731
    assert pick(centre, mod.RECIPES["centre"]) == mod.RECIPES["centre"] and centre.wire_density == 0.0
    assert pick(refine, mod.RECIPES["refine"]) == mod.RECIPES["refine"]
    assert (given.imitate, given.train_fd, given.batch_B, given.imitate_top, given.wire_density) == (3, "none", 2, 8, 0.5)
    for a in (scratch, plain):
        assert (a.imitate, a.imitate_top, a.sample_share, a.prior_temperature, a.wire_density, a.batch_B,
                a.learning_rate, a.train_fd, a.restore_best_policy) == \
            (0, 1, None, None, 0.0, 4, 3e-4, None, False)
    assert centre.restore_best_policy and not refine.restore_best_policy
    assert not mod.recipe_args(["--no-restore-best-policy"]).restore_best_policy   # a flag given wins
