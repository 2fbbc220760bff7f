"""Fixed groups, break-up of spread groups and merging of small ones (grouping.py)."""
import os

import numpy as np

from conftest import make_flat_netlist
from rlframe.placement.clustering import grouping
from rlframe.placement.clustering.hypergraph import netlist_hypergraph
from rlframe.placement.formats.netlist import HARD_MACRO_PIN, PORT, STDCELL, read_netlist


def _netlist(tmp_path, **kw):
    return read_netlist(make_flat_netlist(os.path.join(tmp_path, "f.pb.txt"), **kw))


def test_fixed_groups(tmp_path):
    nl = _netlist(tmp_path, high_fanout=False)
    hg = netlist_hypergraph(nl)
    g = grouping.fixed_groups(nl, hg, (200.0, 200.0), (10, 10), levels=1)
    pins = nl.indices_of(HARD_MACRO_PIN)
    by_macro = {}
    for p in pins:
        by_macro.setdefault(int(nl.pin_parent[p]), set()).add(int(g[p]))
    assert all(len(s) == 1 for s in by_macro.values())
    assert len({next(iter(s)) for s in by_macro.values()}) == len(by_macro)
    # 12 ports on the left edge, 16.7 apart; a port more than one grid cell (20) beyond the first
    # port of its group starts a new group: pairs
    ports = nl.indices_of(PORT)
    assert g[ports].tolist() == np.repeat(np.unique(g[ports]), 2).tolist()
    g2 = grouping.fixed_groups(nl, hg, (200.0, 200.0), (20, 20), levels=0)
    assert len(set(g2[ports].tolist())) == 12          # 16.7 apart > 10: each its own group
    # one logic level: a cell driven by a port joins the port's group
    cells = np.flatnonzero((nl.node_type == STDCELL) & (g >= 0))
    assert len(cells) > 0
    for c in cells[:20]:
        nets = [k for k in range(nl.n_nets) if c in nl.net(k)]
        assert any(g[v] == g[c] for k in nets for v in nl.net(k) if v != c)
    assert (g[(nl.node_type == STDCELL)] >= 0).sum() < nl.count(STDCELL)


def test_break_up_tiles_spread_groups(tmp_path):
    nl = _netlist(tmp_path)
    group = np.where(np.isin(nl.node_type, (STDCELL,)), 0, -1)
    out = grouping.break_up(nl, group, threshold=50.0)
    cells = nl.stdcell_indices
    assert len(np.unique(out[cells])) > 4
    for g in np.unique(out[cells]):
        m = cells[out[cells] == g]
        assert np.ptp(nl.x[m]) <= 50.0 + 1e-9 and np.ptp(nl.y[m]) <= 50.0 + 1e-9
    # a compact group is left alone
    assert (grouping.break_up(nl, group, threshold=1000.0)[cells] == 0).all()


def test_merge_small_groups_joins_close_connected_neighbours(tmp_path):
    nl = _netlist(tmp_path, high_fanout=False)
    hg = netlist_hypergraph(nl)
    cells = nl.stdcell_indices
    group = np.full(nl.n_nodes, -1)
    group[cells] = np.arange(len(cells)) % 50          # 50 groups of ~12 cells
    merged = grouping.merge_small_groups(nl, hg, group, max_nodes=20, closeness=1e9)
    assert len(np.unique(merged[cells])) < 50
    adj = grouping.group_adjacency(hg, group)
    # nothing merges when no group is close enough
    same = grouping.merge_small_groups(nl, hg, group, max_nodes=20, closeness=-1.0)
    assert len(np.unique(same[cells])) == 50 and adj
