"""The standard-cell hypergraph of a flat netlist, and connected components of its groups.

Vertices are the netlist's nodes (node index = vertex id); hyperedges are its nets (a driver and
its sinks, ``rlframe/placement/formats/netlist.py``). Macros never appear in a net (their pins
do), so they are isolated vertices. As in Circuit Training's grouper
(``circuit_training/grouping/meta_netlist_util.py``: ``disconnect_high_fanout_nets``), nets with
more than ``max_fanout`` sinks (clock, reset) are left out: they say nothing about which cells
belong together.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from rlframe.placement.formats.netlist import Netlist


@dataclasses.dataclass
class Hypergraph:
    """Nets as a compressed pin list: net ``e`` is ``pins[ptr[e]:ptr[e+1]]`` (driver first,
    every vertex at most once, at least two vertices); ``net_id[e]`` is its index in the
    netlist and ``weight[e]`` its weight."""

    n_vertices: int
    ptr: np.ndarray
    pins: np.ndarray
    weight: np.ndarray
    net_id: np.ndarray

    @property
    def n_edges(self) -> int:
        return len(self.ptr) - 1

    @property
    def size(self) -> np.ndarray:
        return np.diff(self.ptr)

    @property
    def pin_edge(self) -> np.ndarray:
        """Hyperedge index of every entry of ``pins``."""
        return np.repeat(np.arange(self.n_edges, dtype=np.int64), self.size)


def netlist_hypergraph(netlist: Netlist, max_fanout: Optional[int] = 500) -> Hypergraph:
    """The nets of ``netlist`` with duplicate members removed (first occurrence kept, so the
    driver stays first), nets of fewer than two distinct nodes dropped and, when ``max_fanout``
    is given, nets with more sinks than that dropped."""
    ptr, nodes = netlist.net_ptr, netlist.net_nodes
    n_nets = len(ptr) - 1
    size = np.diff(ptr)
    edge = np.repeat(np.arange(n_nets, dtype=np.int64), size)
    keep_net = np.ones(n_nets, bool) if max_fanout is None else (size - 1 <= max_fanout)
    pos = np.flatnonzero(keep_net[edge])
    key = edge[pos] * np.int64(netlist.n_nodes) + nodes[pos]
    _, first = np.unique(key, return_index=True)
    pos = pos[np.sort(first)]
    e, v = edge[pos], nodes[pos]
    counts = np.bincount(e, minlength=n_nets)
    ok = counts >= 2
    sel = ok[e]
    e, v = e[sel], v[sel]
    kept = np.flatnonzero(ok)
    new_ptr = np.zeros(len(kept) + 1, np.int64)
    np.cumsum(counts[kept], out=new_ptr[1:])
    return Hypergraph(n_vertices=netlist.n_nodes, ptr=new_ptr, pins=v.astype(np.int64),
                      weight=netlist.net_weight[kept].astype(np.float64), net_id=kept)


def connected_components(n: int, edge: np.ndarray, vertex: np.ndarray) -> np.ndarray:
    """Component label (the smallest vertex id of the component) of each of ``n`` vertices, for
    hyperedges given as (``edge[i]``, ``vertex[i]``) memberships; edge ids need not be compact.

    Min-label propagation with root hooking and pointer jumping (Shiloach-Vishkin style), so the
    number of rounds grows with the log of the component diameter, not the diameter.
    """
    label = np.arange(n, dtype=np.int64)
    if len(edge) == 0:
        return label
    order = np.argsort(edge, kind="stable")
    e, v = edge[order], vertex[order]
    starts = np.flatnonzero(np.r_[True, e[1:] != e[:-1]])
    rank = np.cumsum(np.r_[False, e[1:] != e[:-1]])
    while True:
        old = label.copy()
        lv = label[v]
        m = np.minimum.reduceat(lv, starts)[rank]
        np.minimum.at(label, lv, m)      # hook the roots
        np.minimum.at(label, v, m)
        while True:                       # pointer jumping to the roots
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
        if np.array_equal(label, old):
            return label
