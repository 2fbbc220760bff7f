"""PlacementState hot paths: the per-step work touches only the current macro's nets and cells."""
import numpy as np

from rlframe.placement.state import PlacementProblem, PlacementState


def _random_episode(p, seed, stop=None):
    st, rng = PlacementState(p), np.random.default_rng(seed)
    while not st.done and (stop is None or st.k < stop):
        st.place(int(rng.choice(np.flatnonzero(st.mask()))))
    return st


def test_wire_mask_and_place_read_only_the_nets_of_the_current_macro():
    """The greedy baseline's per-step wire mask (and place) scale with the nets the macro
    touches: with every other net's bounding box poisoned, both give the same values."""
    p = PlacementProblem("ariane133")
    st = _random_episode(p, 0, stop=40)
    want = st.wire_mask().copy()
    s = p.groups(st.k)
    others = np.setdiff1d(np.arange(len(st.xmin)), p.g_net[s])
    assert len(others) > 10 * len(p.g_net[s])
    for a in (st.xmin, st.xmax, st.ymin, st.ymax):
        a[others] = np.nan
    st._wire = None
    np.testing.assert_array_equal(st.wire_mask(), want)
    cell = int(np.argmin(np.where(st.mask(), want.ravel(), np.inf)))
    delta = st.place(cell)
    assert np.isfinite(delta) and delta == want.ravel()[cell]


def test_occupancy_equals_the_full_grid_formula():
    """place() adds each macro's coverage on its own rows and columns only; the map equals the
    covered fraction computed over the whole grid for every obstacle and placed macro."""
    p = PlacementProblem("ariane133")
    st = _random_episode(p, 1)
    g = p.grid
    ce, re_ = g.col_edges(), g.row_edges()
    occ = np.zeros((g.rows, g.cols))
    for cx, cy, w, h in st.obstacles():
        ox = np.clip(np.minimum(cx + w / 2, ce[1:]) - np.maximum(cx - w / 2, ce[:-1]), 0, None)
        oy = np.clip(np.minimum(cy + h / 2, re_[1:]) - np.maximum(cy - h / 2, re_[:-1]), 0, None)
        occ += np.outer(oy, ox) / (g.cell_width * g.cell_height)
    np.testing.assert_allclose(st.occupancy, occ, rtol=0, atol=1e-12)
    # placed-net HPWL: the incremental sum equals the full recomputation at the end
    spans = st._span(np.arange(len(st.xmin)))
    np.testing.assert_allclose(st.placed_hpwl, float(np.sum(spans * p.net_w)), rtol=1e-9)


def test_compiled_step_updates_equal_the_numpy_code():
    """The compiled per-step loops (wire mask, net boxes, blocked cells, occupancy) give the numpy
    code's values bit for bit, step by step, on random and greedy (wire-mask argmin) episodes."""
    import pytest
    from rlframe.placement import state as state_mod
    if state_mod.numba is None:
        pytest.skip("numba is not installed")
    for design in ("ariane133", "macro_tiles_10x10"):
        _assert_compiled_steps_equal_numpy(PlacementProblem(design))


def _assert_compiled_steps_equal_numpy(p: PlacementProblem) -> None:
    for policy in ("random", "greedy"):
        fast, ref = PlacementState(p), PlacementState(p)
        ref.compiled = False
        assert fast.compiled
        rng = np.random.default_rng(0)
        while not ref.done:
            np.testing.assert_array_equal(fast.mask(), ref.mask())
            np.testing.assert_array_equal(fast.wire_mask(), ref.wire_mask())
            if not ref.mask().any():
                break
            if policy == "random":
                cell = int(rng.choice(np.flatnonzero(ref.mask())))
            else:
                cell = int(np.argmin(np.where(ref.mask(), ref.wire_mask().ravel(), np.inf)))
            assert fast.place(cell) == ref.place(cell)
            np.testing.assert_array_equal(fast.occupancy, ref.occupancy)
            for a, b in ((fast.xmin, ref.xmin), (fast.xmax, ref.xmax), (fast.ymin, ref.ymin),
                         (fast.ymax, ref.ymax)):
                np.testing.assert_array_equal(a, b)
        assert fast.placed_hpwl == ref.placed_hpwl


def test_compiled_step_updates_equal_the_numpy_code_with_mixed_macro_sizes(tmp_path):
    """As above on a netlist whose consecutive macros change size (the next macro's mask then comes
    from mask(), otherwise from the compiled place), and the cached start-of-episode HPWL equals the
    sum over the base boxes."""
    import pytest
    from rlframe.placement import state as state_mod
    from rlframe.placement.synthetic import SyntheticSpec, write_synthetic
    if state_mod.numba is None:
        pytest.skip("numba is not installed")
    net, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=24, seed=3, size_classes=3))
    p = PlacementProblem(net, plc=plc)
    sizes = np.stack([p.macro_w, p.macro_h], 1)
    assert (sizes[1:] != sizes[:-1]).any(1).any() and (sizes[1:] == sizes[:-1]).all(1).any()
    _assert_compiled_steps_equal_numpy(p)
    st = PlacementState(p)
    assert st.placed_hpwl == float(np.sum(st._span(np.arange(len(st.xmin))) * p.net_w))
