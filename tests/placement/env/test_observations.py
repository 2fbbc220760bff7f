"""Image (MaskPlace) and graph (Circuit Training) observations of the placement env."""
import numpy as np
import pytest

from rlframe.placement import MacroPlacementEnv
from rlframe.placement.formats.netlist import HARD_MACRO, PORT, SOFT_MACRO


@pytest.fixture(scope="module")
def env():
    return MacroPlacementEnv(design="ariane133", observation="both", run_fd=False)


def test_image_channels(env):
    obs, _ = env.reset(seed=0)
    g = env.problem.grid
    img = obs["image"]
    assert img.shape == (3, g.rows, g.cols) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1
    mask = env.action_masks().reshape(g.rows, g.cols)
    np.testing.assert_array_equal(img[0], mask)
    wire = env.state.wire_mask()
    best = np.unravel_index(np.argmin(np.where(mask, wire, np.inf)), mask.shape)
    assert img[1][best] == 0.0 and np.all(img[1][~mask] == 1.0)
    assert img[2].sum() == 0.0                                    # nothing placed yet
    rng = np.random.default_rng(0)
    for _ in range(10):
        obs, *_ = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    # occupancy: placed macro area over canvas area
    placed_area = float(np.sum(env.problem.macro_w[:10] * env.problem.macro_h[:10]))
    cell_area = g.cell_width * g.cell_height
    assert obs["image"][2].sum() * cell_area == pytest.approx(placed_area, rel=1e-5)
    assert obs["macro"][2] == pytest.approx(10 / env.problem.n_macros)
    assert obs["macro"][0] == pytest.approx(env.problem.macro_w[10] / g.width)
    assert env.observation_space.contains(obs)


def test_graph_features(env):
    obs, _ = env.reset(seed=0)
    nl = env.problem.netlist
    view = next(v for v in env._views if hasattr(v, "edge_index"))
    n = len(view.nodes)
    assert n == nl.count(HARD_MACRO) + nl.count(SOFT_MACRO) + nl.count(PORT)
    f = obs["node_features"]
    assert f.shape == (n, 9) and obs["edge_index"].shape[0] == 2
    assert obs["edge_index"].min() >= 0 and obs["edge_index"].max() < n
    assert np.all(obs["edge_index"][0] < obs["edge_index"][1])     # undirected, deduplicated
    assert np.all(obs["edge_weight"] > 0)
    hard = f[:, 4] == 1
    assert f[hard, 7].sum() == 0 and f[~hard, 7].min() == 1       # no hard macro placed yet
    cur = int(obs["current_node"][0])
    assert view.nodes[cur] == env.state.node and f[cur, 8] == 1 and f[:, 8].sum() == 1
    first = env.state.node
    a = int(np.flatnonzero(env.action_masks())[0])
    obs, *_ = env.step(a)
    gi = int(np.flatnonzero(view.nodes == first)[0])
    cx, cy = env.problem.grid.cell_center(a)
    f = obs["node_features"]
    assert f[gi, 7] == 1 and f[gi, 0] == pytest.approx(cx / env.problem.grid.width)
    assert f[gi, 1] == pytest.approx(cy / env.problem.grid.height)
    assert int(obs["current_node"][0]) != gi


def test_graph_edges_follow_nets():
    env = MacroPlacementEnv(design="sample_clustered", observation="graph")
    obs, _ = env.reset()
    nl = env.problem.netlist
    view = env._views[0]
    body = np.where(nl.pin_parent >= 0, nl.pin_parent, np.arange(nl.n_nodes))
    expected = set()
    for k in range(nl.n_nets):
        net = nl.net(k)
        a = view.graph_index[body[net[0]]]
        for t in net[1:]:
            b = view.graph_index[body[t]]
            if a >= 0 and b >= 0 and a != b:
                expected.add((min(a, b), max(a, b)))
    assert set(map(tuple, obs["edge_index"].T.tolist())) == expected


def _masks_of_the_next_macro(state):
    """The next macro's masks by definition: a copy of the state whose current macro is skipped (not placed)."""
    import copy
    ahead = copy.deepcopy(state)
    ahead.k += 1
    ahead._mask = ahead._wire = ahead._blocked = None
    return ahead.mask(), ahead.wire_mask()


def test_next_macro_planes_are_the_next_macros_masks_on_the_current_canvas():
    env = MacroPlacementEnv(design="ariane133", observation="image", next_macro_planes=True, run_fd=False)
    plain = MacroPlacementEnv(design="ariane133", observation="image", run_fd=False)
    obs, _ = env.reset(seed=0)
    ref, _ = plain.reset(seed=0)
    g = env.problem.grid
    assert obs["image"].shape == (5, g.rows, g.cols) and env.observation_space.contains(obs)
    rng = np.random.default_rng(1)
    for step in range(env.problem.n_macros):
        np.testing.assert_array_equal(obs["image"][:3], ref["image"])      # planes 0-2 unchanged
        mask, wire = _masks_of_the_next_macro(env.state)
        np.testing.assert_array_equal(obs["image"][3], mask.reshape(g.rows, g.cols))
        if mask.any():
            best = np.unravel_index(np.argmin(np.where(mask.reshape(wire.shape), wire, np.inf)), wire.shape)
            assert obs["image"][4][best] == 0.0 and np.all(obs["image"][4][~mask.reshape(wire.shape)] == 1.0)
        if step in (0, 50):   # the wire plane, normalised over the feasible cells, against the definition
            feas = wire[mask.reshape(wire.shape)]
            norm = np.where(mask.reshape(wire.shape), (wire - feas.min()) / (feas.max() - feas.min()), 1.0)
            np.testing.assert_allclose(obs["image"][4], norm, atol=1e-6)
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        obs, _, term, _, _ = env.step(a)
        ref, *_ = plain.step(a)
        if term:
            break
    assert term and step == env.problem.n_macros - 1


def test_next_macro_planes_at_the_last_macro_are_empty():
    env = MacroPlacementEnv(design="toy_macro_stdcell", observation="image", next_macro_planes=True, run_fd=False)
    obs, _ = env.reset(seed=0)
    assert obs["image"][3].any()                                   # two macros: the second is next
    obs, *_ = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert not obs["image"][3].any() and np.all(obs["image"][4] == 1.0)   # last macro: nothing next


def test_soft_macro_canvas_shows_the_soft_macros_at_their_plc_positions():
    """soft_macro_canvas=True: the canvas plane is the hard-macro occupancy plus the soft macros' density at
    their initial .plc positions, clipped to 1; the shape stays [3, rows, cols] (checkpoints keep loading)."""
    from rlframe.placement.env.observations import soft_macro_density
    plain = MacroPlacementEnv(design="ariane133", fd="none")
    soft = MacroPlacementEnv(design="ariane133", fd="none", soft_macro_canvas=True)
    p, g = soft.problem, soft.problem.grid
    dens = soft_macro_density(p)
    nl = p.netlist
    idx = nl.soft_macro_indices
    # the plane holds the soft macros' area inside the canvas (a few of ariane133's stick out by a little)
    total = float(np.sum(p.node_w[idx] * p.node_h[idx]))
    assert 0.99 * total < dens.sum() * g.cell_width * g.cell_height <= total * (1 + 1e-12)
    o1, _ = plain.reset(seed=0)
    o2, _ = soft.reset(seed=0)
    assert o2["image"].shape == o1["image"].shape == (3, g.rows, g.cols)
    np.testing.assert_array_equal(o2["image"][:2], o1["image"][:2])
    np.testing.assert_allclose(o2["image"][2], np.clip(dens, 0, 1), rtol=1e-6)
    rng = np.random.default_rng(1)
    for _ in range(5):
        a = int(rng.choice(np.flatnonzero(plain.action_masks())))
        o1, *_ = plain.step(a)
        o2, *_ = soft.step(a)
    np.testing.assert_allclose(o2["image"][2], np.clip(o1["image"][2] + dens, 0, 1), rtol=1e-6, atol=1e-6)
    assert soft.observation_space.contains(o2)


def test_soft_macro_density_by_brute_force():
    """soft_macro_density is each soft macro's overlap with each cell over the cell area (brute force)."""
    from rlframe.placement.env.observations import soft_macro_density
    from rlframe.placement.state import PlacementProblem
    p = PlacementProblem("sample_clustered")
    g = p.grid
    dens = soft_macro_density(p)
    # brute force: each soft macro's overlap with each cell
    want = np.zeros((g.rows, g.cols))
    ce, re_ = p.col_edges, p.row_edges
    for i in p.netlist.soft_macro_indices:
        x0, x1 = p.x0[i] - p.node_w[i] / 2, p.x0[i] + p.node_w[i] / 2
        y0, y1 = p.y0[i] - p.node_h[i] / 2, p.y0[i] + p.node_h[i] / 2
        for r in range(g.rows):
            for c in range(g.cols):
                ox = max(0.0, min(x1, ce[c + 1]) - max(x0, ce[c]))
                oy = max(0.0, min(y1, re_[r + 1]) - max(y0, re_[r]))
                want[r, c] += ox * oy / (g.cell_width * g.cell_height)
    np.testing.assert_allclose(dens, want, rtol=1e-9, atol=1e-12)


def test_wire_mask_density_adds_the_covered_area_under_the_macro():
    """wire_mask_density=λ: plane 1 is the min-max normalisation (over feasible cells) of
    wire / span + λ cover / span, where cover (brute force here) is the area already covered -- soft macros at
    their .plc positions included -- in the cells the macro would occupy; plane 0 and 2 unchanged; λ=0 default."""
    from rlframe.placement.env.observations import soft_macro_density
    plain = MacroPlacementEnv(design="ariane133", fd="none")
    dens = MacroPlacementEnv(design="ariane133", fd="none", wire_mask_density=2.0)
    o1, _ = plain.reset(seed=0)
    o2, _ = dens.reset(seed=0)
    for a in (200, 260):                 # two macros placed, so the hard-macro occupancy counts too
        assert plain.action_masks()[a]
        o1, *_ = plain.step(a)
        o2, *_ = dens.step(a)
    p, g, st = dens.problem, dens.problem.grid, dens.state
    np.testing.assert_array_equal(o2["image"][[0, 2]], o1["image"][[0, 2]])
    occ = st.occupancy + soft_macro_density(p)
    w, h = p.macro_w[st.k], p.macro_h[st.k]
    cover = np.zeros((g.rows, g.cols))
    for r in range(g.rows):
        for c in range(g.cols):
            x0, x1, y0, y1 = p.col_x[c] - w / 2, p.col_x[c] + w / 2, p.row_y[r] - h / 2, p.row_y[r] + h / 2
            for i in range(g.rows):
                oy = max(0.0, min(y1, p.row_edges[i + 1]) - max(y0, p.row_edges[i])) / g.cell_height
                for j in range(g.cols):
                    ox = max(0.0, min(x1, p.col_edges[j + 1]) - max(x0, p.col_edges[j])) / g.cell_width
                    cover[r, c] += ox * oy * occ[i, j]
    view = dens._views[0]
    np.testing.assert_allclose(view.covered_under(st), cover, rtol=1e-9, atol=1e-12)
    ok = dens.action_masks().reshape(g.rows, g.cols)
    wire = st.wire_mask()
    norm = lambda m: (m - m[ok].min()) / (m[ok].max() - m[ok].min())
    want = norm(norm(wire) + 2.0 * norm(cover))
    np.testing.assert_allclose(o2["image"][1][ok], want[ok], rtol=1e-5, atol=1e-6)
    assert np.all(o2["image"][1][~ok] == 1.0)
