"""Force-directed soft-macro placement (Circuit Training's schedule, TILOS' open version)."""
import numpy as np
import pytest

from rlframe.placement import (
    FDSchedule, ForceDirectedPlacer, PlacementCost, design_file, force_directed_placement,
    read_netlist, resolve_design)
from rlframe.placement.geometry import oriented_size


@pytest.fixture(scope="module")
def ariane():
    nl = read_netlist(resolve_design("ariane133")[0])
    return nl, PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc"))


def inside(nl, x, y, orientation, W, H, nodes):
    w, h = oriented_size(nl, orientation, nodes)
    e = 1e-9
    return bool(np.all(x[nodes] - w / 2 >= -e) and np.all(x[nodes] + w / 2 <= W + e)
                and np.all(y[nodes] - h / 2 >= -e) and np.all(y[nodes] + h / 2 <= H + e))


def test_reduces_hpwl_from_a_bad_start_and_stays_in_canvas(ariane):
    nl, pc = ariane
    W, H = pc.grid.width, pc.grid.height
    soft = nl.soft_macro_indices
    rng = np.random.default_rng(0)
    x, y = pc.x.copy(), pc.y.copy()
    # bad start: soft macros scattered uniformly over the canvas
    x[soft], y[soft] = rng.uniform(0.05 * W, 0.95 * W, len(soft)), rng.uniform(0.05 * H, 0.95 * H, len(soft))
    bad = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc"))
    bad.set_positions(x, y, pc.orientation)
    fx, fy = ForceDirectedPlacer(nl, (W, H)).run(x, y, pc.orientation)
    bad_hpwl = bad.hpwl()
    bad.set_positions(fx, fy, pc.orientation)
    assert bad.hpwl() < 0.8 * bad_hpwl
    assert inside(nl, fx, fy, pc.orientation, W, H, soft)
    fixed = np.setdiff1d(np.flatnonzero(nl.pin_parent < 0), soft)   # hard macros, ports
    np.testing.assert_array_equal(fx[fixed], x[fixed])
    np.testing.assert_array_equal(fy[fixed], y[fixed])
    # pins follow their soft macros
    pins = np.flatnonzero(np.isin(nl.pin_parent, soft))
    np.testing.assert_allclose(fx[pins] - fx[nl.pin_parent[pins]], nl.pin_x_offset[pins], atol=1e-9)


def test_schedule_stages(ariane):
    nl, pc = ariane
    W, H = pc.grid.width, pc.grid.height
    fd = ForceDirectedPlacer(nl, (W, H))
    soft = nl.soft_macro_indices
    # attraction only: from the centre, soft macros spread towards what they connect to
    ax, ay = fd.run(pc.x, pc.y, pc.orientation, FDSchedule((50,), 1.0, (1.0,), (100.0,), (0.0,)))
    assert np.std(ax[soft]) > 10 and np.std(ay[soft]) > 10
    # repulsion only, from the current positions: overlaps between macros go down
    rx, ry = fd.run(ax, ay, pc.orientation,
                    FDSchedule((50,), 1.0, (1.0,), (0.0,), (1e6,), use_current_loc=True))
    before = PlacementCost(nl, canvas=(W, H), x=ax, y=ay, orientation=pc.orientation)
    after = PlacementCost(nl, canvas=(W, H), x=rx, y=ry, orientation=pc.orientation)
    macros = nl.macro_indices
    assert after.macro_overlap(macros) < before.macro_overlap(macros)
    # deterministic, and the one-shot helper gives the same result
    x1, y1 = force_directed_placement(nl, pc.x, pc.y, pc.orientation, (W, H),
                                      FDSchedule((20, 20), 1.0, (1.0, 1.0), (100.0, 1e-3), (0.0, 1e6)))
    x2, y2 = fd.run(pc.x, pc.y, pc.orientation,
                    FDSchedule((20, 20), 1.0, (1.0, 1.0), (100.0, 1e-3), (0.0, 1e6)))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_small_design_and_schedule_validation():
    nl = read_netlist(resolve_design("sample_clustered")[0])
    pc = PlacementCost.from_plc(nl, resolve_design("sample_clustered")[1])
    x, y = force_directed_placement(nl, pc.x, pc.y, pc.orientation, (pc.grid.width, pc.grid.height))
    assert inside(nl, x, y, pc.orientation, pc.grid.width, pc.grid.height, nl.soft_macro_indices)
    with pytest.raises(ValueError, match="same length"):
        FDSchedule(num_steps=(10, 10))
    # no soft macros: nothing moves
    nl2 = read_netlist(resolve_design("macro_tiles_10x10")[0])
    x2, y2 = force_directed_placement(nl2, nl2.x, nl2.y, nl2.orientation, (1200.0, 1200.0))
    np.testing.assert_array_equal(x2, nl2.x)


def test_starting_from_current_positions_keeps_a_good_placement_good(ariane):
    """CT's coordinate-descent call (use_current_loc=True) from the shipped soft-macro positions
    stays far closer to them than the episode-end call from the canvas centre (measured: 0.715
    vs 0.819, shipped 0.686)."""
    nl, pc = ariane
    W, H = pc.grid.width, pc.grid.height
    shipped = pc.proxy_cost()
    fd = ForceDirectedPlacer(nl, (W, H))
    costs = {}
    for cur in (False, True):
        x, y = fd.run(pc.x, pc.y, pc.orientation, FDSchedule(use_current_loc=cur))
        c = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc"))
        c.set_positions(x, y, pc.orientation)
        costs[cur] = c.proxy_cost()
    assert shipped < costs[True] < costs[False]
    assert costs[True] < shipped + 0.06
