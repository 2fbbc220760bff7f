"""MacroPlacementEnv: gymnasium conformance, masks, rewards, episode ends, render, registration."""
import shutil

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlframe.placement  # noqa: F401  (registers the env)
from rlframe.placement import (InfeasibleActionError, MacroPlacementEnv, PlacementCost,
                                    resolve_design)
from rlframe.placement.state import COST_KEYS
from rlframe.errors import ConfigError


def rollout(env, seed=0, policy="random"):
    """Random legal rollout; returns (rewards, infos, the env's per-step masks)."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    rewards, infos = [], [info]
    while True:
        mask = env.unwrapped.action_masks()
        assert np.array_equal(mask, obs["action_mask"].astype(bool))
        assert np.array_equal(mask, info["action_mask"].astype(bool))
        a = int(rng.choice(np.flatnonzero(mask)))
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        infos.append(info)
        if term or trunc:
            return rewards, infos


@pytest.fixture(scope="module")
def ariane():
    return gymnasium.make("rlframe/MacroPlacement-v0", design="ariane133", observation="both",
                          run_fd=False, infeasible_action="penalty", render_mode="rgb_array").unwrapped


@pytest.mark.parametrize("design", ["toy_macro_stdcell", "sample_clustered",
                                    "simple_grouped_with_coords_with_blockage"])
@pytest.mark.parametrize("observation", ["image", "graph", "both"])
def test_check_env_small(design, observation):
    env = gymnasium.make("rlframe/MacroPlacement-v0", design=design, observation=observation,
                         infeasible_action="penalty", render_mode="rgb_array").unwrapped
    check_env(env, skip_render_check=False)


def test_check_env_ariane(ariane):
    check_env(ariane, skip_render_check=False)


def test_registration_ids():
    for env_id in ("rlframe/MacroPlacement-v0", "rlframe.placement:rlframe/MacroPlacement-v0",
                   "rlframe.placement:MacroPlacement-v0"):
        env = gymnasium.make(env_id, design="toy_macro_stdcell")
        assert isinstance(env.unwrapped, MacroPlacementEnv)
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        env.close()


def test_import_rlframe_alone_registers_the_env():
    import subprocess
    import sys

    code = ("import gymnasium, rlframe, sys; "
            "assert 'rlframe.placement.env.env' not in sys.modules; "  # registration is lazy
            "env = gymnasium.make('rlframe/MacroPlacement-v0', design='sample_clustered'); env.reset(seed=0)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def brute_force_mask(env):
    """Feasible cells by direct geometry: inside the canvas, no overlap with any obstacle."""
    p, st = env.problem, env.state
    w, h = p.macro_w[st.k], p.macro_h[st.k]
    rects = st.obstacles()
    out = np.zeros(p.grid.n_cells, bool)
    for cell in range(p.grid.n_cells):
        cx, cy = p.grid.cell_center(cell)
        if cx - w / 2 < -1e-6 or cx + w / 2 > p.grid.width + 1e-6 or cy - h / 2 < -1e-6 \
                or cy + h / 2 > p.grid.height + 1e-6:
            continue
        ox = np.minimum(cx + w / 2, rects[:, 0] + rects[:, 2] / 2) - np.maximum(
            cx - w / 2, rects[:, 0] - rects[:, 2] / 2)
        oy = np.minimum(cy + h / 2, rects[:, 1] + rects[:, 3] / 2) - np.maximum(
            cy - h / 2, rects[:, 1] - rects[:, 3] / 2)
        out[cell] = not np.any((ox > 1e-6) & (oy > 1e-6))
    return out


@pytest.mark.parametrize("design,grid", [("macro_tiles_10x10", None), ("ariane133", None),
                                         ("ariane133", (37, 41)),
                                         ("simple_grouped_with_coords_with_blockage", (8, 8))])
def test_mask_matches_brute_force_and_no_overlap(design, grid):
    env = MacroPlacementEnv(design=design, grid=grid, run_fd=False)
    rng = np.random.default_rng(1)
    env.reset(seed=1)
    checked = 0
    while True:
        mask = env.action_masks()
        if checked < 40:
            np.testing.assert_array_equal(mask, brute_force_mask(env))
            checked += 1
        _, _, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        assert env.state.hard_macro_overlap() == 0.0
        if term or trunc:
            break
    assert info["overlap"] == 0.0
    if not info["dead_end"]:   # random placements on a fine grid may fragment the canvas
        assert info["placed"] == env.problem.n_macros


def test_blockages_are_obstacles():
    env = MacroPlacementEnv(design="simple_grouped_with_coords_with_blockage", grid=(50, 50))
    env.reset()
    mask = env.action_masks().reshape(50, 50)
    assert not mask[0, :].any() and not mask[:, 0].any()   # the big macro cannot touch (0..10)


def test_largest_first_order():
    env = MacroPlacementEnv(design="ariane133", run_fd=False)
    p = env.problem
    area = p.macro_w * p.macro_h
    assert np.all(np.diff(area) <= 0)
    for a in np.unique(area):   # ties keep ascending node index
        assert np.all(np.diff(p.order[area == a]) > 0)
    assert set(p.order) == set(p.netlist.hard_macro_indices)
    env.reset()
    assert env.state.node == p.order[0]


def test_infeasible_action_error_and_penalty():
    env = MacroPlacementEnv(design="toy_macro_stdcell")
    env.reset()
    bad = int(np.flatnonzero(~env.action_masks())[0])
    with pytest.raises(InfeasibleActionError) as e:
        env.step(bad)
    msg = str(e.value)
    assert "'ML'" in msg and f"cell {bad}" in msg and f"{env.action_masks().sum()} of 200" in msg
    with pytest.raises(InfeasibleActionError, match="not a cell index"):
        env.step(200)

    env = MacroPlacementEnv(design="toy_macro_stdcell", infeasible_action="penalty",
                            infeasible_penalty=-0.25, max_episode_steps=3)
    obs, _ = env.reset()
    bad = int(np.flatnonzero(~env.action_masks())[0])
    obs2, r, term, trunc, info = env.step(bad)
    assert r == -0.25 and not term and not trunc and info["infeasible_action"]
    assert info["placed"] == 0 and np.array_equal(obs["image"], obs2["image"])
    env.step(bad)
    _, _, term, trunc, _ = env.step(bad)
    assert trunc and not term
    with pytest.raises(RuntimeError, match="reset"):
        env.step(bad)


def test_dead_end_terminates_with_penalty():
    # a 2 x 2 grid holds at most four 50 x 50 tiles of macro_tiles_10x10 (100 macros)
    env = MacroPlacementEnv(design="macro_tiles_10x10", grid=(2, 2), dead_end_reward=-3.0)
    rewards, infos = rollout(env)
    assert len(rewards) == 4 and rewards[-1] == -3.0 and infos[-1]["dead_end"]
    assert all(r == 0.0 for r in rewards[:-1])


def test_own_netlist_without_canvas_or_grid_says_what_to_pass(tmp_path):
    src = resolve_design("sample_clustered")[0]     # no '# FP bbox' line
    net = tmp_path / "mine.pb.txt"
    shutil.copy(src, net)
    with pytest.raises(ConfigError, match=r"no canvas and no grid.*plc=.*canvas=\(width, height\)"
                                          r".*grid=\(cols, rows\)"):
        MacroPlacementEnv(netlist=str(net))
    env = MacroPlacementEnv(netlist=str(net), canvas=(400.0, 400.0), grid=(8, 8))
    assert (env.problem.grid.width, env.problem.grid.cols) == (400.0, 8)
    env.reset()
    # a netlist with an FP bbox but no .plc still needs a grid
    toy = tmp_path / "toy" / "netlist.pb.txt"
    toy.parent.mkdir()
    shutil.copy(resolve_design("toy_macro_stdcell")[0], toy)
    with pytest.raises(ConfigError, match=r"no grid \(.*grid=\(cols, rows\)$"):
        MacroPlacementEnv(netlist=str(toy))
    assert MacroPlacementEnv(netlist=str(toy), grid=(20, 10)).problem.grid.n_cells == 200
    # the .plc beside it supplies both
    shutil.copy(resolve_design("sample_clustered")[1], tmp_path / "initial.plc")
    assert MacroPlacementEnv(netlist=str(net)).problem.defaulted == ()


def test_plc_by_file_name_in_the_design_folder():
    env = MacroPlacementEnv(design="sample_clustered", plc="initial.plc")
    assert env.problem.plc_path == resolve_design("sample_clustered")[1]
    with pytest.raises(FileNotFoundError, match="no file 'nope.plc'"):
        MacroPlacementEnv(design="sample_clustered", plc="nope.plc")


def test_proxy_reward_and_final_info():
    env = MacroPlacementEnv(design="sample_clustered", grid=(8, 8), cost_weights=(1.0, 0.3, 0.7))
    rewards, infos = rollout(env)
    final = infos[-1]
    assert all(r == 0.0 for r in rewards[:-1])
    assert set(COST_KEYS) <= set(final)
    assert all(infos[0][k] == 0.0 for k in COST_KEYS)          # every key from the start
    assert rewards[-1] == pytest.approx(-final["proxy_cost"])
    assert final["proxy_cost"] == pytest.approx(
        final["wirelength_cost"] + 0.3 * final["density_cost"] + 0.7 * final["congestion_cost"])
    # the written placement reads back to the same costs
    pc = PlacementCost.from_plc(env.problem.netlist, env.placement())
    e = pc.evaluate(1.0, 0.3, 0.7)
    for k in COST_KEYS:
        assert e[k] == pytest.approx(final[k], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("design", ["ariane133", "toy_macro_stdcell", "macro_tiles_10x10"])
def test_dense_hpwl_rewards_telescope(design):
    env = MacroPlacementEnv(design=design, reward="hpwl", run_fd=False)
    rewards, infos = rollout(env, seed=3)
    total = -(infos[-1]["placed_hpwl"] - infos[0]["placed_hpwl"]) / env.hpwl_reward_norm
    assert sum(rewards) == pytest.approx(total, rel=1e-9)
    # once every macro is placed, the placed-net HPWL is the netlist's HPWL (soft macros where
    # they started, since run_fd=False)
    assert infos[-1]["placed_hpwl"] == pytest.approx(infos[-1]["hpwl"], rel=1e-9)
    assert infos[-1]["proxy_cost"] > 0


def test_wire_mask_is_the_hpwl_increase():
    env = MacroPlacementEnv(design="ariane133", reward="hpwl", run_fd=False)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = env.action_masks()
        wire = env.state.wire_mask().ravel()
        a = int(rng.choice(np.flatnonzero(mask)))
        _, r, _, _, _ = env.step(a)
        assert -r * env.hpwl_reward_norm == pytest.approx(wire[a], rel=1e-9, abs=1e-6)


def test_render(ariane):
    ariane.reset()
    img = ariane.render()
    assert img.dtype == np.uint8 and img.shape == (512, 512, 3)
    env = MacroPlacementEnv(design="toy_macro_stdcell", render_mode="rgb_array", render_size=100)
    env.reset()
    assert env.render().shape == (50, 100, 3)
    assert MacroPlacementEnv(design="toy_macro_stdcell").render() is None


def test_bad_arguments():
    with pytest.raises(ConfigError, match="exactly one"):
        MacroPlacementEnv()
    with pytest.raises(ConfigError, match="reward"):
        MacroPlacementEnv(design="toy_macro_stdcell", reward="area")
    with pytest.raises(ConfigError, match="observation"):
        MacroPlacementEnv(design="toy_macro_stdcell", observation="pixels")
    with pytest.raises(ConfigError, match="infeasible_action"):
        MacroPlacementEnv(design="toy_macro_stdcell", infeasible_action="ignore")


def test_mix_reward_is_dense_plus_weighted_final_proxy():
    rewards = {}
    for mode in ("hpwl", "mix"):
        env = gymnasium.make("rlframe/MacroPlacement-v0", design="macro_tiles_10x10", reward=mode,
                             mix_proxy_weight=0.5)
        obs, _ = env.reset(seed=0)
        out, done = [], False
        while not done:
            obs, r, done, _, info = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
            out.append(r)
        rewards[mode] = (np.array(out), info["proxy_cost"])
    (dense, proxy), (mix, proxy_mix) = rewards["hpwl"], rewards["mix"]
    assert proxy == proxy_mix > 0
    np.testing.assert_allclose(mix[:-1], dense[:-1])
    np.testing.assert_allclose(mix[-1], dense[-1] - 0.5 * proxy)


def test_fd_regime_of_the_final_cost(design="sample_clustered"):
    """``fd=`` scores the finished placement under a protocol regime: ``None`` keeps run_fd's behaviour,
    ``"none"`` is run_fd=False (soft macros at the .plc's positions), ``"centre"`` the default, and
    ``"refine"`` is rlframe.placement.evaluate(fd="refine") of that placement (never above ``"none"``)."""
    from rlframe.placement import evaluate
    runs = {}
    for name, kw in {"default": {}, "no_fd": dict(run_fd=False), "centre": dict(fd="centre"),
                     "none": dict(fd="none"), "refine": dict(fd="refine")}.items():
        env = MacroPlacementEnv(design=design, **kw)
        rewards, infos = rollout(env, seed=1)
        runs[name] = (rewards[-1], infos[-1], env)
    for a, b in (("default", "centre"), ("no_fd", "none")):
        assert runs[a][0] == runs[b][0]
        for k in COST_KEYS:
            assert runs[a][1][k] == runs[b][1][k]
    assert runs["refine"][0] == pytest.approx(-runs["refine"][1]["proxy_cost"])
    refine = evaluate(design, runs["none"][2].placement(), fd="refine").costs
    for k in COST_KEYS:
        assert runs["refine"][1][k] == pytest.approx(refine[k], rel=1e-12, abs=1e-12)
    assert runs["refine"][1]["proxy_cost"] <= runs["none"][1]["proxy_cost"]
    assert runs["none"][1]["proxy_cost"] != runs["centre"][1]["proxy_cost"]
    # the written placement is the scored one: re-scored as written, the same costs
    for name in ("none", "refine", "centre"):
        again = evaluate(design, runs[name][2].placement(), fd="none").costs
        assert again["proxy_cost"] == pytest.approx(runs[name][1]["proxy_cost"], rel=1e-6)


def test_fd_regime_errors():
    with pytest.raises(ConfigError, match="fd='middle'"):
        MacroPlacementEnv(design="toy_macro_stdcell", fd="middle")
    with pytest.raises(ConfigError, match="run_fd=False"):
        MacroPlacementEnv(design="toy_macro_stdcell", fd="refine", run_fd=False)


def test_density_reward_telescopes_to_the_final_density_cost():
    """density_reward=c adds -c x the change of the density term (soft macros at their .plc positions) at every
    step: with fd="none" the terms sum to -c x (final density cost - the start's), the last term equals the
    proxy reward's density cost, and c=0 is the plain proxy reward; a negative weight is an error."""
    c = 0.5
    env = MacroPlacementEnv(design="ariane133", fd="none", density_reward=c)
    plain = MacroPlacementEnv(design="ariane133", fd="none")
    env.reset(seed=0)
    plain.reset(seed=0)
    start = env.density_term()
    rng = np.random.default_rng(0)
    rewards, done = [], False
    while not done:
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        _, r, done, _, info = env.step(a)
        _, r0, _, _, info0 = plain.step(a)
        rewards.append(r - r0)
    assert info["proxy_cost"] == info0["proxy_cost"] > 0
    assert env.density_term() == pytest.approx(info["density_cost"], rel=1e-12)
    assert sum(rewards) == pytest.approx(-c * (info["density_cost"] - start), rel=1e-9)
    assert min(rewards) < 0 and any(abs(x) < 1e-15 for x in rewards)     # dense: many steps add nothing
    with pytest.raises(ConfigError, match="density_reward"):
        MacroPlacementEnv(design="sample_clustered", density_reward=-1.0)


def test_wirelength_reward_telescopes_to_the_final_wirelength_cost():
    """wirelength_reward=c: -c x the step's placed-net HPWL increase in wirelength-cost units; with fd="none"
    the terms sum to about -c x (final wirelength cost - the start's): 0.3 % apart on ariane133, the placed-net
    HPWL (rlframe/placement/state.py) not being exactly the cost's HPWL."""
    c = 2.0
    env = MacroPlacementEnv(design="ariane133", fd="none", wirelength_reward=c)
    plain = MacroPlacementEnv(design="ariane133", fd="none")
    env.reset(seed=0)
    plain.reset(seed=0)
    start = env.state.placed_hpwl * env._wirelength_unit
    rng = np.random.default_rng(3)
    extra, done = [], False
    while not done:
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        _, r, done, _, info = env.step(a)
        _, r0, _, _, _ = plain.step(a)
        extra.append(r - r0)
    assert sum(extra) == pytest.approx(-c * (info["wirelength_cost"] - start), rel=1e-2)
    assert min(extra) < 0
    with pytest.raises(ConfigError, match="wirelength_reward"):
        MacroPlacementEnv(design="sample_clustered", wirelength_reward=-1.0)
