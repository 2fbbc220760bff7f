"""Write a grouped netlist: standard cells replaced by soft macros, nets rebuilt between them.

The output follows Circuit Training's ``Grouping.write_grouped_netlist``
(``circuit_training/grouping/grouping.py``), so the files look like the TILOS clustered netlists:

* a ``__metadata__`` node with ``soft_macro_area_bloating_ratio`` (1 / cell utilisation);
* every hard macro, macro pin and port as it was (macro pins keep their offsets), in node order;
* per group ``g`` a soft macro ``Grp_g`` at the area-weighted centre of its cells, of area
  ``cell area / cell_utilization`` (``shape="gcell"``: one grid cell wide, as the grouper writes
  it; ``"square"``: a square, as Circuit Training's cost makes them), then its pins, all at the
  macro centre (offset 0): ``Grp_g/Poutput_multi_i`` for each cell net that reaches two or more
  other groups or nodes, ``Grp_g/Poutput_single_i`` for each node or group reached by single-target
  nets (their weights summed), and ``Grp_g/Pinput``, the sink of every net entering the group.

Nets: every net keeps its driver's weight; a member standard cell is replaced by its group's
``Pinput``; members equal to the driver's own group are dropped, repeats removed; a net left
without sinks (inside one group) disappears; nets of one group with the same target set are one
net of the summed weight (same wirelength and routing demand). High-fanout nets the grouping left
out (more than ``max_fanout`` sinks) are dropped, as Circuit Training drops them.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Sequence, Tuple

import numpy as np

from rlframe.placement.clustering.hypergraph import Hypergraph
from rlframe.placement.formats.netlist import (
    HARD_MACRO, HARD_MACRO_PIN, ORIENTATIONS, PORT, SOFT_MACRO, SOFT_MACRO_PIN, STDCELL, Netlist)

SHAPES = ("gcell", "square")
#: floor of a soft macro's area (um^2), so a group of zero-area cells still has a size
MIN_SOFT_MACRO_AREA = 1e-3


@dataclasses.dataclass
class SoftMacros:
    """Geometry of the soft macros: group ``g`` has ``cell_area[g]``, ``width[g]`` x
    ``height[g]`` at ``(x[g], y[g])``."""

    cell_area: np.ndarray
    width: np.ndarray
    height: np.ndarray
    x: np.ndarray
    y: np.ndarray


@dataclasses.dataclass
class RebuiltNets:
    """Nets of the grouped netlist. ``node_inputs``: original node -> target names (drivers
    that are not standard cells); ``multi``/``single``: group -> list of (targets, weight)."""

    node_inputs: Dict[int, List[str]]
    multi: Dict[int, List[Tuple[List[str], float]]]
    single: Dict[int, List[Tuple[str, float]]]


def soft_macro_geometry(netlist: Netlist, group: np.ndarray, n_groups: int, centre_x, centre_y,
                        cell_utilization: float, shape: str, gcell_width: float) -> SoftMacros:
    cells = np.flatnonzero((netlist.node_type == STDCELL) & (group >= 0))
    area = np.bincount(group[cells], netlist.width[cells] * netlist.height[cells],
                       minlength=n_groups)
    bloated = np.maximum(area / cell_utilization, MIN_SOFT_MACRO_AREA)
    if shape == "square":
        width = np.sqrt(bloated)
        height = width.copy()
    else:
        width = np.full(n_groups, float(gcell_width))
        height = bloated / gcell_width
    return SoftMacros(cell_area=area, width=width, height=height, x=centre_x, y=centre_y)


def group_pin(g: int) -> str:
    return f"Grp_{g}/Pinput"


def rebuild_nets(netlist: Netlist, hg: Hypergraph, group: np.ndarray) -> RebuiltNets:
    """The nets between groups and kept nodes (see the module docstring)."""
    n = netlist.n_nodes
    cell = netlist.node_type == STDCELL
    mapped = np.arange(n, dtype=np.int64)
    mapped[cell] = n + group[cell]
    e = hg.pin_edge
    is_drv = np.zeros(len(e), bool)
    is_drv[hg.ptr[:-1]] = True
    driver = hg.pins[hg.ptr[:-1]]
    t = mapped[hg.pins]
    keep = ~is_drv & (t != mapped[driver][e])
    key = np.unique(e[keep] * np.int64(n + int(group.max()) + 2) + t[keep])
    ke, kt = key // (n + int(group.max()) + 2), key % (n + int(group.max()) + 2)
    starts = np.flatnonzero(np.r_[True, ke[1:] != ke[:-1]]) if len(ke) else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], len(ke)]
    names = netlist.names

    def name(x: int) -> str:
        return names[x] if x < n else group_pin(x - n)

    node_inputs: Dict[int, List[str]] = {}
    single_w: Dict[int, Dict[int, float]] = {}
    multi_w: Dict[int, Dict[Tuple[int, ...], float]] = {}
    for s0, s1 in zip(starts.tolist(), ends.tolist()):
        net = int(ke[s0])
        d = int(driver[net])
        w = float(hg.weight[net])
        targets = kt[s0:s1].tolist()
        if not cell[d]:
            node_inputs[d] = [name(x) for x in targets]
        elif len(targets) == 1:
            row = single_w.setdefault(int(group[d]), {})
            row[targets[0]] = row.get(targets[0], 0.0) + w
        else:
            row2 = multi_w.setdefault(int(group[d]), {})
            tt = tuple(targets)
            row2[tt] = row2.get(tt, 0.0) + w
    multi = {g: [([name(x) for x in tt], w) for tt, w in rows.items()]
             for g, rows in multi_w.items()}
    single = {g: [(name(x), w) for x, w in sorted(rows.items())] for g, rows in single_w.items()}
    return RebuiltNets(node_inputs=node_inputs, multi=multi, single=single)


# --- text ---------------------------------------------------------------------------------------
def _num(v: float) -> str:
    return repr(float(v))


def _node(out: List[str], name: str, inputs: Sequence[str], attrs: Sequence[Tuple[str, object]]) -> None:
    out.append(f'node {{\n  name: "{name}"\n')
    for i in inputs:
        out.append(f'  input: "{i}"\n')
    for k, v in attrs:
        val = f'placeholder: "{v}"' if isinstance(v, str) else f"f: {_num(v)}"
        out.append(f'  attr {{\n    key: "{k}"\n    value {{\n      {val}\n    }}\n  }}\n')
    out.append("}\n")


def netlist_text(netlist: Netlist, group: np.ndarray, nets: RebuiltNets, soft: SoftMacros,
                 canvas: Tuple[float, float], header: Sequence[str],
                 cell_utilization: float) -> str:
    """The grouped netlist as protobuf text (``# FP bbox`` line with the canvas first)."""
    out: List[str] = [f"# {line}\n" for line in header]
    out.append(f"# FP bbox: {{0.0 0.0 {_num(canvas[0])} {_num(canvas[1])}}}\n")
    for b in netlist.blockages:
        out.append("# Blockage : " + " ".join(_num(v) for v in b) + "\n")
    meta = dict(netlist.metadata)
    meta["soft_macro_area_bloating_ratio"] = 1.0 / cell_utilization
    _node(out, "__metadata__", (), sorted(meta.items()))
    t = netlist.node_type
    names = netlist.names
    for i in range(netlist.n_nodes):
        ti = t[i]
        if ti == STDCELL:
            continue
        attrs: List[Tuple[str, object]] = []
        if ti in (HARD_MACRO, SOFT_MACRO):
            attrs = [("type", "MACRO"), ("width", netlist.width[i]), ("height", netlist.height[i]),
                     ("x", netlist.x[i]), ("y", netlist.y[i]),
                     ("orientation", ORIENTATIONS[int(netlist.orientation[i])])]
        elif ti in (HARD_MACRO_PIN, SOFT_MACRO_PIN):
            attrs = [("type", "MACRO_PIN"), ("macro_name", names[int(netlist.pin_parent[i])]),
                     ("x_offset", netlist.pin_x_offset[i]), ("y_offset", netlist.pin_y_offset[i]),
                     ("x", netlist.x[i]), ("y", netlist.y[i])]
        elif ti == PORT:
            attrs = [("type", "PORT"), ("x", netlist.x[i]), ("y", netlist.y[i])]
            if i in netlist.side:
                attrs.append(("side", netlist.side[i]))
        if netlist.weight[i] != 1.0 and ti != HARD_MACRO:
            attrs.append(("weight", netlist.weight[i]))
        _node(out, names[i], nets.node_inputs.get(i, ()), attrs)
    groups = np.unique(group[(t == STDCELL) & (group >= 0)])
    for g in groups.tolist():
        gx, gy = soft.x[g], soft.y[g]
        macro = f"Grp_{g}"
        _node(out, macro, (), [("type", "macro"), ("width", soft.width[g]),
                               ("height", soft.height[g]), ("x", gx), ("y", gy)])
        pin = [("type", "macro_pin"), ("macro_name", macro), ("x", gx), ("y", gy),
               ("x_offset", 0.0), ("y_offset", 0.0)]
        for j, (targets, w) in enumerate(nets.multi.get(g, ())):
            _node(out, f"{macro}/Poutput_multi_{j}", targets,
                  pin + ([("weight", w)] if w != 1.0 else []))
        for j, (target, w) in enumerate(nets.single.get(g, ())):
            _node(out, f"{macro}/Poutput_single_{j}", (target,),
                  pin + ([("weight", w)] if w != 1.0 else []))
        _node(out, group_pin(g), (), pin)
    return "".join(out)

