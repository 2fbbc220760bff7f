"""Groups of standard cells: fixed seeds, break-up of spread groups, connectivity, merging.

The steps of Circuit Training's grouper (``circuit_training/grouping/grouping.py``, described in
TILOS MacroPlacement's ``CodeElements/Clustering/README.md``), vectorised over node arrays. A
*group* array holds one group id per netlist node, ``-1`` for nodes in no group (macros).

* :func:`fixed_groups` -- the pins of each hard macro form a group, ports form groups by side
  and proximity (along each side, a port more than one grid cell beyond the first port of the
  current group starts a new group), then the
  standard cells within ``levels`` logic levels of a grouped node join its group (its fan-outs and
  fan-ins; the lowest grouped node index wins). These become fixed vertices of the partitioner.
* :func:`break_up` -- a group whose nodes span more than ``threshold`` in x or y is cut into
  ``threshold``-sized tiles around its area-weighted standard-cell centre; the centre tile keeps
  the id (needs cell positions).
* :func:`make_connected` -- every group's standard cells become one connected piece of the
  hypergraph (nets restricted to the group; pins of one macro count as joined through it): the
  largest piece keeps the group, the others join the adjacent group they share most nets with,
  or become groups of their own when no other group touches them.
* :func:`merge_small_groups` -- groups of at most ``max_nodes`` nodes join the adjacent group
  (most shared nets) whose centre is within ``closeness`` (Manhattan), repeated until none can.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from rlframe.placement.clustering.hypergraph import Hypergraph, connected_components
from rlframe.placement.formats.netlist import HARD_MACRO_PIN, PORT, STDCELL, Netlist


def compact(group: np.ndarray) -> np.ndarray:
    """Renumber group ids to ``0..G-1`` in order of first appearance by id; -1 stays."""
    out = np.full_like(group, -1)
    m = group >= 0
    _, out[m] = np.unique(group[m], return_inverse=True)
    return out


def port_sides(x: np.ndarray, y: np.ndarray, width: float, height: float) -> np.ndarray:
    """Canvas side of each point split by the two diagonals (0 left, 1 right, 2 top, 3 bottom;
    Circuit Training's ``Grouping.get_side``)."""
    mx = x * height / width
    upper = y > height - mx
    return np.where(y > mx, np.where(upper, 2, 0), np.where(upper, 1, 3))


def fixed_groups(netlist: Netlist, hg: Hypergraph, canvas: Tuple[float, float],
                 grid: Tuple[int, int], levels: int = 1) -> np.ndarray:
    """Seed groups (see the module docstring); returns the group of every node."""
    n = netlist.n_nodes
    group = np.full(n, -1, np.int64)
    pins = np.flatnonzero(netlist.node_type == HARD_MACRO_PIN)
    next_id = 0
    if len(pins):
        _, group[pins] = np.unique(netlist.pin_parent[pins], return_inverse=True)
        next_id = int(group[pins].max()) + 1
    ports = np.flatnonzero(netlist.node_type == PORT)
    if len(ports):
        w, h = canvas
        side = port_sides(netlist.x[ports], netlist.y[ports], w, h)
        for s in range(4):
            sel = ports[side == s]
            if not len(sel):
                continue
            coord = netlist.y[sel] if s < 2 else netlist.x[sel]
            gap = h / grid[1] if s < 2 else w / grid[0]
            order = np.argsort(coord, kind="stable")
            anchor = coord[order[0]]
            for i in order:
                if coord[i] - anchor > gap:
                    next_id += 1
                    anchor = coord[i]
                group[sel[i]] = next_id
            next_id += 1
    for _ in range(levels):
        group = _expand_one_level(netlist, hg, group)
    return group


def _expand_one_level(netlist: Netlist, hg: Hypergraph, group: np.ndarray) -> np.ndarray:
    """Standard cells driven by or driving a grouped node join its group."""
    e = hg.pin_edge
    driver = hg.pins[hg.ptr[:-1]][e]
    sink = hg.pins
    not_drv = np.ones(len(sink), bool)
    not_drv[hg.ptr[:-1]] = False
    driver, sink = driver[not_drv], sink[not_drv]
    cell = netlist.node_type == STDCELL
    # (grouped node, cell) pairs: fan-outs (grouped driver -> cell sink), fan-ins (grouped
    # sink -> cell driver); priority by grouped node index, fan-outs before fan-ins
    a = (group[driver] >= 0) & cell[sink] & (group[sink] < 0)
    b = (group[sink] >= 0) & cell[driver] & (group[driver] < 0)
    src = np.r_[driver[a], sink[b]]
    dst = np.r_[sink[a], driver[b]]
    kind = np.r_[np.zeros(a.sum(), np.int64), np.ones(b.sum(), np.int64)]
    if not len(src):
        return group
    order = np.lexsort((kind, src))
    dst_o = dst[order]
    _, first = np.unique(dst_o, return_index=True)
    out = group.copy()
    out[dst_o[first]] = group[src[order][first]]
    return out


def group_centres(netlist: Netlist, group: np.ndarray, n_groups: int) -> Tuple[np.ndarray, np.ndarray]:
    """Area-weighted centre of each group's standard cells ((0, 0) for a group without any)."""
    cells = np.flatnonzero((netlist.node_type == STDCELL) & (group >= 0))
    area = netlist.width[cells] * netlist.height[cells]
    a = np.bincount(group[cells], area, minlength=n_groups)
    cx = np.bincount(group[cells], area * netlist.x[cells], minlength=n_groups)
    cy = np.bincount(group[cells], area * netlist.y[cells], minlength=n_groups)
    ok = a > 1e-9
    return np.where(ok, cx / np.where(ok, a, 1), 0.0), np.where(ok, cy / np.where(ok, a, 1), 0.0)


def _bucket(d: np.ndarray, cut: float) -> np.ndarray:
    # Circuit Training's x_bucket / y_bucket: round half away from the centre, truncate
    return np.where(d > 0, np.trunc(0.5 + d / cut), np.trunc(-0.5 + d / cut)).astype(np.int64)


def break_up(netlist: Netlist, group: np.ndarray, threshold: float) -> np.ndarray:
    """Cut groups spanning more than ``threshold`` (see the module docstring)."""
    m = group >= 0
    g = group[m]
    n_groups = int(group.max()) + 1 if m.any() else 0
    if not n_groups:
        return group
    x, y = netlist.x[m], netlist.y[m]
    lo_x = np.full(n_groups, np.inf)
    hi_x = np.full(n_groups, -np.inf)
    lo_y, hi_y = lo_x.copy(), hi_x.copy()
    np.minimum.at(lo_x, g, x)
    np.maximum.at(hi_x, g, x)
    np.minimum.at(lo_y, g, y)
    np.maximum.at(hi_y, g, y)
    cx, cy = group_centres(netlist, group, n_groups)
    wide_x, wide_y = hi_x - lo_x, hi_y - lo_y
    xb = np.where(wide_x[g] >= threshold, _bucket(x - cx[g], threshold), 0)
    yb = np.where(wide_y[g] >= threshold, _bucket(y - cy[g], threshold), 0)
    spread = (wide_x > threshold) | (wide_y > threshold)
    moved = spread[g] & ((xb != 0) | (yb != 0))
    if not moved.any():
        return group
    key = np.stack([g[moved], xb[moved], yb[moved]], 1)
    _, tile = np.unique(key, axis=0, return_inverse=True)
    out_m = g.copy()
    out_m[moved] = n_groups + tile.ravel()
    out = group.copy()
    out[m] = out_m
    return compact(out)


def _group_edges(netlist: Netlist, hg: Hypergraph, group: np.ndarray):
    """(net, group, node) memberships of grouped nodes, plus each macro's pins joined."""
    e, v = hg.pin_edge, hg.pins
    m = group[v] >= 0
    e, v = e[m], v[m]
    sub = e * np.int64(int(group.max()) + 1) + group[v]
    pins = np.flatnonzero((netlist.pin_parent >= 0) & (group >= 0))
    # pins of one macro in one group: a virtual net through the macro
    link = (np.int64(hg.n_edges) + netlist.pin_parent[pins]) * np.int64(int(group.max()) + 1) + group[pins]
    return np.r_[sub, link], np.r_[v, pins]


def make_connected(netlist: Netlist, hg: Hypergraph, group: np.ndarray) -> np.ndarray:
    """Split every group into connected pieces; see the module docstring."""
    n = netlist.n_nodes
    edge, vert = _group_edges(netlist, hg, group)
    comp = connected_components(n, edge, vert)
    cell = (netlist.node_type == STDCELL) & (group >= 0)
    # the piece of each group holding most of its cells keeps the group
    cells = np.flatnonzero(cell)
    key = np.stack([group[cells], comp[cells]], 1)
    uniq, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    order = np.lexsort((-cnt, uniq[:, 0]))
    first = order[np.r_[True, uniq[order, 0][1:] != uniq[order, 0][:-1]]]
    main = np.zeros(len(uniq), bool)
    main[first] = True
    if main.all():
        return group
    # adjacency of each stray piece (by its component label) to other groups' main pieces
    piece_of = np.full(n, -1, np.int64)            # piece index for cells
    piece_of[cells] = inv
    is_main_node = np.zeros(n, bool)
    is_main_node[cells] = main[inv]
    e, v = hg.pin_edge, hg.pins
    pv = piece_of[v]
    stray_pin = (pv >= 0) & ~main[np.maximum(pv, 0)]
    # per net: the stray pieces and the main-piece groups it touches
    target_pin = is_main_node[v]
    se, sp = e[stray_pin], pv[stray_pin]
    te, tg = e[target_pin], group[v[target_pin]]
    best = _best_neighbour(se, sp, te, tg, uniq[:, 0])
    # each stray piece: the group it joins, or a new group of its own
    target = uniq[:, 0].copy()
    strays = np.flatnonzero(~main)
    alone = [p for p in strays.tolist() if p not in best]
    target[strays] = [best.get(p, -1) for p in strays.tolist()]
    target[alone] = int(group.max()) + 1 + np.arange(len(alone))
    out = group.copy()
    out[cells] = target[inv]
    return compact(out)


def _best_neighbour(se, sp, te, tg, piece_group) -> Dict[int, int]:
    """For each stray piece, the other group it shares most nets with (via those nets)."""
    if not len(se) or not len(te):
        return {}
    # join on net id: sort both sides by net
    o1, o2 = np.argsort(se, kind="stable"), np.argsort(te, kind="stable")
    se, sp = se[o1], sp[o1]
    te, tg = te[o2], tg[o2]
    nets = np.intersect1d(se, te)
    if not len(nets):
        return {}
    l1, r1 = np.searchsorted(se, nets), np.searchsorted(se, nets, "right")
    l2, r2 = np.searchsorted(te, nets), np.searchsorted(te, nets, "right")
    pairs: Dict[Tuple[int, int], int] = {}
    for a0, a1, b0, b1 in zip(l1, r1, l2, r2):
        ps = set(sp[a0:a1].tolist())
        gs = set(tg[b0:b1].tolist())
        for p in ps:
            for g in gs:
                if g != piece_group[p]:
                    pairs[(p, g)] = pairs.get((p, g), 0) + 1
    best: Dict[int, Tuple[int, int]] = {}
    for (p, g), c in pairs.items():
        if p not in best or c > best[p][1] or (c == best[p][1] and g < best[p][0]):
            best[p] = (g, c)
    return {p: g for p, (g, _) in best.items()}


def group_adjacency(hg: Hypergraph, group: np.ndarray) -> Dict[int, Dict[int, int]]:
    """Number of nets joining each pair of groups (Circuit Training's merge adjacency)."""
    e, v = hg.pin_edge, hg.pins
    m = group[v] >= 0
    key = np.unique(e[m] * np.int64(int(group.max()) + 1) + group[v[m]])
    G = int(group.max()) + 1
    ne, ng = key // G, key % G
    starts = np.flatnonzero(np.r_[True, ne[1:] != ne[:-1]])
    ends = np.r_[starts[1:], len(ne)]
    adj: Dict[int, Dict[int, int]] = {}
    multi = np.flatnonzero(ends - starts >= 2)
    for s0, s1 in zip(starts[multi], ends[multi]):
        gs = ng[s0:s1].tolist()
        for i in gs:
            row = adj.setdefault(i, {})
            for j in gs:
                if i != j:
                    row[j] = row.get(j, 0) + 1
    return adj


def merge_small_groups(netlist: Netlist, hg: Hypergraph, group: np.ndarray, max_nodes: int,
                       closeness: float) -> np.ndarray:
    """Circuit Training's ``merge_small_adj_close_groups``, repeated until nothing merges."""
    group = group.copy()
    while True:
        G = int(group.max()) + 1
        size = np.bincount(group[group >= 0], minlength=G)
        cx, cy = group_centres(netlist, group, G)
        adj = group_adjacency(hg, group)
        members: List[np.ndarray] = []
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(G + 1))
        members = [order[bounds[i]:bounds[i + 1]] for i in range(G)]
        again = False
        merged_any = False
        for g in range(G):
            if size[g] == 0 or size[g] > max_nodes:
                continue
            best, best_adj = -1, 0
            for o, c in sorted(adj.get(g, {}).items()):
                if size[o] == 0 or c <= best_adj:
                    continue
                if abs(cx[o] - cx[g]) + abs(cy[o] - cy[g]) <= closeness:
                    best, best_adj = o, c
            if best >= 0:
                group[members[g]] = best
                members[best] = np.r_[members[best], members[g]]
                size[best] += size[g]
                size[g] = 0
                merged_any = True
                if size[best] <= max_nodes:
                    again = True
        if not (again and merged_any):
            return compact(group)
