"""Circuit Training placement files (``.plc``): read, write, apply to a netlist.

A ``.plc`` file (written by Circuit Training's ``plc.save_placement``) is a ``#`` header --
``Columns : C  Rows : R``, ``Width : W  Height : H``, ``Routes per micron, hor : h  ver : v``,
``Routes used by macros, hor : h  ver : v``, ``Smoothing factor : n``, ``Overlap threshold : t``,
the costs the binary computed (``Wirelength``, ``Wirelength cost``, ``Density cost``,
``Congestion cost``) and more -- followed by one line per placed node::

    node_index x y orientation fixed        e.g.  "133 1072.135 1363.7 N 0"

``orientation`` is ``-`` for nodes without one (ports, soft macros). The reader keeps every line
verbatim, so an unmodified :class:`Placement` writes back byte-identical; changed coordinates are
written in the shortest decimal form that reads back to the same float.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.errors import NetlistParseError
from rlframe.placement.formats.netlist import (
    HARD_MACRO, MAX_MICRONS, ORIENTATION_CODE, ORIENTATIONS, PORT, SOFT_MACRO, STDCELL, Netlist)

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
# (header field, regex on the comment body, converters)
_HEADER_PATTERNS: Tuple[Tuple[str, "re.Pattern[str]", Tuple[type, ...]], ...] = tuple(
    (name, re.compile(rx, re.I), conv) for name, rx, conv in (
        ("grid", rf"^Columns\s*:\s*{_NUM}\s+Rows\s*:\s*{_NUM}", (int, int)),
        ("canvas", rf"^Width\s*:\s*{_NUM}\s+Height\s*:\s*{_NUM}", (float, float)),
        ("routes_per_micron", rf"^Routes per micron,\s*hor\s*:\s*{_NUM}\s+ver\s*:\s*{_NUM}",
         (float, float)),
        ("macro_routing_alloc",
         rf"^Routes used by macros,\s*hor\s*:\s*{_NUM}\s+ver\s*:\s*{_NUM}", (float, float)),
        ("smooth_range", rf"^Smoothing factor\s*:\s*{_NUM}", (float,)),
        ("overlap_threshold", rf"^Overlap threshold\s*:\s*{_NUM}", (float,)),
        ("area", rf"^Area[^:]*:\s*{_NUM}", (float,)),
        ("wirelength", rf"^Wirelength\s*:\s*{_NUM}", (float,)),
        ("wirelength_cost", rf"^Wirelength cost\s*:\s*{_NUM}", (float,)),
        ("congestion_cost", rf"^Congestion cost\s*:\s*{_NUM}", (float,)),
        ("density_cost", rf"^Density cost\s*:\s*{_NUM}", (float,)),
        ("block", r"^Block\s*:\s*(\S+)", (str,)),
        ("project", r"^Project\s*:\s*(\S+)", (str,)),
    ))
#: header settings a line may start with, and the form each must have (a line starting with one of them that
#: does not match is an error: silently ignoring it would score with a default grid or canvas)
_SETTING_FORMS = {
    "grid": ("columns", "'# Columns : <int>  Rows : <int>'"),
    "canvas": ("width", "'# Width : <microns>  Height : <microns>'"),
    "routes_per_micron": ("routes per micron", "'# Routes per micron, hor : <number>  ver : <number>'"),
    "macro_routing_alloc": ("routes used by macros", "'# Routes used by macros, hor : <number>  ver : <number>'"),
    "smooth_range": ("smoothing factor", "'# Smoothing factor : <number>'"),
    "overlap_threshold": ("overlap threshold", "'# Overlap threshold : <number>'"),
}
_BLOCKAGE_RE = re.compile(rf"^Blockage\s*:\s*{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}", re.I)
_NODE_RE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


@dataclasses.dataclass
class PlcHeader:
    """The settings and costs found in a ``.plc`` header (None where absent)."""

    grid: Optional[Tuple[int, int]] = None                     # (columns, rows)
    canvas: Optional[Tuple[float, float]] = None               # (width, height) microns
    routes_per_micron: Optional[Tuple[float, float]] = None    # (horizontal, vertical)
    macro_routing_alloc: Optional[Tuple[float, float]] = None  # (horizontal, vertical)
    smooth_range: Optional[float] = None
    overlap_threshold: Optional[float] = None
    area: Optional[float] = None
    wirelength: Optional[float] = None
    wirelength_cost: Optional[float] = None
    congestion_cost: Optional[float] = None
    density_cost: Optional[float] = None
    block: Optional[str] = None
    project: Optional[str] = None
    blockages: List[Tuple[float, float, float, float, float]] = dataclasses.field(
        default_factory=list)


@dataclasses.dataclass
class Placement:
    """A parsed ``.plc`` file. ``node_index``, ``x``, ``y``, ``orientation``, ``fixed`` are
    parallel arrays in file order; edit them in place and :meth:`write` the result."""

    path: str
    header: PlcHeader
    node_index: np.ndarray
    x: np.ndarray
    y: np.ndarray
    orientation: List[str]
    fixed: np.ndarray
    lines: List[str]                 # every line, without its newline
    node_line: np.ndarray            # position of each node record in ``lines``
    newline: str = "\n"
    final_newline: bool = True
    _orig: Optional[Tuple[np.ndarray, np.ndarray, List[str], np.ndarray]] = dataclasses.field(
        default=None, repr=False)

    def __post_init__(self) -> None:
        if self._orig is None:
            self._orig = (self.x.copy(), self.y.copy(), list(self.orientation), self.fixed.copy())

    # ----- writing --------------------------------------------------------------------------
    def to_text(self) -> str:
        """The file text; unchanged node records keep their original spelling."""
        lines = list(self.lines)
        ox, oy, oo, of = self._orig
        changed = np.flatnonzero((self.x != ox) | (self.y != oy) | (self.fixed != of))
        changed = set(changed.tolist()) | {
            k for k, (a, b) in enumerate(zip(self.orientation, oo)) if a != b}
        for k in sorted(changed):
            lines[self.node_line[k]] = format_node_line(
                int(self.node_index[k]), float(self.x[k]), float(self.y[k]),
                self.orientation[k], bool(self.fixed[k]))
        text = self.newline.join(lines)
        return text + self.newline if self.final_newline else text

    def write(self, path: Union[str, os.PathLike]) -> None:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(self.to_text())

    # ----- applying -------------------------------------------------------------------------
    def apply(self, netlist: Netlist) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Node positions of ``netlist`` after this placement.

        Returns ``(x, y, orientation_codes, fixed)`` over all nodes; macro pins follow their
        macro (centre + offset rotated by the macro's orientation).
        Raises ``NetlistParseError`` (naming the .plc line) for an index that is not a
        placeable node of the netlist or an unknown orientation.
        """
        from rlframe.placement.geometry import pin_positions

        x, y = netlist.x.copy(), netlist.y.copy()
        orient, fixed = netlist.orientation.copy(), netlist.fixed.copy()
        idx = self.node_index
        bad = (idx < 0) | (idx >= netlist.n_nodes)
        if not bad.any():
            bad = ~np.isin(netlist.node_type[idx], (HARD_MACRO, SOFT_MACRO, PORT, STDCELL))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise NetlistParseError(
                self.path, int(self.node_line[k]) + 1,
                f"node index {int(idx[k])} is not a macro, port or standard cell of netlist "
                f"{netlist.path} ({netlist.n_nodes} nodes): is this .plc for another netlist?")
        self._check_complete(netlist)
        x[idx] = self.x
        y[idx] = self.y
        fixed[idx] = self.fixed
        for k, o in enumerate(self.orientation):
            if o != "-":
                code = ORIENTATION_CODE.get(o)
                if code is None:
                    raise NetlistParseError(
                        self.path, int(self.node_line[k]) + 1,
                        f"orientation {o!r} is not one of {ORIENTATIONS} or '-'")
                orient[idx[k]] = code
        pins = netlist.pin_indices
        px, py = pin_positions(netlist, x, y, orient, pins)
        x[pins], y[pins] = px, py
        return x, y, orient, fixed

    def _missing_nodes(self, netlist: Netlist, kind: int) -> np.ndarray:
        nodes = np.flatnonzero(netlist.node_type == kind)
        return nodes[~np.isin(nodes, self.node_index)]

    def _check_complete(self, netlist: Netlist) -> None:
        """A .plc with node lines must list every hard macro (else its netlist position would be scored
        silently); soft macros left out are legal (they keep the netlist's position) but get a warning. A
        header-only .plc (no node line, as Circuit Training's toy_macro_stdcell) gives settings only."""
        if not len(self.node_index):
            return
        miss = self._missing_nodes(netlist, HARD_MACRO)
        if len(miss):
            i = int(miss[0])
            raise NetlistParseError(
                self.path, 0, f"gives no position for {len(miss)} of the "
                f"{int(np.sum(netlist.node_type == HARD_MACRO))} hard macros of {netlist.path} (first: "
                f"{netlist.names[i]!r}, node index {i}); add a line '{i} <x> <y> <orientation> <fixed>' for "
                "each (a .plc written by rlframe or Circuit Training lists every macro)")
        soft = self._missing_nodes(netlist, SOFT_MACRO)
        if len(soft):
            warnings.warn(f"{self.path}: no position for {len(soft)} soft macro(s) (first: "
                          f"{netlist.names[int(soft[0])]!r}); they stay at the netlist's coordinates", stacklevel=3)


def _fmt_float(v: float) -> str:
    s = repr(float(v))
    if s.endswith(".0"):
        s = s[:-2]
    return s


def format_node_line(index: int, x: float, y: float, orientation: str, fixed: bool) -> str:
    """One node record, ``"index x y orientation fixed"``."""
    return f"{index} {_fmt_float(x)} {_fmt_float(y)} {orientation or '-'} {1 if fixed else 0}"


def parse_header_line(body: str, header: PlcHeader, path: str = "<header>", line: int = 0) -> None:
    """Update ``header`` from one comment body (the text after ``#``). A line that starts with a setting's
    name (``Columns``, ``Width``, ``Routes per micron`` ...) but does not hold valid numbers raises
    :class:`NetlistParseError` naming ``path`` and ``line`` and the form expected."""
    body = body.strip()
    for name, rx, conv in _HEADER_PATTERNS:
        m = rx.match(body)
        if m:
            try:
                vals = tuple(c(g) for c, g in zip(conv, m.groups()))
            except ValueError:
                vals = None
            if vals is None or not _valid_setting(name, vals):
                _bad_setting(name, body, path, line)
            setattr(header, name, vals if len(vals) > 1 else vals[0])
            return
    low = body.lower()
    for name, (prefix, _) in _SETTING_FORMS.items():
        if low.startswith(prefix):
            _bad_setting(name, body, path, line)
    m = _BLOCKAGE_RE.match(body)
    if m:
        header.blockages.append(tuple(float(g) for g in m.groups()))


def _valid_setting(name: str, vals: tuple) -> bool:
    if name == "grid":
        return all(v >= 1 for v in vals)
    if name in _SETTING_FORMS:
        ok = all(math.isfinite(v) for v in vals)
        return ok and (all(v > 0 for v in vals) if name in ("canvas", "routes_per_micron") else
                       all(v >= 0 for v in vals))
    return True


def _bad_setting(name: str, body: str, path: str, line: int) -> None:
    prefix, form = _SETTING_FORMS[name]
    what = {"grid": "whole numbers >= 1", "canvas": "finite sizes > 0 (microns)",
            "routes_per_micron": "finite numbers > 0"}.get(name, "finite numbers >= 0")
    raise NetlistParseError(path, line, f"header line {'# ' + body!r}: expected {form} with {what}; fix the "
                            "line or delete it (then give the setting another way, e.g. --grid / --canvas)")


def read_plc(path: Union[str, os.PathLike]) -> Placement:
    """Parse a ``.plc`` file. Malformed node or header-setting lines, non-finite or absurd coordinates
    and files that are not text raise ``NetlistParseError(path, line, ...)``."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f".plc file not found: {path}") from None
    except IsADirectoryError:
        raise NetlistParseError(path, 0, "is a folder, not a .plc file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NetlistParseError(
            path, raw.count(b"\n", 0, e.start) + 1,
            f"not a text .plc file (byte {e.start} is not UTF-8): is this the right file? A .plc holds "
            "'#' header lines and 'node_index x y orientation fixed' lines") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    final_newline = text.endswith(newline)
    lines = text.split(newline)
    if final_newline:
        lines.pop()
    header = PlcHeader()
    idx: List[int] = []
    xs: List[float] = []
    ys: List[float] = []
    orients: List[str] = []
    fixed: List[bool] = []
    where: List[int] = []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        if s[0] == "#":
            if not idx:
                parse_header_line(s[1:], header, path, i + 1)
            continue
        m = _NODE_RE.match(line)
        if not m:
            raise NetlistParseError(
                path, i + 1, f"expected 'node_index x y orientation fixed' or a '#' comment, "
                f"got {s!r}")
        try:
            xv, yv = float(m.group(2)), float(m.group(3))
        except ValueError:
            raise NetlistParseError(path, i + 1, f"x/y are not numbers in {s!r}") from None
        if not (abs(xv) <= MAX_MICRONS and abs(yv) <= MAX_MICRONS):
            raise NetlistParseError(path, i + 1, f"x/y in {s!r} must be finite coordinates in microns with "
                                    f"|value| <= {MAX_MICRONS:g}; fix the line")
        if m.group(5) not in ("0", "1"):
            raise NetlistParseError(path, i + 1, f"fixed flag must be 0 or 1 in {s!r}")
        idx.append(int(m.group(1)))
        xs.append(xv)
        ys.append(yv)
        orients.append(m.group(4))
        fixed.append(m.group(5) == "1")
        where.append(i)
    return Placement(
        path=path, header=header, node_index=np.asarray(idx, np.int64),
        x=np.asarray(xs, np.float64), y=np.asarray(ys, np.float64), orientation=orients,
        fixed=np.asarray(fixed, bool), lines=lines, node_line=np.asarray(where, np.int64),
        newline=newline, final_newline=final_newline)


def make_placement(
    netlist: Netlist,
    x: np.ndarray,
    y: np.ndarray,
    orientation: Optional[np.ndarray] = None,
    fixed: Optional[np.ndarray] = None,
    header: Optional[Dict[str, Any]] = None,
    path: str = "<new>",
) -> Placement:
    """A new :class:`Placement` of every macro, port and standard cell of ``netlist``.

    ``header`` entries (e.g. ``{"Columns": "24  Rows : 21", ...}``) are written as
    ``# key : value`` lines, in order, above the node records.
    """
    orientation = netlist.orientation if orientation is None else orientation
    fixed = netlist.fixed if fixed is None else fixed
    placeable = np.flatnonzero(np.isin(netlist.node_type, (HARD_MACRO, SOFT_MACRO, PORT, STDCELL)))
    lines = ["# Placement file for Circuit Training (written by rlframe)"]
    hdr = PlcHeader()
    for k, v in (header or {}).items():
        body = f" {k} : {v}"
        lines.append("#" + body)
        parse_header_line(body, hdr)
    lines.append("# node_index x y orientation fixed")
    orients = []
    for i in placeable:
        t = netlist.node_type[i]
        orients.append(ORIENTATIONS[int(orientation[i])] if t == HARD_MACRO else "-")
    start = len(lines)
    pl = Placement(
        path=path, header=hdr, node_index=placeable.astype(np.int64),
        x=np.asarray(x, np.float64)[placeable].copy(), y=np.asarray(y, np.float64)[placeable].copy(),
        orientation=orients, fixed=np.asarray(fixed, bool)[placeable].copy(),
        lines=lines + [""] * len(placeable), node_line=np.arange(start, start + len(placeable)))
    # force every node line to be formatted
    pl._orig = (np.full(len(placeable), np.nan), pl._orig[1], pl._orig[2], pl._orig[3])
    return pl


def write_plc(path: Union[str, os.PathLike], placement: Placement) -> None:
    """Write ``placement`` to ``path`` (see :meth:`Placement.write`)."""
    placement.write(path)
