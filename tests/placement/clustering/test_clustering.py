"""rlframe.placement.clustering: a flat netlist -> soft macros, nets rebuilt, re-readable and
scorable; checked against the source netlist by independent code (conftest.py)."""
import os

import numpy as np
import pytest

from conftest import make_flat_netlist, net_pairs, soft_macro_of
from rlframe.errors import ConfigError
from rlframe.placement.clustering import cluster_netlist, mtkahypar_available
from rlframe.placement.clustering.hypergraph import netlist_hypergraph
from rlframe.placement.cost import PlacementCost
from rlframe.placement.designs import resolve_design
from rlframe.placement.formats.netlist import (
    HARD_MACRO, HARD_MACRO_PIN, PORT, SOFT_MACRO, STDCELL, read_netlist)
from rlframe.placement.formats.plc import read_plc

BACKENDS = ["numpy"] + (["mtkahypar"] if mtkahypar_available() else [])


@pytest.fixture(scope="module", params=BACKENDS)
def clustered(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    flat = make_flat_netlist(os.path.join(d, "flat.pb.txt"))
    res = cluster_netlist(flat, num_groups=12, grid=(20, 20), canvas=(200.0, 200.0),
                          backend=request.param, seed=1)
    out, plc = res.write(os.path.join(d, "clustered.pb.txt"))
    return res, read_netlist(flat), read_netlist(out), plc


def test_hard_macros_pins_and_ports_kept(clustered):
    res, src, out, _ = clustered
    assert res.stats["partitioner"] in BACKENDS
    for kind in (HARD_MACRO, HARD_MACRO_PIN, PORT):
        names = [src.names[i] for i in src.indices_of(kind)]
        assert [out.names[i] for i in out.indices_of(kind)] == names
        for nm in names:
            i, j = src.index(nm), out.index(nm)
            for attr in ("width", "height", "x", "y", "orientation", "pin_x_offset",
                         "pin_y_offset"):
                assert getattr(out, attr)[j] == getattr(src, attr)[i], (nm, attr)
            if kind == HARD_MACRO_PIN:
                assert out.names[out.pin_parent[j]] == src.names[src.pin_parent[i]]
    assert out.count(STDCELL) == 0 and out.count(SOFT_MACRO) == res.stats["soft_macros"]


def test_cell_area_preserved_in_soft_macros(clustered):
    res, src, out, _ = clustered
    cells = src.stdcell_indices
    cell_area = float(np.sum(src.width[cells] * src.height[cells]))
    soft = out.soft_macro_indices
    assert float(np.sum(out.width[soft] * out.height[soft])) == pytest.approx(cell_area / 0.5, rel=1e-9)
    assert out.metadata["soft_macro_area_bloating_ratio"] == 2.0
    # gcell-wide soft macros at their cells' area-weighted centre
    assert np.allclose(out.width[soft], 200.0 / 20)
    for g in np.unique(res.group[cells]):
        members = cells[res.group[cells] == g]
        a = src.width[members] * src.height[members]
        j = out.index(f"Grp_{g}")
        assert out.x[j] == pytest.approx(np.sum(a * src.x[members]) / a.sum())
        assert out.width[j] * out.height[j] == pytest.approx(a.sum() / 0.5)


def test_net_weights_between_groups_preserved(clustered):
    res, src, out, _ = clustered
    hg = netlist_hypergraph(src, 500)
    kept = np.zeros(src.n_nets, bool)
    kept[hg.net_id] = True

    def src_key(i):
        return f"Grp_{res.group[i]}" if src.node_type[i] == STDCELL else src.names[i]

    def out_key(i):
        return soft_macro_of(out.names[i]) or out.names[i]

    want = {}
    for k in np.flatnonzero(kept):
        nodes = src.net(int(k))
        d = src_key(int(nodes[0]))
        for s in {src_key(int(v)) for v in nodes[1:]} - {d}:
            want[(d, s)] = want.get((d, s), 0.0) + float(src.net_weight[k])
    # sinks in the clustered netlist are group input pins: key them by their soft macro
    got = net_pairs(out, out_key)
    assert got.keys() == want.keys()
    for key, w in want.items():
        assert got[key] == pytest.approx(w), key
    # no net inside one group, no net with a repeated member
    for k in range(out.n_nets):
        nodes = out.net(k)
        assert len(set(nodes.tolist())) == len(nodes)
        assert len({out_key(int(v)) for v in nodes}) >= 2
    # the clock net (600 sinks > max fanout 500) was dropped
    assert res.stats["dropped_high_fanout_nets"] == 1
    assert not any(out.names[int(out.net(k)[0])] == "clk" for k in range(out.n_nets))


def _cell_pieces(members, nets, macro_of, is_cell):
    """Number of connected pieces holding the cells of one group: nets restricted to the group,
    pins of one macro joined through it (plain union-find)."""
    parent = {v: v for v in members}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(vs):
        for a, b in zip(vs, vs[1:]):
            parent[find(a)] = find(b)

    for net in nets:
        join([v for v in net if v in parent])
    by_macro = {}
    for v in members:
        if v in macro_of:
            by_macro.setdefault(macro_of[v], []).append(v)
    for vs in by_macro.values():
        join(vs)
    return len({find(v) for v in members if is_cell(v)})


def test_groups_connected(clustered):
    res, src, _, _ = clustered
    nets = [src.net(k).tolist() for k in range(src.n_nets) if len(src.net(k)) - 1 <= 500]
    macro_of = {int(i): int(src.pin_parent[i]) for i in src.pin_indices}
    cells = src.stdcell_indices
    groups = np.unique(res.group[cells])
    assert len(groups) == res.stats["soft_macros"] > 4
    for g in groups:
        members = set(np.flatnonzero(res.group == g).tolist())
        assert _cell_pieces(members, nets, macro_of,
                            lambda v: src.node_type[v] == STDCELL) == 1, f"group {g}"


def test_output_rereads_and_scores(clustered):
    res, _, out, plc = clustered
    pl = read_plc(plc)
    assert pl.header.grid == (20, 20) and pl.header.canvas == (200.0, 200.0)
    cost = PlacementCost.from_plc(out, plc).evaluate()
    assert all(np.isfinite(v) for v in cost.values())
    assert 0 < cost["proxy_cost"] < 5
    soft = out.soft_macro_indices
    idx = {int(i): k for k, i in enumerate(pl.node_index)}
    assert all(pl.x[idx[int(i)]] == out.x[i] for i in soft)


def test_no_positions_no_canvas(tmp_path):
    flat = os.path.join(os.path.dirname(__file__), "..", "..", "..", "rlframe", "placement", "data",
                        "circuit_training", "grouping_testdata", "simple.pb.txt")
    res = cluster_netlist(flat, backend="numpy")
    assert res.canvas_source == "chosen" and res.grid_source == "chosen"
    src = res.source
    side = np.sqrt((src.total_area()) / 0.6)
    assert res.canvas == pytest.approx((side, side))
    cols, rows = res.grid
    assert 500 <= cols * rows <= 4096
    out, _ = res.write(os.path.join(tmp_path, "simple.pb.txt"))
    nl = read_netlist(out)
    assert nl.count(STDCELL) == 0 and nl.count(HARD_MACRO) == 2
    soft = nl.soft_macro_indices
    # no cell positions: soft macros start at the canvas centre
    assert np.allclose(nl.x[soft], side / 2) and np.allclose(nl.y[soft], side / 2)


def test_bad_options(flat_netlist):
    with pytest.raises(ConfigError, match="shape"):
        cluster_netlist(flat_netlist, shape="round")
    with pytest.raises(ConfigError, match="canvas"):
        cluster_netlist(flat_netlist, canvas=(0, 10))
    with pytest.raises(ConfigError, match="partitioner"):
        cluster_netlist(flat_netlist, backend="hmetis")
    with pytest.raises(ConfigError, match="no standard cells"):
        cluster_netlist(resolve_design("sample_clustered")[0])


def test_numpy_partitioner_is_deterministic(flat_netlist):
    a = cluster_netlist(flat_netlist, num_groups=8, backend="numpy", seed=3)
    b = cluster_netlist(flat_netlist, num_groups=8, backend="numpy", seed=3)
    assert np.array_equal(a.group, b.group) and a.text == b.text
