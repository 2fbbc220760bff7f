"""A small generated flat netlist (macros with pins, ports, placed standard cells) for the
clustering tests, and an independent reading of groups from a clustered netlist."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest


def _node(out: List[str], name: str, inputs, attrs) -> None:
    out.append("node {\n")
    out.append(f'  name: "{name}"\n')
    for i in inputs:
        out.append(f'  input: "{i}"\n')
    for k, v in attrs:
        val = f'placeholder: "{v}"' if isinstance(v, str) else f"f: {float(v)!r}"
        out.append(f"  attr {{\n    key: \"{k}\"\n    value {{\n      {val}\n    }}\n  }}\n")
    out.append("}\n")


def make_flat_netlist(path: str, n_cells: int = 600, n_macros: int = 4, n_ports: int = 12,
                      side: float = 200.0, bbox: bool = False, seed: int = 0,
                      weights: bool = True, high_fanout: bool = True) -> str:
    """Cells in four spatial clusters, wired mostly within their cluster (nets of 2-4 cells),
    some to macro pins and ports; one clock net to every cell when ``high_fanout``."""
    rng = np.random.default_rng(seed)
    out: List[str] = []
    if bbox:
        out.append(f"# FP bbox: {{0.0 0.0 {side} {side}}}\n")
    centres = np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]) * side
    cluster = rng.integers(0, 4, n_cells)
    xy = centres[cluster] + rng.normal(0, side * 0.06, (n_cells, 2))
    xy = np.clip(xy, 1, side - 1)
    cells = [f"u{i}" for i in range(n_cells)]
    by_cluster = [np.flatnonzero(cluster == c) for c in range(4)]
    pins: List[Tuple[str, int]] = []
    macro_xy = centres
    for m in range(n_macros):
        mx, my = macro_xy[m % 4]
        mname = f"mem{m}"
        for p in range(4):
            pname = f"{mname}/D{p}"
            pins.append((pname, m % 4))
            targets = [] if p < 2 else [cells[int(rng.choice(by_cluster[m % 4]))]]
            _node(out, pname, targets, [("type", "MACRO_PIN"), ("macro_name", mname),
                                        ("x_offset", -10.0 + 5 * p), ("y_offset", 8.0),
                                        ("x", mx - 10 + 5 * p), ("y", my + 8)])
        _node(out, mname, [], [("type", "MACRO"), ("width", 40.0), ("height", 30.0),
                               ("x", float(mx)), ("y", float(my)), ("orientation", "N")])
    for p in range(n_ports):
        y = side * (p + 0.5) / n_ports
        c = int(rng.choice(by_cluster[0 if y < side / 2 else 2]))
        _node(out, f"in{p}", [cells[c]], [("type", "PORT"), ("x", 0.0), ("y", float(y)),
                                          ("side", "LEFT")])
    if high_fanout:
        _node(out, "clk", cells, [("type", "PORT"), ("x", float(side / 2)), ("y", 0.0)])
    for i in range(n_cells):
        own = by_cluster[cluster[i]]
        k = int(rng.integers(1, 4))
        sinks = [cells[int(j)] for j in rng.choice(own, k)]
        if rng.random() < 0.05:
            sinks.append(cells[int(rng.integers(0, n_cells))])
        if rng.random() < 0.02 and pins:
            sinks.append(pins[int(rng.integers(0, len(pins)))][0])
        attrs = [("type", "STDCELL"), ("width", float(rng.choice([0.38, 0.76, 1.14]))),
                 ("height", 1.4), ("x", float(xy[i, 0])), ("y", float(xy[i, 1]))]
        if weights and i % 7 == 0:
            attrs.append(("weight", 2.0))
        _node(out, cells[i], sinks, attrs)
    with open(path, "w") as f:
        f.write("".join(out))
    return path


@pytest.fixture
def flat_netlist(tmp_path) -> str:
    return make_flat_netlist(os.path.join(tmp_path, "flat.pb.txt"))


def soft_macro_of(name: str) -> Optional[str]:
    """``Grp_3`` for ``Grp_3`` and its pins ``Grp_3/...``."""
    return name.split("/", 1)[0] if name.startswith("Grp_") else None


def net_pairs(netlist, key) -> Dict[Tuple[str, str], float]:
    """Summed weight per (driver key, sink key) over the nets of ``netlist`` (each distinct sink
    key of a net once, sinks equal to the driver's key left out)."""
    pairs: Dict[Tuple[str, str], float] = {}
    for k in range(netlist.n_nets):
        nodes = netlist.net(k)
        d = key(int(nodes[0]))
        for s in {key(int(v)) for v in nodes[1:]} - {d}:
            pairs[(d, s)] = pairs.get((d, s), 0.0) + float(netlist.net_weight[k])
    return pairs
