"""Balanced k-way hypergraph partitioning with fixed vertices.

Circuit Training partitions the standard-cell hypergraph with hMETIS (Karypis et al., *Multilevel
hypergraph partitioning*, DAC 1997), which is closed. Two open back-ends here:

* ``"mtkahypar"`` -- Mt-KaHyPar (Gottesbüren, Heuer, Maas, Sanders, Schlag, *Scalable
  high-quality hypergraph partitioning*, 2024), the ``cluster`` extra
  (``pip install rlframe[cluster]``), minimising the connectivity-minus-one objective like hMETIS;
* ``"numpy"`` -- a multilevel partitioner in vectorised numpy, used when Mt-KaHyPar is not
  installed: the hypergraph becomes a graph (clique expansion of small nets, star of the large
  ones, weight ``w / (|e| - 1)``); coarsening by heavy-edge matching (rating ``w / (c_u c_v)``,
  clusters capped at a quarter block) down to ~12 vertices per block; the coarsest graph is split
  by recursive bisection, each half grown greedily from a pseudo-peripheral vertex (or its fixed
  vertices) by least cut increase (Karypis & Kumar's GGGP); each level on the way back is refined
  by balanced k-way label propagation (move a vertex to the adjacent block it is most connected
  to when that lowers the cut and the block has room; overweight blocks shed their
  least-connected vertices).

Both keep fixed vertices together and fixed groups apart, and the balance bound
``block weight <= max((1 + imbalance) * ceil(total / k), weight fixed to the block)``
(Mt-KaHyPar: with a fixed group counted as at most half a block, see ``_partition_mtkahypar``).
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from rlframe.errors import ConfigError

BACKENDS = ("auto", "mtkahypar", "numpy")


def mtkahypar_available() -> bool:
    """True when the optional ``mtkahypar`` package (the ``cluster`` extra) imports."""
    try:
        import mtkahypar  # noqa: F401
    except ImportError:
        return False
    return True


def block_limits(vertex_weight: np.ndarray, fixed: np.ndarray, k: int, imbalance: float) -> np.ndarray:
    """Largest allowed weight of each block (see the module docstring)."""
    total = float(vertex_weight.sum())
    limit = np.full(k, math.floor((1.0 + imbalance) * math.ceil(total / k)), np.float64)
    pinned = fixed >= 0
    fixed_w = np.bincount(fixed[pinned], vertex_weight[pinned], minlength=k)
    return np.maximum(limit, fixed_w)


def partition(ptr: np.ndarray, pins: np.ndarray, weight: np.ndarray, n: int, k: int,
              fixed: Optional[np.ndarray] = None, imbalance: float = 0.05, seed: int = 0,
              backend: str = "auto") -> Tuple[np.ndarray, str]:
    """Split vertices ``0..n-1`` of the hypergraph (``pins[ptr[e]:ptr[e+1]]``, weights
    ``weight``) into ``k`` blocks of (nearly) equal vertex count.

    Returns ``(block per vertex, backend used)``. Vertices with the same ``fixed`` label
    (``>= 0``) end in one block, vertices with different labels in different blocks (the numpy
    back-end uses the label as block id; Mt-KaHyPar may add a block per clash beyond ``k``).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"partitioner backend {backend!r} is not one of {BACKENDS}")
    if k < 1:
        raise ConfigError(f"number of blocks must be >= 1, got {k}")
    fixed = np.full(n, -1, np.int64) if fixed is None else np.asarray(fixed, np.int64)
    if fixed.max(initial=-1) >= k:
        raise ConfigError(f"a fixed vertex names block {int(fixed.max())}, but k = {k}")
    if k == 1 or n == 0:
        return np.zeros(n, np.int64), "trivial"
    if backend == "mtkahypar" or (backend == "auto" and mtkahypar_available()):
        if not mtkahypar_available():
            raise ConfigError("backend 'mtkahypar' needs the optional package: "
                              "pip install 'rlframe[cluster]' (or mtkahypar); or use backend='numpy'")
        return _partition_mtkahypar(ptr, pins, weight, n, k, fixed, imbalance, seed), "mtkahypar"
    return _partition_numpy(ptr, pins, weight, n, k, fixed, imbalance, seed), "numpy"


# --- Mt-KaHyPar -------------------------------------------------------------------------------
_MTK_INIT = None


def _contract(ptr, pins, weight, new_id):
    """Hyperedges with vertices renamed by ``new_id``, repeats removed, single-vertex
    edges dropped."""
    size = np.diff(ptr)
    e = np.repeat(np.arange(len(size), dtype=np.int64), size)
    v = new_id[pins]
    key = e * np.int64(int(new_id.max()) + 1) + v
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    e, v = e[first], v[first]
    cnt = np.bincount(e, minlength=len(size))
    ok = cnt >= 2
    keep = ok[e]
    nptr = np.zeros(int(ok.sum()) + 1, np.int64)
    np.cumsum(cnt[ok], out=nptr[1:])
    return nptr, v[keep], weight[ok]


def _partition_mtkahypar(ptr, pins, weight, n, k, fixed, imbalance, seed) -> np.ndarray:
    """Mt-KaHyPar's large-k preset (deep multilevel; the default preset takes minutes at
    k ~ 600). That scheme takes no fixed vertices, so each fixed group is contracted into one
    vertex (weight capped at one block) and fixed groups sharing a block are split apart after."""
    import mtkahypar
    global _MTK_INIT
    if _MTK_INIT is None:  # Mt-KaHyPar may be initialised once per process
        _MTK_INIT = mtkahypar.initialize(max(1, min(4, os.cpu_count() or 1)), False)
    mtkahypar.set_seed(int(seed))
    pinned = fixed >= 0
    labels, fixed_c = np.unique(fixed[pinned], return_inverse=True)
    n_free = int(np.count_nonzero(~pinned))
    new_id = np.empty(n, np.int64)
    new_id[~pinned] = np.arange(n_free)
    new_id[pinned] = n_free + fixed_c
    limit = math.floor((1.0 + imbalance) * math.ceil(n / k))
    vw = np.r_[np.ones(n_free, np.int64),
               np.minimum(np.bincount(fixed_c, minlength=len(labels)), max(1, limit // 2))]
    cptr, cpins, cw = _contract(ptr, pins, weight, new_id)
    ctx = _MTK_INIT.context_from_preset(mtkahypar.PresetType.LARGE_K)
    ctx.set_partitioning_parameters(int(k), float(imbalance), mtkahypar.Objective.KM1)
    ctx.logging = False
    edges = [e.tolist() for e in np.split(cpins, cptr[1:-1])] if len(cptr) > 1 else []
    ew = np.maximum(np.rint(cw), 1).astype(np.int64).tolist()
    hg = _MTK_INIT.create_hypergraph(ctx, len(vw), len(edges), edges, vw.tolist(), ew)
    part = np.asarray(hg.partition(ctx).get_partition(), np.int64)
    block = part[new_id]
    # distinct fixed groups must not share a block: later ones move to new blocks
    fb = part[n_free:]
    _, first = np.unique(fb, return_index=True)
    clash = np.setdiff1d(np.arange(len(fb)), first)
    for j, c in enumerate(clash):
        block[new_id == n_free + c] = k + j
    return block


# --- numpy multilevel ---------------------------------------------------------------------------
_CLIQUE_MAX = 8        # nets up to this size become cliques, larger ones stars from the driver
_REFINE_ROUNDS = 8
_COARSEST_PER_BLOCK = 12   # coarsening stops at this many vertices per block
_CLUSTER_CAP = 0.25        # a coarse vertex weighs at most this share of a block


def _merge_edges(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray):
    """Undirected edges with ``u < v``, parallel edges summed, self-loops dropped."""
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    keep = lo != hi
    key = lo[keep] * np.int64(n) + hi[keep]
    w = w[keep]
    if len(key) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    order = np.argsort(key, kind="stable")
    key, w = key[order], w[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    key = key[starts]
    return key // n, key % n, np.add.reduceat(w, starts)


def hypergraph_to_graph(ptr: np.ndarray, pins: np.ndarray, weight: np.ndarray, n: int):
    """Clique expansion of nets up to ``_CLIQUE_MAX`` pins, driver stars of larger nets, each
    pair weighted ``w / (|e| - 1)``; returns undirected ``(u, v, w)``."""
    size = np.diff(ptr)
    us: List[np.ndarray] = []
    vs: List[np.ndarray] = []
    ws: List[np.ndarray] = []
    for s in range(2, _CLIQUE_MAX + 1):
        nets = np.flatnonzero(size == s)
        if not len(nets):
            continue
        members = pins[ptr[nets][:, None] + np.arange(s)]
        a, b = np.triu_indices(s, 1)
        us.append(members[:, a].ravel())
        vs.append(members[:, b].ravel())
        ws.append(np.repeat(weight[nets] / (s - 1), len(a)))
    big = np.flatnonzero(size > _CLIQUE_MAX)
    if len(big):
        fan = size[big] - 1
        first = np.repeat(ptr[big] + 1 - np.r_[0, np.cumsum(fan)[:-1]], fan)
        us.append(np.repeat(pins[ptr[big]], fan))
        vs.append(pins[first + np.arange(int(fan.sum()))])
        ws.append(np.repeat(weight[big] / fan, fan))
    if not us:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return _merge_edges(n, np.concatenate(us), np.concatenate(vs), np.concatenate(ws))


def _directed(u, v, w):
    return np.r_[u, v], np.r_[v, u], np.r_[w, w]


def _first_per_group(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Positions of the highest ``score`` per value of ``group``."""
    order = np.lexsort((-score, group))
    g = group[order]
    return order[np.r_[True, g[1:] != g[:-1]]]


def _coarsen(n, u, v, w, vw, fixed, cap, rng):
    """One level of heavy-edge matching; returns (cluster of each vertex, number of clusters)."""
    src, dst, ww = _directed(u, v, w)
    ok = (vw[src] + vw[dst] <= cap) & (
        (fixed[src] < 0) | (fixed[dst] < 0) | (fixed[src] == fixed[dst]))
    src, dst, ww = src[ok], dst[ok], ww[ok]
    rating = ww / (vw[src] * vw[dst]) * (1.0 + 1e-6 * rng.random(len(src)))
    match = np.full(n, -1, np.int64)
    for _ in range(3):
        sel = (match[src] < 0) & (match[dst] < 0)
        if not sel.any():
            break
        s, d, r = src[sel], dst[sel], rating[sel]
        top = _first_per_group(s, r)
        best = np.full(n, -1, np.int64)
        best[s[top]] = d[top]
        cand = np.flatnonzero(best >= 0)
        mutual = cand[best[best[cand]] == cand]
        if not len(mutual):
            break
        match[mutual] = best[mutual]
    rep = np.arange(n, dtype=np.int64)
    m = match >= 0
    rep[m] = np.minimum(rep[m], match[m])
    uniq, cluster = np.unique(rep, return_inverse=True)
    return cluster.astype(np.int64), len(uniq)


def _vertex_block_conn(src, dst, ww, block, k):
    """Summed edge weight from each vertex to each adjacent block: (vertex, block, weight)."""
    key = src * np.int64(k) + block[dst]
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    conn = np.add.reduceat(ww[order], starts)
    key = key[starts]
    return key // k, key % k, conn


def _csr(n, u, v, w):
    """Adjacency lists (both directions) as Python lists, for the sequential growing."""
    src, dst, ww = _directed(u, v, w)
    order = np.argsort(src, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    return ptr.tolist(), dst[order].tolist(), ww[order].tolist()


def _pseudo_peripheral(start: int, inside, ptr, adj) -> int:
    """The last vertex reached by a breadth-first sweep from ``start`` within ``inside``."""
    seen = {start}
    frontier = [start]
    last = start
    while frontier:
        nxt = []
        for a in frontier:
            for j in range(ptr[a], ptr[a + 1]):
                b = adj[j]
                if inside[b] and b not in seen:
                    seen.add(b)
                    nxt.append(b)
        if nxt:
            last = nxt[0]
        frontier = nxt
    return last


def _grow_half(verts, want, side, ptr, adj, wts, deg, vw, rng) -> np.ndarray:
    """Greedy graph growing (Karypis & Kumar's GGGP): part A starts from the vertices forced
    into it (``side == 0``) or a pseudo-peripheral vertex and repeatedly takes the vertex most
    connected to it until it weighs ``want``; vertices forced into B (``side == 1``) are never
    taken; the next vertex is the one whose move cuts least (edge weight to the outside minus
    weight to A). Returns a mask over ``verts``."""
    import heapq
    pos = {int(v): i for i, v in enumerate(verts)}
    inside = {int(v): True for v in verts}
    inside_get = inside.get

    class _In:
        def __getitem__(self, b):
            return inside_get(b, False)
    ins = _In()
    in_a = np.zeros(len(verts), bool)
    taken = set()
    conn: Dict[int, float] = {}
    heap: list = []
    weight = 0.0

    def take(a):
        nonlocal weight
        taken.add(a)
        in_a[pos[a]] = True
        weight += vw[a]
        for j in range(ptr[a], ptr[a + 1]):
            b = adj[j]
            if ins[b] and b not in taken and side[pos[b]] != 1:
                c = conn.get(b, 0.0) + wts[j]
                conn[b] = c
                heapq.heappush(heap, (deg[b] - 2.0 * c, b))

    for i in np.flatnonzero(side == 0):
        take(int(verts[i]))
    free = [int(v) for v in rng.permutation(verts[side < 0])]
    fi = 0
    while weight < want:
        a = -1
        while heap:
            c, b = heapq.heappop(heap)
            if b not in taken and c == deg[b] - 2.0 * conn.get(b, 0.0):
                a = b
                break
        if a < 0:                       # nothing adjacent: start a new region
            while fi < len(free) and free[fi] in taken:
                fi += 1
            if fi >= len(free):
                break
            a = free[fi] if taken else _pseudo_peripheral(free[fi], ins, ptr, adj)
        if weight + vw[a] - want > want - weight:
            break
        take(a)
    return in_a


def _recursive_bisection(n, u, v, w, vw, fixed, k, rng) -> np.ndarray:
    """Initial k-way partition of the coarsest graph: blocks ``[b0, b1)`` are split in two
    by :func:`_grow_half` with weights in proportion to their block counts, recursively."""
    ptr, adj, wts = _csr(n, u, v, w)
    deg = (np.bincount(u, w, minlength=n) + np.bincount(v, w, minlength=n)).tolist()
    vw_l = vw.tolist()
    block = np.zeros(n, np.int64)
    stack = [(np.arange(n, dtype=np.int64), 0, k)]
    while stack:
        verts, b0, b1 = stack.pop()
        if b1 - b0 == 1 or len(verts) == 0:
            block[verts] = b0
            continue
        mid = (b0 + b1) // 2
        f = fixed[verts]
        side = np.where(f < 0, -1, np.where(f < mid, 0, 1))
        want = float(vw[verts].sum()) * (mid - b0) / (b1 - b0)
        in_a = _grow_half(verts, want, side, ptr, adj, wts, deg, vw_l, rng)
        stack.append((verts[in_a], b0, mid))
        stack.append((verts[~in_a], mid, b1))
    return block


def _refine(src, dst, ww, vw, fixed, block, k, limit, rounds) -> np.ndarray:
    """Balanced k-way label propagation (see the module docstring)."""
    movable = fixed < 0
    for r in range(rounds):
        bw = np.bincount(block, vw, minlength=k)
        cv, cb, cc = _vertex_block_conn(src, dst, ww, block, k)
        own = np.zeros(len(block))
        is_own = cb == block[cv]
        own[cv[is_own]] = cc[is_own]
        other = ~is_own
        cv, cb, cc = cv[other], cb[other], cc[other]
        if not len(cv):
            return block
        top = _first_per_group(cv, cc)
        cv, cb, cc = cv[top], cb[top], cc[top]
        gain = cc - own[cv]
        src_b = block[cv]
        over = bw[src_b] > limit[src_b]
        direction = (cb > src_b) if r % 2 == 0 else (cb < src_b)
        cand = movable[cv] & (((gain > 0) & direction) | (over & (bw[cb] + vw[cv] <= limit[cb])))
        if not cand.any():
            if r > 0:
                return block
            continue
        cv, cb, gain, src_b = cv[cand], cb[cand], gain[cand], src_b[cand]
        # balancing moves (no gain) take an overweight block only down to its limit
        shed = ~((gain > 0) & ((cb > src_b) if r % 2 == 0 else (cb < src_b)))
        if shed.any():
            idx = np.flatnonzero(shed)
            o = idx[np.lexsort((-gain[idx], src_b[idx]))]
            sb = src_b[o]
            cum = np.cumsum(vw[cv[o]])
            starts = np.flatnonzero(np.r_[True, sb[1:] != sb[:-1]])
            inside = cum - np.repeat(cum[starts] - vw[cv[o[starts]]], np.diff(np.r_[starts, len(o)]))
            drop = o[inside - vw[cv[o]] >= bw[sb] - limit[sb]]
            keep = np.ones(len(cv), bool)
            keep[drop] = False
            cv, cb, gain, src_b = cv[keep], cb[keep], gain[keep], src_b[keep]
        # room in the receiving blocks, best gains first
        order = np.lexsort((-gain, cb))
        cv, cb, gain, src_b = cv[order], cb[order], gain[order], src_b[order]
        cum = np.cumsum(vw[cv])
        starts = np.flatnonzero(np.r_[True, cb[1:] != cb[:-1]])
        before = np.repeat(cum[starts] - vw[cv[starts]], np.diff(np.r_[starts, len(cb)]))
        acc = bw[cb] + (cum - before) <= limit[cb]
        # a block never loses all its vertices
        out = np.bincount(src_b[acc], vw[cv[acc]], minlength=k)
        acc &= out[src_b] < bw[src_b]
        if not acc.any():
            return block
        block = block.copy()
        block[cv[acc]] = cb[acc]
    return block


def _partition_numpy(ptr, pins, weight, n, k, fixed, imbalance, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vw = np.ones(n)
    limit = block_limits(vw, fixed, k, imbalance)
    target = n / k
    u, v, w = hypergraph_to_graph(ptr, pins, weight, n)
    levels = []               # (cluster map, graph of the finer level)
    cur_n, cur_vw, cur_fixed = n, vw, fixed
    while cur_n > _COARSEST_PER_BLOCK * k:
        cluster, nc = _coarsen(cur_n, u, v, w, cur_vw, cur_fixed, _CLUSTER_CAP * target, rng)
        if nc > 0.95 * cur_n:
            break
        levels.append((cluster, (u, v, w, cur_vw, cur_fixed)))
        cvw = np.bincount(cluster, cur_vw, minlength=nc)
        cfixed = np.full(nc, -1, np.int64)
        np.maximum.at(cfixed, cluster, cur_fixed)
        u, v, w = _merge_edges(nc, cluster[u], cluster[v], w)
        cur_n, cur_vw, cur_fixed = nc, cvw, cfixed
    block = _recursive_bisection(cur_n, u, v, w, cur_vw, cur_fixed, k, rng)
    src, dst, ww = _directed(u, v, w)
    block = _refine(src, dst, ww, cur_vw, cur_fixed, block, k, limit, _REFINE_ROUNDS)
    for cluster, (u, v, w, fvw, ffixed) in reversed(levels):
        block = block[cluster]
        src, dst, ww = _directed(u, v, w)
        block = _refine(src, dst, ww, fvw, ffixed, block, k, limit, _REFINE_ROUNDS)
    return block
