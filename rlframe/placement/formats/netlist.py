"""Circuit Training netlists (protobuf text, plain or gzipped) as numpy arrays.

The format is the one of Google's Circuit Training (Mirhoseini et al., Nature 2021;
github.com/google-research/circuit_training, ``docs/NETLIST_FORMAT.md``): a sequence of
``node { name: ... input: ...* attr { key: K value { placeholder: S | f: F } }* }`` blocks,
optionally preceded by ``#`` comment lines such as ``# FP bbox: {x0 y0} {x1 y1}`` (the canvas)
and ``# Blockage : x0 y0 x1 y1 rate``. A node named ``__metadata__`` carries design-level
attributes and is not a netlist node (it takes no node index).

Node kinds (``type`` attribute, compared case-insensitively):

* ``MACRO`` -- a hard macro, or a *soft* macro (a standard-cell cluster) when its name starts
  with ``Grp`` (the prefix Circuit Training's grouper gives clusters);
* ``MACRO_PIN`` -- a pin of the macro named by its ``macro_name`` attribute, at
  ``x_offset, y_offset`` from the macro centre in orientation N;
* ``PORT`` -- an I/O port with a fixed ``x, y``;
* ``STDCELL`` -- a standard cell (flat netlists).

Nets: every node with ``input`` entries (a port, a macro pin or a standard cell) drives one net
made of itself (first) plus the nodes it names; the net's weight is the driver's ``weight``
attribute (default 1). This is exactly how Circuit Training's cost binary builds its nets.

The reader has two paths with the same output. The *fast path* scans the whole text with one
compiled regular expression (``_FAST_RE``) whose tokens are whole constructs -- a complete
six-line ``attr { key value { ... } }`` block, ``node {`` with its ``name``, an ``input``, a
closing ``}`` -- so a Python loop walks ~4x fewer tokens than there are lines, and no line numbers
are computed. Anything it does not recognise (a malformed line, but also legal variations such as
a blank line inside an attr block, two values in one block or a ``name`` that is not the node's
first line) sends the whole file to the *careful path*: one regular expression classifies every
line (``_LINE_RE``) and a per-line state machine checks the nesting; it accepts every layout the
fast path accepts and raises :class:`~rlframe.errors.NetlistParseError` naming the file and line of
the first malformed construct. Errors found while assembling the arrays (unknown type, pin of an
unknown macro, ...) are likewise re-raised from the careful path, so messages and line numbers do
not depend on which path ran. The 11 MB Ariane133 clustered netlist parses in ~0.3 s.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from rlframe.errors import NetlistParseError

# --- node type codes -------------------------------------------------------------------------
HARD_MACRO = 0
SOFT_MACRO = 1
PORT = 2
HARD_MACRO_PIN = 3
SOFT_MACRO_PIN = 4
STDCELL = 5
TYPE_NAMES: Tuple[str, ...] = (
    "HARD_MACRO", "SOFT_MACRO", "PORT", "HARD_MACRO_PIN", "SOFT_MACRO_PIN", "STDCELL")

#: Name prefix of soft macros (standard-cell clusters) in Circuit Training netlists.
SOFT_MACRO_PREFIX = "Grp"
#: Largest size or |coordinate| accepted, in microns (1 m: any real die is far smaller; beyond it a
#: value is a typo or a unit error, and the cost's float arithmetic would lose every digit).
MAX_MICRONS = 1e6

#: The eight orientations, in the order of the orientation codes (N == 0).
ORIENTATIONS: Tuple[str, ...] = ("N", "S", "FN", "FS", "E", "W", "FE", "FW")
ORIENTATION_CODE: Dict[str, int] = {o: i for i, o in enumerate(ORIENTATIONS)}

_KNOWN_KEYS = frozenset(
    ("type", "width", "height", "x", "y", "orientation", "macro_name", "x_offset", "y_offset",
     "weight", "side"))

# One alternative per line shape; a line that matches none is malformed.
_LINE_RE = re.compile(
    r'^[ \t]*(?:'
    r'(node|attr|value)[ \t]*\{'                                    # 1: block opener
    r'|(\})'                                                          # 2: block closer
    r'|(name|input|key|placeholder|s)[ \t]*:[ \t]*"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'  # 3, 4: string
    r'|(f|i|b)[ \t]*:[ \t]*([^ \t\r\n]+)'                             # 5, 6: numeric field
    r'|(#[^\n]*)'                                                     # 7: comment
    r'|)[ \t]*\r?$',
    re.M)
# Fast path: one token per construct; every token ends its line. The last two alternatives take
# blank lines and anything else (group 9: fall back to the careful path). Strings must be
# non-empty here (``name: ""`` is legal but rare: the careful path handles it).
_STR = r'"(?!")([^"\\\n]*(?:\\.[^"\\\n]*)*)"'   # non-empty; unrolled (one repeat per run)
_NL = r'[ \t]*\r?\n[ \t]*'
_FAST_RE = re.compile(
    r'[ \t]*(?:'
    r'attr[ \t]*\{' + _NL + r'key[ \t]*:[ \t]*' + _STR + _NL + r'value[ \t]*\{' + _NL +
    r'(?:(?:placeholder|s)[ \t]*:[ \t]*' + _STR + r'|([fib])[ \t]*:[ \t]*([^ \t\r\n]+))'
    + _NL + r'\}' + _NL + r'\}'                                  # 1-4: key, string, nfield, nval
    r'|input[ \t]*:[ \t]*' + _STR +                                # 5: input
    r'|node[ \t]*\{' + _NL + r'name[ \t]*:[ \t]*' + _STR +        # 6: node and its name
    r'|(\})'                                                        # 7: end of node
    r'|(#[^\n]*)'                                                   # 8: comment
    r'|'                                                            # blank line
    r')[ \t]*\r?\n'
    r'|([^\n]+)\n?')                                                # 9: anything else
_NUM_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclasses.dataclass
class Netlist:
    """A parsed netlist; every per-node array has length ``n_nodes``.

    Attributes:
        path: the file it was read from.
        names: node names, index = node index (``__metadata__`` excluded).
        node_type: int8 type codes (``HARD_MACRO`` ... ``STDCELL``).
        width, height: node sizes in microns (0 for pins and ports).
        x, y: node centres as written in the file (pins: their absolute position if given,
            else parent centre + offset; NaN-free, 0 where absent).
        orientation: int8 codes into ``ORIENTATIONS`` (N where absent).
        fixed: True for ports, False otherwise (a .plc may change it).
        pin_parent: for macro pins the index of their macro, else -1.
        pin_x_offset, pin_y_offset: pin offsets from the macro centre in orientation N.
        weight: the ``weight`` attribute (default 1).
        net_ptr, net_nodes: nets in compressed form; net ``k`` is
            ``net_nodes[net_ptr[k]:net_ptr[k+1]]``, its driver first.
        net_weight: per-net weight (the driver's weight).
        metadata: attributes of the ``__metadata__`` node.
        canvas_bbox: ``(x0, y0, x1, y1)`` from a ``# FP bbox`` comment, or None.
        blockages: ``(x0, y0, x1, y1, rate)`` from ``# Blockage`` comments.
        side: port side (``LEFT``/``RIGHT``/``TOP``/``BOTTOM``) by node index, ports only.
        extra_attrs: attributes not interpreted above, ``{key: {node_index: value}}``.
    """

    path: str
    names: List[str]
    node_type: np.ndarray
    width: np.ndarray
    height: np.ndarray
    x: np.ndarray
    y: np.ndarray
    orientation: np.ndarray
    fixed: np.ndarray
    pin_parent: np.ndarray
    pin_x_offset: np.ndarray
    pin_y_offset: np.ndarray
    weight: np.ndarray
    net_ptr: np.ndarray
    net_nodes: np.ndarray
    net_weight: np.ndarray
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)
    canvas_bbox: Optional[Tuple[float, float, float, float]] = None
    blockages: List[Tuple[float, float, float, float, float]] = dataclasses.field(
        default_factory=list)
    side: Dict[int, str] = dataclasses.field(default_factory=dict)
    extra_attrs: Dict[str, Dict[int, Any]] = dataclasses.field(default_factory=dict)
    _name_to_index: Optional[Dict[str, int]] = dataclasses.field(default=None, repr=False)

    # ----- sizes and index sets -------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.names)

    @property
    def n_nets(self) -> int:
        return len(self.net_ptr) - 1

    def indices_of(self, *types: int) -> np.ndarray:
        """Node indices (ascending) whose type code is one of ``types``."""
        return np.flatnonzero(np.isin(self.node_type, types)).astype(np.int64)

    @property
    def hard_macro_indices(self) -> np.ndarray:
        return self.indices_of(HARD_MACRO)

    @property
    def soft_macro_indices(self) -> np.ndarray:
        return self.indices_of(SOFT_MACRO)

    @property
    def macro_indices(self) -> np.ndarray:
        """Hard and soft macros, ascending node index (Circuit Training's macro order)."""
        return self.indices_of(HARD_MACRO, SOFT_MACRO)

    @property
    def port_indices(self) -> np.ndarray:
        return self.indices_of(PORT)

    @property
    def pin_indices(self) -> np.ndarray:
        return self.indices_of(HARD_MACRO_PIN, SOFT_MACRO_PIN)

    @property
    def stdcell_indices(self) -> np.ndarray:
        return self.indices_of(STDCELL)

    @property
    def net_driver(self) -> np.ndarray:
        return self.net_nodes[self.net_ptr[:-1]]

    @property
    def net_degree(self) -> np.ndarray:
        return np.diff(self.net_ptr)

    def index(self, name: str) -> int:
        """Node index of ``name`` (KeyError naming the node if absent)."""
        if self._name_to_index is None:
            self._name_to_index = {n: i for i, n in enumerate(self.names)}
        try:
            return self._name_to_index[name]
        except KeyError:
            raise KeyError(f"no node named {name!r} in netlist {self.path}") from None

    def count(self, node_type: int) -> int:
        return int(np.count_nonzero(self.node_type == node_type))

    def total_area(self, include_stdcells: bool = True) -> float:
        """Sum of macro areas (hard and soft), plus standard cells unless excluded.

        Circuit Training's default canvas is a square of side ``sqrt(total_area / 0.6)``.
        """
        kinds = (HARD_MACRO, SOFT_MACRO, STDCELL) if include_stdcells else (HARD_MACRO, SOFT_MACRO)
        m = np.isin(self.node_type, kinds)
        return float(np.sum(self.width[m] * self.height[m]))

    def net(self, k: int) -> np.ndarray:
        """Node indices of net ``k`` (driver first)."""
        return self.net_nodes[self.net_ptr[k]:self.net_ptr[k + 1]]

    def summary(self) -> Dict[str, Any]:
        """Counts and areas, as printed by ``rlframe placement info``."""
        hard, soft = self.hard_macro_indices, self.soft_macro_indices
        return {
            "path": self.path,
            "nodes": self.n_nodes,
            "hard_macros": int(len(hard)),
            "soft_macros": int(len(soft)),
            "hard_macro_pins": self.count(HARD_MACRO_PIN),
            "soft_macro_pins": self.count(SOFT_MACRO_PIN),
            "ports": self.count(PORT),
            "stdcells": self.count(STDCELL),
            "nets": self.n_nets,
            "net_weight_sum": float(self.net_weight.sum()),
            "hard_macro_area": float(np.sum(self.width[hard] * self.height[hard])),
            "soft_macro_area": float(np.sum(self.width[soft] * self.height[soft])),
            "total_area": self.total_area(),
            "canvas_bbox": self.canvas_bbox,
            "blockages": len(self.blockages),
            "metadata": dict(self.metadata),
        }


# ---------------------------------------------------------------------------------------------
def _read_text(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"netlist file not found: {path} (pass a path to a .pb.txt[.gz] file or a shipped "
            f"design name; see rlframe.placement.designs.list_designs())") from None
    except (OSError, EOFError) as e:  # e.g. a corrupt gzip stream
        raise NetlistParseError(path, 1, f"cannot read the file ({e})") from None


def _parse_comment(path: str, line_no: int, text: str, bbox: list, blockages: list) -> None:
    body = text.lstrip("#").strip()
    low = body.lower()
    if low.startswith("fp bbox"):
        nums = [float(v) for v in _NUM_RE.findall(body.split(":", 1)[-1])]
        if len(nums) != 4:
            raise NetlistParseError(
                path, line_no, f"'# FP bbox' needs 4 numbers (x0 y0 x1 y1), found {len(nums)}")
        bbox[:] = nums
    elif low.startswith("blockage"):
        nums = [float(v) for v in _NUM_RE.findall(body.split(":", 1)[-1])]
        if len(nums) != 5:
            raise NetlistParseError(
                path, line_no,
                f"'# Blockage' needs 5 numbers (x0 y0 x1 y1 rate), found {len(nums)}")
        blockages.append(tuple(nums))


def _first_bad_line(text: str) -> Tuple[int, str]:
    for i, line in enumerate(text.split("\n")):
        if not _LINE_RE.fullmatch(line):
            return i + 1, line
    return 0, ""  # pragma: no cover - only called when a mismatch exists


def read_netlist(path: Union[str, os.PathLike]) -> Netlist:
    """Parse a Circuit Training protobuf-text netlist (``.pb.txt`` or ``.pb.txt.gz``).

    Raises:
        NetlistParseError: naming the file and line of the first malformed construct
            (unknown line, unbalanced braces, attribute without value, bad number,
            unknown node type, pin of an unknown macro, input naming an unknown node).
    """
    path = os.fspath(path)
    text = _read_text(path)
    try:
        return _fast_build(path, text)
    except (_Fallback, NetlistParseError):
        pass  # the careful path parses it or raises the error with its line
    return _careful_parse(path, text)


def _careful_parse(path: str, text: str) -> Netlist:
    """The line-by-line parser (reference semantics; error messages with file and line)."""
    tokens = _LINE_RE.findall(text)
    n_lines = text.count("\n") + 1
    if len(tokens) != n_lines:
        ln, line = _first_bad_line(text)
        raise NetlistParseError(
            path, ln, f"cannot parse line {line.strip()!r}: expected 'node {{', 'attr {{', "
            f"'value {{', '}}', 'name: \"...\"', 'input: \"...\"', 'key: \"...\"', "
            f"'placeholder: \"...\"', 'f: <number>' or a '#' comment")
    return _build(path, tokens)


class _Fallback(Exception):
    """The fast path met something it does not handle; the careful path decides."""


def _fast_build(path: str, text: str) -> Netlist:
    """Fast path of :func:`read_netlist` (see the module docstring); raises :class:`_Fallback`
    on anything unusual. Produces exactly the lists the careful path gives ``_assemble``."""
    if not text.endswith("\n"):
        text += "\n"
    names: List[str] = []
    inputs: List[Optional[List[str]]] = []
    attrs: List[Dict[str, Any]] = []
    metadata: Dict[str, Any] = {}
    bbox: list = []
    blockages: list = []
    in_node = False
    cur_name = ""
    cur_inputs: Optional[List[str]] = None
    cur_attrs: Dict[str, Any] = {}
    for key, sval, nfield, nval, inp, name, close, comment, bad in _FAST_RE.findall(text):
        if key:
            if not in_node:
                raise _Fallback
            if nfield:
                try:
                    cur_attrs[key] = float(nval)
                except ValueError:
                    if nfield == "b" and nval in ("true", "false"):
                        cur_attrs[key] = nval == "true"
                    else:
                        raise _Fallback from None
            else:
                cur_attrs[key] = sval
        elif inp:
            if not in_node:
                raise _Fallback
            if cur_inputs is None:
                cur_inputs = [inp]
            else:
                cur_inputs.append(inp)
        elif name:
            if in_node:
                raise _Fallback
            in_node, cur_name, cur_inputs, cur_attrs = True, name, None, {}
        elif close:
            if not in_node:
                raise _Fallback
            if cur_name == "__metadata__":
                metadata.update(cur_attrs)
            else:
                names.append(cur_name)
                inputs.append(cur_inputs)
                attrs.append(cur_attrs)
            in_node = False
        elif bad:
            raise _Fallback
        elif comment and not in_node:
            _parse_comment(path, 0, comment, bbox, blockages)
        # else: a blank line, or a comment inside a node (ignored, as on the careful path)
    if in_node:
        raise _Fallback
    return _assemble(path, names, [0] * len(names), inputs, attrs, metadata, bbox, blockages)


def _build(path: str, tokens: Sequence[tuple]) -> Netlist:
    names: List[str] = []
    types: List[str] = []
    node_lines: List[int] = []
    inputs: List[Optional[List[str]]] = []
    attrs: List[Dict[str, Any]] = []
    metadata: Dict[str, Any] = {}
    bbox: list = []
    blockages: list = []

    depth = 0            # 0 outside, 1 in node, 2 in attr, 3 in value
    cur_name = None
    cur_inputs: Optional[List[str]] = None
    cur_attrs: Dict[str, Any] = {}
    cur_key = None
    cur_line = 0
    for ln, (block, close, field, sval, nfield, nval, comment) in enumerate(tokens, 1):
        if field:
            if field == "input":
                if depth != 1:
                    raise NetlistParseError(path, ln, "'input' outside a node block")
                if cur_inputs is None:
                    cur_inputs = [sval]
                else:
                    cur_inputs.append(sval)
            elif field == "key":
                if depth != 2:
                    raise NetlistParseError(path, ln, "'key' outside an attr block")
                cur_key = sval
            elif field == "name":
                if depth != 1:
                    raise NetlistParseError(path, ln, "'name' outside a node block")
                cur_name = sval
            else:  # placeholder / s
                if depth != 3 or cur_key is None:
                    raise NetlistParseError(
                        path, ln, f"'{field}' outside an attr's value block (or before its key)")
                cur_attrs[cur_key] = sval
        elif close:
            if depth == 3:
                depth = 2
            elif depth == 2:
                if cur_key is None or cur_key not in cur_attrs:
                    raise NetlistParseError(
                        path, ln, f"attr block {'without key' if cur_key is None else repr(cur_key)}"
                        f" has no value (expected 'value {{ placeholder: \"...\" }}' or "
                        f"'value {{ f: <number> }}')")
                cur_key = None
                depth = 1
            elif depth == 1:
                if cur_name is None:
                    raise NetlistParseError(path, cur_line, "node block without 'name'")
                if cur_name == "__metadata__":
                    metadata.update(cur_attrs)
                else:
                    names.append(cur_name)
                    node_lines.append(cur_line)
                    inputs.append(cur_inputs)
                    attrs.append(cur_attrs)
                depth = 0
            else:
                raise NetlistParseError(path, ln, "unbalanced '}'")
        elif nfield:
            if depth != 3 or cur_key is None:
                raise NetlistParseError(path, ln, f"'{nfield}:' outside an attr's value block")
            try:
                cur_attrs[cur_key] = float(nval)
            except ValueError:
                if nfield == "b" and nval in ("true", "false"):
                    cur_attrs[cur_key] = nval == "true"
                else:
                    raise NetlistParseError(
                        path, ln, f"attr {cur_key!r}: {nval!r} is not a number") from None
        elif block:
            want = {"node": 0, "attr": 1, "value": 2}[block]
            if depth != want:
                raise NetlistParseError(
                    path, ln, f"'{block} {{' not allowed here (missing '}}' before it?)")
            depth += 1
            if block == "node":
                cur_name, cur_inputs, cur_attrs, cur_key, cur_line = None, None, {}, None, ln
        elif comment:
            if depth == 0:
                _parse_comment(path, ln, comment, bbox, blockages)
    if depth != 0:
        raise NetlistParseError(
            path, len(tokens), f"unexpected end of file inside a block opened at line {cur_line}"
            " (missing '}')")
    return _assemble(path, names, node_lines, inputs, attrs, metadata, bbox, blockages)


def _locate(path: str, start: int, needle: str) -> int:
    """Line (1-based) of the first occurrence of ``needle`` at or after line ``start``; used only
    on the error path so that errors point at the offending line, not just its node."""
    try:
        lines = _read_text(path).split("\n")
    except Exception:  # pragma: no cover - the file was readable a moment ago
        return start
    for i in range(max(start - 1, 0), len(lines)):
        if needle in lines[i]:
            return i + 1
        if i >= start and lines[i].lstrip().startswith("node"):
            break
    return start


def _num(path: str, line: int, name: str, attrs: dict, key: str, default: float) -> float:
    v = attrs.get(key, default)
    if isinstance(v, float):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        raise NetlistParseError(
            path, line, f"node {name!r}: attr {key!r} = {v!r} is not a number") from None


_KIND = {HARD_MACRO: "hard macro", SOFT_MACRO: "soft macro", PORT: "port", STDCELL: "standard cell",
         HARD_MACRO_PIN: "macro pin", SOFT_MACRO_PIN: "macro pin"}


def _check_values(path, names, node_lines, node_type, width, height, x, y, has_xy, pxo, pyo, weight,
                  no_size) -> None:
    """Sizes, coordinates, pin offsets and weights must be finite and sane (a NaN or 1e30 would give NaN or
    meaningless costs and observations); raises NetlistParseError at the first bad node's attr line,
    warns about legal but suspicious values (a soft macro of zero area)."""
    sized = np.isin(node_type, (HARD_MACRO, SOFT_MACRO, STDCELL))
    hard = node_type == HARD_MACRO
    checks = (
        ("width", width, sized & ~(np.abs(width) <= MAX_MICRONS)),
        ("height", height, sized & ~(np.abs(height) <= MAX_MICRONS)),
        ("width", width, sized & (width < 0)),
        ("height", height, sized & (height < 0)),
        ("width", width, hard & ~no_size & (width == 0)),
        ("height", height, hard & ~no_size & (height == 0)),
        ("x", x, has_xy & ~(np.abs(x) <= MAX_MICRONS)),
        ("y", y, has_xy & ~(np.abs(y) <= MAX_MICRONS)),
        ("x_offset", pxo, ~(np.abs(pxo) <= MAX_MICRONS)),
        ("y_offset", pyo, ~(np.abs(pyo) <= MAX_MICRONS)),
        ("weight", weight, ~(np.isfinite(weight) & (weight >= 0))),
    )
    for key, values, bad in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v = float(values[i])
            kind = _KIND.get(int(node_type[i]), "node")
            if key == "weight":
                why = "must be a finite number >= 0 (the net's weight in the wirelength)"
            elif key in ("width", "height"):
                why = (f"must be a finite size in microns, > 0 for a hard macro, >= 0 otherwise, and at most "
                       f"{MAX_MICRONS:g}")
            else:
                why = f"must be a finite coordinate in microns with |value| <= {MAX_MICRONS:g}"
            more = int(bad.sum()) - 1
            raise NetlistParseError(
                path, _locate(path, node_lines[i], f'"{key}"') if node_lines[i] else node_lines[i],
                f"{kind} {names[i]!r}: {key} = {v!r} {why}; fix the attr"
                + (f" ({more} more node(s) have the same problem)" if more > 0 else ""))
    if no_size.any():
        i = int(np.flatnonzero(no_size)[0])
        warnings.warn(f"{path}: {int(no_size.sum())} hard macro(s) have no width or height attr (first: "
                      f"{names[i]!r}), taken as 0: is the netlist complete?", stacklevel=4)
    zero = (node_type == SOFT_MACRO) & ((width == 0) | (height == 0))
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        warnings.warn(f"{path}: {int(zero.sum())} soft macro(s) have zero area (first: {names[i]!r}); they "
                      "add nothing to the density cost -- is a width/height attr missing?", stacklevel=4)


def _assemble(path, names, node_lines, inputs, attrs, metadata, bbox, blockages) -> Netlist:
    n = len(names)
    name_to_index: Dict[str, int] = {}
    for i, nm in enumerate(names):
        if nm in name_to_index:
            raise NetlistParseError(
                path, node_lines[i],
                f"duplicate node name {nm!r} (first defined at line {node_lines[name_to_index[nm]]})")
        name_to_index[nm] = i

    node_type = np.empty(n, np.int8)
    width = np.zeros(n)
    height = np.zeros(n)
    x = np.zeros(n)
    y = np.zeros(n)
    orient = np.zeros(n, np.int8)
    weight = np.ones(n)
    pin_parent = np.full(n, -1, np.int64)
    pxo = np.zeros(n)
    pyo = np.zeros(n)
    has_xy = np.zeros(n, bool)
    side: Dict[int, str] = {}
    extra: Dict[str, Dict[int, Any]] = {}
    pin_macro_name: Dict[int, str] = {}

    for i in range(n):
        a = attrs[i]
        nm = names[i]
        ln = node_lines[i]
        t = a.get("type")
        if not isinstance(t, str):
            raise NetlistParseError(
                path, ln, f"node {nm!r} has no 'type' attribute (MACRO, MACRO_PIN, PORT or STDCELL)")
        tl = t.lower()
        if tl == "macro":
            node_type[i] = SOFT_MACRO if nm.startswith(SOFT_MACRO_PREFIX) else HARD_MACRO
            width[i] = _num(path, ln, nm, a, "width", 0.0)
            height[i] = _num(path, ln, nm, a, "height", 0.0)
            o = a.get("orientation", "N")
            if o not in ORIENTATION_CODE:
                if o in ("-", ""):
                    o = "N"
                else:
                    raise NetlistParseError(
                        path, _locate(path, ln, f'"{o}"'), f"node {nm!r}: orientation {o!r} is not one of {ORIENTATIONS}")
            orient[i] = ORIENTATION_CODE[o]
        elif tl == "macro_pin":
            node_type[i] = HARD_MACRO_PIN  # refined below from the parent's kind
            mname = a.get("macro_name")
            if not isinstance(mname, str):
                raise NetlistParseError(path, ln, f"macro pin {nm!r} has no 'macro_name' attribute")
            pin_macro_name[i] = mname
            pxo[i] = _num(path, ln, nm, a, "x_offset", 0.0)
            pyo[i] = _num(path, ln, nm, a, "y_offset", 0.0)
        elif tl == "port":
            node_type[i] = PORT
            s = a.get("side")
            if isinstance(s, str):
                side[i] = s
        elif tl == "stdcell":
            node_type[i] = STDCELL
            width[i] = _num(path, ln, nm, a, "width", 0.0)
            height[i] = _num(path, ln, nm, a, "height", 0.0)
        else:
            raise NetlistParseError(
                path, _locate(path, ln, f'"{t}"'), f"node {nm!r}: unknown type {t!r} (expected MACRO, MACRO_PIN, PORT or "
                "STDCELL, any case)")
        if "x" in a or "y" in a:
            has_xy[i] = True
            x[i] = _num(path, ln, nm, a, "x", 0.0)
            y[i] = _num(path, ln, nm, a, "y", 0.0)
        if "weight" in a:
            weight[i] = _num(path, ln, nm, a, "weight", 1.0)
        if len(a) > 3 or not _KNOWN_KEYS.issuperset(a):
            for k, v in a.items():
                if k not in _KNOWN_KEYS:
                    extra.setdefault(k, {})[i] = v

    for i, mname in pin_macro_name.items():
        p = name_to_index.get(mname)
        if p is None or node_type[p] not in (HARD_MACRO, SOFT_MACRO):
            raise NetlistParseError(
                path, _locate(path, node_lines[i], f'"{mname}"'),
                f"macro pin {names[i]!r}: macro_name {mname!r} is not a MACRO node of this netlist")
        pin_parent[i] = p
        if node_type[p] == SOFT_MACRO:
            node_type[i] = SOFT_MACRO_PIN
    # pins without absolute coordinates sit at parent centre + offset
    pins = np.flatnonzero((pin_parent >= 0) & ~has_xy)
    if len(pins):
        x[pins] = x[pin_parent[pins]] + pxo[pins]
        y[pins] = y[pin_parent[pins]] + pyo[pins]

    # nets: driver first, then its inputs
    ptr = [0]
    flat: List[int] = []
    drivers: List[int] = []
    get = name_to_index.get
    for i in range(n):
        ins = inputs[i]
        if not ins:
            continue
        idx = [get(s) for s in ins]
        if None in idx:
            bad = ins[idx.index(None)]
            raise NetlistParseError(
                path, _locate(path, node_lines[i], f'input: "{bad}"'),
                f"node {names[i]!r} has input {bad!r}, which is not a node of "
                "this netlist")
        flat.append(i)
        flat.extend(idx)
        ptr.append(len(flat))
        drivers.append(i)
    net_ptr = np.asarray(ptr, np.int64)
    net_nodes = np.asarray(flat, np.int64)
    net_weight = weight[np.asarray(drivers, np.int64)] if drivers else np.zeros(0)
    no_size = np.array([nt == HARD_MACRO and not ("width" in a and "height" in a) for nt, a in zip(node_type, attrs)],
                       bool)
    _check_values(path, names, node_lines, node_type, width, height, x, y, has_xy, pxo, pyo, weight, no_size)

    return Netlist(
        path=path, names=list(names), node_type=node_type, width=width, height=height, x=x, y=y,
        orientation=orient, fixed=node_type == PORT, pin_parent=pin_parent, pin_x_offset=pxo,
        pin_y_offset=pyo, weight=weight, net_ptr=net_ptr, net_nodes=net_nodes,
        net_weight=net_weight.astype(np.float64), metadata=metadata,
        canvas_bbox=tuple(bbox) if bbox else None, blockages=list(blockages), side=side,
        extra_attrs=extra, _name_to_index=name_to_index)
