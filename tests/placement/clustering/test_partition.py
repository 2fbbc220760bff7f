"""Balanced partitioning (numpy multilevel and, when installed, Mt-KaHyPar) and components."""
import numpy as np
import pytest

from rlframe.errors import ConfigError
from rlframe.placement.clustering.hypergraph import connected_components
from rlframe.placement.clustering.partition import (
    block_limits, mtkahypar_available, partition)


def _grid_hypergraph(side=30, seed=0):
    """A side x side mesh of 2-pin nets plus random 3-4 pin local nets."""
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    nets = [list(p) for p in zip(idx[:, :-1].ravel(), idx[:, 1:].ravel())]
    nets += [list(p) for p in zip(idx[:-1, :].ravel(), idx[1:, :].ravel())]
    for _ in range(side * side // 4):
        r, c = rng.integers(0, side - 2, 2)
        nets.append(sorted(set(idx[r:r + 2, c:c + 2].ravel()[rng.permutation(4)[:3]].tolist())))
    ptr = np.r_[0, np.cumsum([len(n) for n in nets])]
    return ptr, np.concatenate(nets).astype(np.int64), np.ones(len(nets)), side * side


def _km1(ptr, pins, block):
    return sum(len(set(block[pins[a:b]].tolist())) - 1 for a, b in zip(ptr[:-1], ptr[1:]))


@pytest.mark.parametrize("backend", ["numpy"] + (["mtkahypar"] if mtkahypar_available() else []))
def test_balanced_and_fixed(backend):
    ptr, pins, w, n = _grid_hypergraph()
    k = 20
    fixed = np.full(n, -1)
    fixed[[0, 1, 30]] = 0          # one corner together
    fixed[[899, 898]] = 1          # the other corner
    block, used = partition(ptr, pins, w, n, k, fixed=fixed, imbalance=0.05, seed=0,
                            backend=backend)
    assert used == backend
    assert len(np.unique(block)) >= k
    assert block[0] == block[1] == block[30] != block[899] == block[898]
    limit = block_limits(np.ones(n), fixed, k, 0.05)[0]
    assert np.bincount(block).max() <= limit
    # far better than a random balanced assignment
    rand = np.random.default_rng(0).permutation(np.arange(n) % k)
    assert _km1(ptr, pins, block) < 0.5 * _km1(ptr, pins, rand)


def test_numpy_blocks_use_fixed_labels():
    ptr, pins, w, n = _grid_hypergraph(side=12)
    fixed = np.full(n, -1)
    fixed[:5] = 3
    block, _ = partition(ptr, pins, w, n, 6, fixed=fixed, backend="numpy")
    assert (block[:5] == 3).all() and set(np.unique(block)) == set(range(6))


def test_partition_errors():
    ptr, pins, w, n = _grid_hypergraph(side=5)
    with pytest.raises(ConfigError, match="backend"):
        partition(ptr, pins, w, n, 2, backend="hmetis")
    with pytest.raises(ConfigError, match="block"):
        partition(ptr, pins, w, n, 2, fixed=np.full(n, 5))
    assert (partition(ptr, pins, w, n, 1)[0] == 0).all()


def test_connected_components_matches_union_find():
    rng = np.random.default_rng(3)
    n = 400
    edges = [rng.choice(n, rng.integers(2, 4), replace=False) for _ in range(250)]
    e = np.concatenate([np.full(len(m), i) for i, m in enumerate(edges)])
    v = np.concatenate(edges)
    label = connected_components(n, e * 7 + 3, v)      # edge ids need not be compact
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a
    for m in edges:
        for a, b in zip(m, m[1:]):
            ra, rb = find(int(a)), find(int(b))
            parent[max(ra, rb)] = min(ra, rb)
    want = np.array([find(i) for i in range(n)])
    assert np.array_equal(label, want)
