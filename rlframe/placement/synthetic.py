"""Synthetic netlists for pre-training placement policies (issue: learning from many netlists,
Mirhoseini et al., Nature 2021 pre-train on a set of blocks; this makes as many as one wants).

:func:`generate` draws a Circuit Training-style clustered netlist:

* **hard macros** -- ``n_macros`` memories drawn from a few size classes (real blocks repeat the same
  SRAM), areas log-normal, aspect ratios in [1/2, 2];
* **soft macros** -- ``soft_per_macro * n_macros`` standard-cell clusters ``Grp_i`` (square, log-normal
  areas summing to ``soft_area_ratio`` times the hard-macro area), pins at their centre as the clustering
  writes them (rlframe/placement/clustering/writer.py);
* **ports** -- ``n_ports`` on the four canvas edges;
* **nets** -- ``nets_per_node`` nets per node; net degree ``1 + Zipf(zipf_a)`` capped at
  ``max_degree`` (with the default ``zipf_a = 2.2``: ~67 % 2-pin, ~15 % 3-pin, a heavy tail), sinks
  drawn mostly among the driver's nearest neighbours in a hidden 2-D layout (``locality``), so the
  netlist has the local structure a good placement can exploit; hard-macro pins sit on the macro's
  edges, one driver pin per net;
* **canvas** -- area = (hard + soft area) / ``utilization``, aspect ratio in [0.8, 1.25]; the grid is
  the clustering's choice (:func:`rlframe.placement.clustering.floorplan.choose_grid`).

Soft macros and ports start at their hidden-layout positions, hard macros at the canvas centre.
:func:`write_synthetic` writes ``DIR/synthetic_N_sS.pb.txt`` and its ``.plc`` (canvas, grid, routing
settings) -- a pair the env, the CLI, the protocol and the baselines read like any clustered design.
CLI: ``rlframe placement synth --out DIR --macros N --seed S``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import List, Tuple

import numpy as np

from rlframe.errors import ConfigError

SIDES = ("BOTTOM", "RIGHT", "TOP", "LEFT")


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of :func:`generate` (see the module docstring)."""

    n_macros: int = 16
    seed: int = 0
    soft_per_macro: float = 4.0
    soft_area_ratio: float = 1.0
    n_ports: int = 16
    nets_per_node: float = 2.0
    zipf_a: float = 2.2
    max_degree: int = 32
    locality: float = 0.85
    utilization: float = 0.6
    size_classes: int = 3
    macro_size: float = 60.0


@dataclasses.dataclass
class SyntheticNetlist:
    """A generated netlist as protobuf text, with its canvas."""

    text: str
    canvas: Tuple[float, float]
    degrees: np.ndarray  # pins per net


def _check(spec: SyntheticSpec) -> None:
    if spec.n_macros < 1:
        raise ConfigError(f"synthetic netlist: macros={spec.n_macros}; need at least 1 hard macro")
    if not 0.05 <= spec.utilization <= 0.9:
        raise ConfigError(f"synthetic netlist: utilization={spec.utilization}; choose 0.05 .. 0.9")
    if spec.zipf_a <= 1.0:
        raise ConfigError(f"synthetic netlist: zipf_a={spec.zipf_a}; the Zipf exponent must be > 1")
    if not 0.0 <= spec.locality <= 1.0:
        raise ConfigError(f"synthetic netlist: locality={spec.locality}; choose 0 .. 1")


def _macro_sizes(rng: np.random.Generator, spec: SyntheticSpec) -> Tuple[np.ndarray, np.ndarray]:
    k = max(1, min(spec.size_classes, spec.n_macros))
    area = (spec.macro_size ** 2) * rng.lognormal(0.0, 0.5, k)
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0), k))
    w, h = np.sqrt(area * aspect), np.sqrt(area / aspect)
    cls = rng.integers(0, k, spec.n_macros)
    return np.round(w[cls], 2), np.round(h[cls], 2)


def _degrees(rng: np.random.Generator, n_nets: int, spec: SyntheticSpec, n_nodes: int) -> np.ndarray:
    return np.minimum(1 + rng.zipf(spec.zipf_a, n_nets), min(spec.max_degree, n_nodes))


def _sinks(rng: np.random.Generator, pos: np.ndarray, driver: int, k: int, locality: float) -> List[int]:
    """``k`` distinct sink nodes for ``driver``: each a near neighbour with probability ``locality``."""
    d = np.hypot(*(pos - pos[driver]).T)
    d[driver] = np.inf
    near = list(np.argsort(d)[: max(2 * k, 4)])
    out: List[int] = []
    while len(out) < k:
        pool = near if rng.random() < locality else range(len(pos))
        c = int(rng.choice(list(pool)))
        if c != driver and c not in out:
            out.append(c)
        elif len(out) + 1 >= len(pos):
            break
    return out


def generate(spec: SyntheticSpec) -> SyntheticNetlist:
    """Draw a netlist (see the module docstring); the same spec gives the same text."""
    from rlframe.placement.clustering.writer import _node

    _check(spec)
    rng = np.random.default_rng(spec.seed)
    hw, hh = _macro_sizes(rng, spec)
    n_soft = int(round(spec.soft_per_macro * spec.n_macros))
    soft_area = rng.lognormal(0.0, 0.6, n_soft)
    soft_area *= spec.soft_area_ratio * float(np.sum(hw * hh)) / max(soft_area.sum(), 1e-12)
    ss = np.round(np.sqrt(soft_area), 2)
    area = float(np.sum(hw * hh) + np.sum(ss * ss)) / spec.utilization
    aspect = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    W, H = round(float(np.sqrt(area * aspect)), 1), round(float(np.sqrt(area / aspect)), 1)
    W, H = max(W, float(hw.max()) * 1.5), max(H, float(hh.max()) * 1.5)

    n_hard, n_ports = spec.n_macros, spec.n_ports
    n = n_hard + n_soft + n_ports
    pos = rng.uniform(0.0, 1.0, (n, 2))  # hidden layout (unit square); ports pushed to the edges
    side = rng.integers(0, 4, n_ports)
    port = pos[n_hard + n_soft:]
    port[side == 0, 1], port[side == 1, 0], port[side == 2, 1], port[side == 3, 0] = 0.0, 1.0, 1.0, 0.0

    n_nets = int(round(spec.nets_per_node * (n_hard + n_soft))) + n_ports
    degrees = _degrees(rng, n_nets, spec, n)
    nets = []  # (driver node, [sink nodes])
    port_used = np.zeros(n_ports, bool)
    for net in range(n_nets):
        driver = n_hard + n_soft + net if net < n_ports else int(rng.integers(0, n_hard + n_soft))
        if net < n_ports:
            port_used[net] = True
        sinks = _sinks(rng, pos, driver, int(degrees[net]) - 1, spec.locality)
        nets.append((driver, [s for s in sinks if s < n_hard + n_soft or not port_used[s - n_hard - n_soft]]))
    nets = [(d, s) for d, s in nets if s]
    degrees = np.array([1 + len(s) for _, s in nets])

    names = [f"M{i}" for i in range(n_hard)] + [f"Grp_{i}" for i in range(n_soft)] + \
        [f"P{i}" for i in range(n_ports)]
    in_pin = [f"{nm}/I" for nm in names[: n_hard + n_soft]] + names[n_hard + n_soft:]
    out_pins: List[List[Tuple[str, List[str]]]] = [[] for _ in range(n)]
    for d, s in nets:
        name = f"{names[d]}/O{len(out_pins[d])}" if d < n_hard + n_soft else names[d]
        out_pins[d].append((name, [in_pin[j] for j in s]))

    out: List[str] = [f"# Synthetic netlist (rlframe.placement.synthetic, {spec})\n",
                      f"# FP bbox: {{0.0 0.0 {W!r} {H!r}}}\n"]
    for i in range(n_hard + n_soft):
        hard = i < n_hard
        w, h = (hw[i], hh[i]) if hard else (ss[i - n_hard], ss[i - n_hard])
        x, y = (W / 2, H / 2) if hard else (float(pos[i, 0]) * W, float(pos[i, 1]) * H)
        attrs = [("type", "MACRO" if hard else "macro"), ("width", float(w)), ("height", float(h)),
                 ("x", x), ("y", y)] + ([("orientation", "N")] if hard else [])
        _node(out, names[i], (), attrs)
        pins = [(in_pin[i], [])] + out_pins[i]
        for j, (pin, sinks) in enumerate(pins):
            if hard:  # pins spread over the macro's edges
                t = rng.uniform(-0.5, 0.5)
                ox, oy = [(t * w, -h / 2), (w / 2, t * h), (t * w, h / 2), (-w / 2, t * h)][j % 4]
            else:
                ox = oy = 0.0
            _node(out, pin, sinks, [("type", "MACRO_PIN" if hard else "macro_pin"), ("macro_name", names[i]),
                                    ("x_offset", round(float(ox), 3)), ("y_offset", round(float(oy), 3)),
                                    ("x", x + ox), ("y", y + oy)])
    for p in range(n_ports):
        i = n_hard + n_soft + p
        sinks = out_pins[i][0][1] if out_pins[i] else []
        _node(out, names[i], sinks, [("type", "PORT"), ("x", float(pos[i, 0]) * W),
                                     ("y", float(pos[i, 1]) * H), ("side", SIDES[int(side[p])])])
    return SyntheticNetlist(text="".join(out), canvas=(W, H), degrees=degrees)


def write_synthetic(out_dir: str, spec: SyntheticSpec) -> Tuple[str, str]:
    """Generate and write ``out_dir/synthetic_<N>_s<S>.pb.txt`` and its ``.plc``; returns both paths."""
    from rlframe.placement.clustering.floorplan import choose_grid
    from rlframe.placement.cost import DEFAULT_MACRO_ROUTING_ALLOC, DEFAULT_ROUTES_PER_MICRON
    from rlframe.placement.designs import companion_plc
    from rlframe.placement.formats import read_netlist
    from rlframe.placement.formats.netlist import HARD_MACRO, SOFT_MACRO
    from rlframe.placement.formats.plc import make_placement

    syn = generate(spec)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"synthetic_{spec.n_macros}_s{spec.seed}.pb.txt")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(syn.text)
    nl = read_netlist(path)
    grid = choose_grid(nl, syn.canvas)
    kinds = np.isin(nl.node_type, (HARD_MACRO, SOFT_MACRO))
    (rh, rv), (mh, mv) = DEFAULT_ROUTES_PER_MICRON, DEFAULT_MACRO_ROUTING_ALLOC
    header = {
        "Source input file(s)": path,
        "Columns": f"{grid[0]}  Rows : {grid[1]}",
        "Width": f"{syn.canvas[0]!r}  Height : {syn.canvas[1]!r}",
        "Area (stdcell+macros)": repr(float(np.sum(nl.width[kinds] * nl.height[kinds]))),
        "Routes per micron, hor": f"{rh!r}  ver : {rv!r}",
        "Routes used by macros, hor": f"{mh!r}  ver : {mv!r}",
        "Smoothing factor": "0.0",
        "Overlap threshold": "0.0",
    }
    plc = companion_plc(path)
    make_placement(nl, nl.x, nl.y, header=header, path=plc).write(plc)
    return path, plc
