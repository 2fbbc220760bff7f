"""Proxy cost: golden values of Google's binary, orientations, incremental moves, reference loop."""
import importlib.util
import math
import os

import numpy as np
import pytest

from rlframe.placement.cost import PlacementCost, top_fraction_mean
from rlframe.placement.designs import design_file, resolve_design
from rlframe.placement.geometry import Grid
from rlframe.placement.formats.netlist import ORIENTATIONS, read_netlist

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def ariane():
    return read_netlist(resolve_design("ariane133")[0])


# (plc, hpwl, wirelength cost, density cost, congestion cost or None) -- PROVENANCE.md
GOLDEN = [("legalized.plc", 4763106.815, 0.0736, 0.4988, 0.7259),
          ("initial.plc", 3219216.090, 0.0497, 0.6067, None)]


@pytest.mark.parametrize("plc,hpwl,wl,dens,cong", GOLDEN)
def test_ariane133_golden(ariane, plc, hpwl, wl, dens, cong):
    e = PlacementCost.from_plc(ariane, design_file("ariane133", plc)).evaluate()
    # the binary prints the costs with 4 decimals: compare to 1e-3 relative
    assert e["hpwl"] == pytest.approx(hpwl, rel=1e-6 if cong is not None else 1e-3)
    assert e["wirelength_cost"] == pytest.approx(wl, rel=1e-3)
    assert e["density_cost"] == pytest.approx(dens, rel=1e-3)
    if cong is not None:
        assert e["congestion_cost"] == pytest.approx(cong, rel=1e-3)
    assert e["proxy_cost"] == pytest.approx(
        e["wirelength_cost"] + 0.5 * e["density_cost"] + 0.5 * e["congestion_cost"])


def test_macro_tiles_golden():
    nl = read_netlist(resolve_design("macro_tiles_10x10")[0])
    pc = PlacementCost(nl)  # binary defaults: square canvas sqrt(area / 0.6), 10 x 10 grid
    assert pc.grid.width == pytest.approx(math.sqrt(100 * 50 * 50 / 0.6))
    assert pc.hpwl() == pytest.approx(5400, rel=1e-12)
    assert pc.wirelength_cost() == pytest.approx(0.007745966692414834, rel=1e-9)
    assert pc.density_cost() == pytest.approx(0.3570806661517036, rel=1e-9)


SINGLE = '''node {
  name: "M"
  attr {
    key: "type"
    value {
      placeholder: "MACRO"
    }
  }
  attr {
    key: "width"
    value {
      f: 20
    }
  }
  attr {
    key: "height"
    value {
      f: 10
    }
  }
  attr {
    key: "x"
    value {
      f: 50
    }
  }
  attr {
    key: "y"
    value {
      f: 50
    }
  }
}
node {
  name: "M/p"
  input: "P"
  attr {
    key: "type"
    value {
      placeholder: "MACRO_PIN"
    }
  }
  attr {
    key: "macro_name"
    value {
      placeholder: "M"
    }
  }
  attr {
    key: "x_offset"
    value {
      f: 6
    }
  }
  attr {
    key: "y_offset"
    value {
      f: 2
    }
  }
  attr {
    key: "weight"
    value {
      f: 2
    }
  }
}
node {
  name: "P"
  attr {
    key: "type"
    value {
      placeholder: "PORT"
    }
  }
  attr {
    key: "x"
    value {
      f: 0
    }
  }
  attr {
    key: "y"
    value {
      f: 0
    }
  }
}
'''
# pin offset (6, 2) rotated: LEF/DEF orientations
EXPECTED_OFFSET = {"N": (6, 2), "S": (-6, -2), "FN": (-6, 2), "FS": (6, -2),
                   "E": (2, -6), "W": (-2, 6), "FE": (-2, -6), "FW": (2, 6)}


@pytest.mark.parametrize("orient", ORIENTATIONS)
def test_eight_orientations(tmp_path, orient):
    p = tmp_path / "one.pb.txt"
    p.write_text(SINGLE)
    nl = read_netlist(p)
    pc = PlacementCost(nl, canvas=(100, 100), grid=(10, 10))
    pc.move_node(0, 55.0, 55.0, orientation=orient)
    dx, dy = EXPECTED_OFFSET[orient]
    assert (pc.x[1], pc.y[1]) == (55 + dx, 55 + dy)
    assert pc.hpwl() == pytest.approx(2 * ((55 + dx) + (55 + dy)))          # weight 2
    assert pc.wirelength_cost() == pytest.approx(pc.hpwl() / (200 * 2))
    # quarter turns swap width and height: the 20 x 10 macro covers 1 or 3 rows of 10
    rows_covered = np.count_nonzero(pc.density_grid().sum(1))
    assert rows_covered == (3 if orient in ("E", "W", "FE", "FW") else 1)
    full = PlacementCost(nl, canvas=(100, 100), grid=(10, 10), x=pc.x, y=pc.y,
                         orientation=pc.orientation)
    assert full.evaluate() == pytest.approx(pc.evaluate(), rel=1e-12)


@pytest.mark.parametrize("smooth", [0, 2])
def test_incremental_equals_full(ariane, smooth):
    pc = PlacementCost.from_plc(ariane, design_file("ariane133", "legalized.plc"),
                                smooth_range=smooth)
    rng = np.random.default_rng(smooth)
    movable = np.concatenate([ariane.hard_macro_indices[:40], ariane.soft_macro_indices[:40],
                              ariane.port_indices[:10]])
    for _ in range(60):
        i = int(rng.choice(movable))
        o = int(rng.integers(8)) if ariane.node_type[i] == 0 else None
        pc.move_node(i, rng.uniform(-50, 1500), rng.uniform(-50, 1500), orientation=o)
    full = PlacementCost(ariane, canvas=(pc.grid.width, pc.grid.height), grid=(24, 21),
                         routes_per_micron=pc.routes_per_micron,
                         macro_routing_alloc=pc.macro_routing_alloc, smooth_range=smooth,
                         x=pc.x, y=pc.y, orientation=pc.orientation)
    a, b = pc.evaluate(), full.evaluate()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-9), k


def _reference():
    path = os.path.join(REPO, "experiments", "benchmarks", "placement_cost.py")
    if not os.path.isfile(path):
        pytest.skip("benchmark (reference loop) not present")
    spec = importlib.util.spec_from_file_location("_placement_cost_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.reference_cost


@pytest.mark.parametrize("design,grid,smooth", [
    ("ariane133", (24, 21), 2), ("ariane133", (7, 5), 1), ("sample_clustered", (3, 4), 1),
    ("toy_macro_stdcell", (5, 5), 0), ("macro_tiles_10x10", (20, 20), 2)])
def test_matches_per_net_reference_loop(ariane, design, grid, smooth):
    ref = _reference()
    nl = ariane if design == "ariane133" else read_netlist(resolve_design(design)[0])
    pc = PlacementCost(nl, grid=grid, smooth_range=smooth,
                       canvas=(1433.406, 1433.406) if design == "ariane133" else None)
    rng = np.random.default_rng(1)
    for i in rng.choice(nl.macro_indices, size=min(10, len(nl.macro_indices)), replace=False):
        pc.move_node(int(i), rng.uniform(0, pc.grid.width), rng.uniform(0, pc.grid.height),
                     orientation=int(rng.integers(8)) if nl.node_type[i] == 0 else None)
    ours, theirs = pc.evaluate(), ref(pc)
    for k in theirs:
        assert ours[k] == pytest.approx(theirs[k], rel=1e-9, abs=1e-12), k


def test_top_fraction_and_grid_helpers():
    assert top_fraction_mean(np.arange(20.0), 0.1, nonzero_only=True) == (19 + 18) / 2
    assert top_fraction_mean(np.array([0, 0, 3.0]), 0.1, nonzero_only=True) == 3.0
    assert top_fraction_mean(np.array([1.0, 5.0]), 0.05, nonzero_only=False) == 5.0
    g = Grid(cols=4, rows=2, width=40.0, height=10.0)
    assert g.cell_index(15.0, 7.0) == 1 * 4 + 1
    assert g.cell_center(5) == (15.0, 7.5)
    assert g.cell_index(40.0, 10.0) == 7 and g.cell_index(40.0, 10.0, clip=False) == 12
    cx, cy = g.centers()
    assert np.all(g.cell_index(cx, cy) == np.arange(8))


def test_macro_overlap(ariane):
    pc = PlacementCost.from_plc(ariane, design_file("ariane133", "legalized.plc"))
    assert pc.macro_overlap() == 0.0
    a, b = ariane.hard_macro_indices[:2]
    pc.move_node(int(b), float(pc.x[a]) + 1.0, float(pc.y[a]))
    w, h = ariane.width[a], ariane.height[a]
    expected = (min(w, ariane.width[b]) - 1.0 if ariane.width[b] == w else None)
    assert pc.macro_overlap() > 0
    if expected is not None and ariane.height[b] == h:
        assert pc.macro_overlap() == pytest.approx(expected * h)


@pytest.mark.skipif(__import__("rlframe.placement.cost", fromlist=["numba"]).numba is None,
                    reason="numba is not installed")
def test_compiled_routing_is_bit_identical(ariane):
    """The all-net routing loop (cost._route_all) gives the numpy path's maps bit for bit: the shipped
    placement, random positions (some off the canvas) and every shipped design."""
    from rlframe.placement.designs import list_designs
    from rlframe.placement.state import PlacementProblem
    nl = ariane
    pc = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc"))
    rng = np.random.default_rng(0)
    cases = [pc]
    for _ in range(3):
        c = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc"))
        c.set_positions(rng.uniform(-50, c.grid.width + 50, nl.n_nodes),
                        rng.uniform(-50, c.grid.height + 50, nl.n_nodes))
        cases.append(c)
    cases += [PlacementProblem(d).cost for d in list_designs() if d != "ariane133"]
    for c in cases:
        assert c.compiled
        fast = c._route(None)
        c.compiled = False
        ref = c._route(None)
        c.compiled = True
        for a, b in zip(fast, ref):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(__import__("rlframe.placement.cost", fromlist=["numba"]).numba is None,
                    reason="numba is not installed")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")   # numpy path, nan positions
def test_compiled_full_evaluation_equals_numpy(ariane):
    """Every compiled part of a full evaluation (pins, HPWL, routing, occupancy and macro-routing operands,
    macro overlap) gives the numpy path's values exactly: shipped and random placements (off the canvas,
    rounded onto a lattice, random orientations, a few nan positions), every shipped design."""
    from rlframe.placement.designs import list_designs
    from rlframe.placement.state import PlacementProblem
    rng = np.random.default_rng(3)
    costs = [PlacementCost.from_plc(ariane, design_file("ariane133", "legalized.plc"))]
    costs += [PlacementProblem(d).cost for d in list_designs() if d != "ariane133"]
    for c in costs:
        nl, g = c.netlist, c.grid
        ref = PlacementCost(nl, canvas=(g.width, g.height), grid=(g.cols, g.rows),
                            routes_per_micron=c.routes_per_micron, macro_routing_alloc=c.macro_routing_alloc,
                            smooth_range=c.smooth_range, x=c.x, y=c.y, orientation=c.orientation)
        ref.compiled = False
        for t in range(5):
            x, y, o = c.x, c.y, c.orientation
            if t:
                x = rng.uniform(-50, g.width + 50, nl.n_nodes)
                y = rng.uniform(-50, g.height + 50, nl.n_nodes)
                o = rng.integers(0, 8, nl.n_nodes).astype(np.int8) if t % 2 else c.orientation
            if t == 2:
                x, y = np.round(x / 10) * 10, np.round(y / 10) * 10
            if t == 4:
                x = x.copy()
                x[rng.integers(0, nl.n_nodes, 3)] = np.nan
            c.set_positions(x, y, o)
            ref.set_positions(x, y, o)
            assert c.compiled
            a, b = c.evaluate(), ref.evaluate()
            for k in b:
                assert a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])), (k, t)
            for u, v in ((c._occ, ref._occ), (c._h_mac, ref._h_mac), (c._v_mac, ref._v_mac),
                         (c._net_hpwl, ref._net_hpwl), (c.x, ref.x), (c.y, ref.y)):
                np.testing.assert_array_equal(u, v)
