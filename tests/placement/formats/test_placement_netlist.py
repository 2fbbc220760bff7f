"""Netlist reader, design registry and .plc round trip (shipped data only)."""
import dataclasses
import gzip
import hashlib
import os

import numpy as np
import pytest

from rlframe.errors import NetlistParseError
from rlframe.placement.formats import netlist as N
from rlframe.placement.designs import design_file, list_designs, resolve_design
from rlframe.placement.formats.netlist import read_netlist
from rlframe.placement.formats.plc import make_placement, read_plc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FLAT = os.path.join(REPO, "..", "shared", "data", "placement", "tilos")


@pytest.fixture(scope="module")
def ariane():
    return read_netlist(resolve_design("ariane133")[0])


def test_designs_resolve_and_parse():
    names = list_designs()
    for n in ("ariane133", "macro_tiles_10x10", "sample_clustered", "toy_macro_stdcell",
              "simple_with_coords", "plc_client_tests/0P2M0m", "grouping/simple"):
        assert n in names
    for n in names:
        net, plc = resolve_design(n)
        assert os.path.isfile(net) and (plc is None or os.path.isfile(plc))
        read_netlist(net)
    with pytest.raises(FileNotFoundError, match="ariane133"):
        resolve_design("no_such_design")


def test_ariane_counts_match_plc_header(ariane):
    s = ariane.summary()
    assert (s["hard_macros"], s["soft_macros"], s["ports"]) == (133, 782, 495)
    assert (s["hard_macro_pins"], s["soft_macro_pins"], s["stdcells"]) == (7847, 10630, 0)
    assert ariane.metadata == {"soft_macro_area_bloating_ratio": 2.0}
    assert s["total_area"] == pytest.approx(1447227.522542122, rel=1e-8)
    # nets: driver first, every driver is a port or macro pin, weights from the driver
    drv = ariane.net_driver
    assert set(np.unique(ariane.node_type[drv])) <= {N.PORT, N.HARD_MACRO_PIN, N.SOFT_MACRO_PIN}
    assert np.all(ariane.net_degree >= 2)
    np.testing.assert_array_equal(ariane.net_weight, ariane.weight[drv])
    # pins point to macros of the right kind
    pins = ariane.pin_indices
    par = ariane.pin_parent[pins]
    soft = ariane.node_type[pins] == N.SOFT_MACRO_PIN
    assert np.all(ariane.node_type[par[soft]] == N.SOFT_MACRO)
    assert np.all(ariane.node_type[par[~soft]] == N.HARD_MACRO)
    assert all(ariane.names[i].startswith("Grp") for i in ariane.soft_macro_indices)


def test_comments_types_case_insensitive_and_defaults():
    toy = read_netlist(resolve_design("toy_macro_stdcell")[0])
    assert toy.canvas_bbox == (0.0, 0.0, 200.0, 100.0)
    assert toy.count(N.STDCELL) == 12 and toy.count(N.HARD_MACRO) == 2
    blk = read_netlist(resolve_design("simple_grouped_with_coords_with_blockage")[0])
    assert blk.blockages == [(0, 0, 10, 10, 1.0), (490, 490, 500, 500, 1.0)]
    tiles = read_netlist(resolve_design("macro_tiles_10x10")[0])  # type written "macro"
    assert tiles.count(N.HARD_MACRO) == 100 and tiles.count(N.HARD_MACRO_PIN) == 1200
    assert np.all(tiles.orientation[tiles.hard_macro_indices] == N.ORIENTATION_CODE["N"])


def _write(tmp_path, text, name="bad.pb.txt"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD = '''# FP bbox: {0 0} {100 100}
node {
  name: "M0"
  attr {
    key: "type"
    value {
      placeholder: "MACRO"
    }
  }
  attr {
    key: "width"
    value {
      f: 10
    }
  }
}
node {
  name: "P0"
  input: "M0/p"
  attr {
    key: "type"
    value {
      placeholder: "PORT"
    }
  }
}
node {
  name: "M0/p"
  attr {
    key: "type"
    value {
      placeholder: "MACRO_PIN"
    }
  }
  attr {
    key: "macro_name"
    value {
      placeholder: "M0"
    }
  }
}
'''


@pytest.mark.parametrize("old,new,line,msg", [
    ('      f: 10\n', '      f: ten\n', 13, "not a number"),
    ('  name: "P0"\n', '  name "P0"\n', 18, "cannot parse line"),
    ('placeholder: "PORT"', 'placeholder: "WIRE"', 23, "unknown type 'WIRE'"),
    ('  input: "M0/p"\n', '  input: "M9/p"\n', 19, "not a node"),
    ('      placeholder: "M0"\n', '      placeholder: "Q"\n', 38, "macro_name 'Q'"),
    ('# FP bbox: {0 0} {100 100}', '# FP bbox: {0 0} {100}', 1, "FP bbox"),
])
def test_malformed_netlist_names_file_and_line(tmp_path, old, new, line, msg):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(NetlistParseError, match=msg) as ei:
        read_netlist(path)
    assert ei.value.path == path and ei.value.line == line
    assert str(ei.value).startswith(f"{path}:{line}:")


def test_unbalanced_and_truncated(tmp_path):
    good = read_netlist(_write(tmp_path, GOOD, "good.pb.txt"))
    assert good.n_nodes == 3 and good.n_nets == 1 and list(good.net(0)) == [1, 2]
    with pytest.raises(NetlistParseError, match="end of file"):
        read_netlist(_write(tmp_path, GOOD.rstrip().rstrip("}")))
    with pytest.raises(NetlistParseError, match="unbalanced"):
        read_netlist(_write(tmp_path, GOOD + "}\n"))
    gz = tmp_path / "good.pb.txt.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    assert read_netlist(str(gz)).names == good.names


@pytest.mark.parametrize("name,plc", [
    ("ariane133", "legalized.plc"), ("ariane133", "initial.plc"),
    ("macro_tiles_10x10", "initial.plc"), ("sample_clustered", "initial.plc"),
    ("toy_macro_stdcell", "initial.plc"), ("simple_grouped_with_coords_with_blockage", "initial.plc"),
])
def test_plc_round_trip_byte_exact(tmp_path, name, plc):
    src = design_file(name, plc)
    pl = read_plc(src)
    out = tmp_path / "out.plc"
    pl.write(out)
    assert out.read_bytes() == open(src, "rb").read()


def test_plc_header_and_edit(tmp_path, ariane):
    pl = read_plc(design_file("ariane133", "legalized.plc"))
    h = pl.header
    assert h.grid == (24, 21) and h.canvas == (1433.406, 1433.406)
    assert h.routes_per_micron == (57.031, 56.818) and h.macro_routing_alloc == (39.583, 30.303)
    assert h.smooth_range == 0 and h.wirelength_cost == 0.0736 and h.congestion_cost == 0.7259
    k = int(np.flatnonzero(pl.node_index == ariane.hard_macro_indices[0])[0])
    pl.x[k] = 123.25
    pl.orientation[k] = "FS"
    pl.write(tmp_path / "e.plc")
    back = read_plc(tmp_path / "e.plc")
    assert back.x[k] == 123.25 and back.orientation[k] == "FS"
    assert sum(a != b for a, b in zip(back.lines, read_plc(pl.path).lines)) == 1
    x, y, o, fixed = back.apply(ariane)
    m = ariane.hard_macro_indices[0]
    assert x[m] == 123.25 and N.ORIENTATIONS[o[m]] == "FS"
    pins = np.flatnonzero(ariane.pin_parent == m)
    np.testing.assert_allclose(x[pins], 123.25 + ariane.pin_x_offset[pins])   # FS keeps dx
    np.testing.assert_allclose(y[pins], y[m] - ariane.pin_y_offset[pins])     # and negates dy


def test_make_placement_round_trip(tmp_path):
    nl = read_netlist(resolve_design("sample_clustered")[0])
    pl = make_placement(nl, nl.x, nl.y, header={"Columns": "2  Rows : 2"})
    pl.write(tmp_path / "n.plc")
    back = read_plc(tmp_path / "n.plc")
    assert back.header.grid == (2, 2)
    np.testing.assert_array_equal(back.x, nl.x[back.node_index])


def test_plc_malformed_and_mismatch(tmp_path):
    p = tmp_path / "bad.plc"
    p.write_text("# Columns : 2  Rows : 2\n0 1 2 N 0\n1 x 2 N 0\n")
    with pytest.raises(NetlistParseError) as ei:
        read_plc(p)
    assert ei.value.line == 3
    p.write_text("0 1 2 N 0\n99 1 2 N 0\n")
    nl = read_netlist(resolve_design("sample_clustered")[0])
    with pytest.raises(NetlistParseError, match="another netlist") as ei:
        read_plc(p).apply(nl)
    assert ei.value.line == 2


def _digest(nl) -> str:
    """Hash of everything a parse produces (names, arrays with dtypes, dicts, comments)."""
    h = hashlib.sha256("\n".join(nl.names).encode())
    for f in dataclasses.fields(nl):
        if f.name in ("path", "names", "_name_to_index"):
            continue
        v = getattr(nl, f.name)
        if isinstance(v, np.ndarray):
            h.update(f"{f.name}:{v.dtype}:{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(f"{f.name}:{v!r}".encode())
    return h.hexdigest()[:16]


def _same(a, b):
    assert a.names == b.names
    for f in dataclasses.fields(a):
        if f.name in ("path", "_name_to_index"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def test_fast_path_equals_careful_path_on_every_shipped_design():
    for name in list_designs():
        path = resolve_design(name)[0]
        text = N._read_text(path)
        fast = N._fast_build(path, text)     # raises _Fallback if the fast path gave up
        _same(fast, N._careful_parse(path, text))
    # the digest of the line-by-line parser of git f89624f (before the fast path)
    assert _digest(read_netlist(resolve_design("ariane133")[0])) == "1f33d269e4ae403a"


@pytest.mark.parametrize("change", [
    ("    key: \"width\"\n", "\n    key: \"width\"\n"),            # blank line inside an attr
    ("    value {\n      f: 10", "    value {\n  # ten\n      f: 10"),  # comment inside an attr
    ("  name: \"P0\"\n  input: \"M0/p\"\n", "  input: \"M0/p\"\n  name: \"P0\"\n"),  # name later
    ("      f: 10\n", "      f: 10\n      f: 12\n"),                 # two values: the last wins
    ("placeholder: \"MACRO\"", "s: \"MACRO\""),                     # 's:' string field
    ("\n", "\r\n"),                                                 # CRLF line endings
    ("  ", "\t"),                                                   # tab indentation
    ("  name: \"M0\"\n", "  name: \"M0\"\n  attr {\n    key: \"flag\"\n    value {\n"
     "      b: true\n    }\n  }\n"),                                # boolean attr
    ("node {\n  name: \"M0\"", "# a comment\nnode {\n  name: \"M0\""),  # comment between nodes
])
def test_layout_variants_parse_like_the_careful_path(tmp_path, change):
    old, new = change
    text = GOOD.replace(old, new) if old in ("\n", "  ") else GOOD.replace(old, new, 1)
    assert text != GOOD
    path = _write(tmp_path, text, "variant.pb.txt")
    nl = read_netlist(path)
    _same(nl, N._careful_parse(path, N._read_text(path)))
    assert nl.names == ["M0", "P0", "M0/p"]
    # no trailing newline either
    path2 = _write(tmp_path, text.rstrip("\r\n"), "variant2.pb.txt")
    _same(read_netlist(path2), nl)


#: digests of the line-by-line parser of git f89624f (before the fast path): same output now
FLAT_DIGESTS = {
    "ariane133_ng45_flat/ariane.pb.txt.gz": "8fb49c07cc8780ca",
    "ariane136_ng45_flat/ariane.pb.txt.gz": "368d86acbc84bbc3",
    "mempool_tile_ng45_flat/mempool_tile_wrap.pb.txt.gz": "274728525640b641",
    "nvdla_ng45_flat/NV_NVDLA_partition_c.pb.txt.gz": "95807d0b536bb7eb",
}


@pytest.mark.parametrize("rel", sorted(FLAT_DIGESTS))
def test_flat_netlists_parse(rel):
    path = os.path.join(FLAT, rel)
    if not os.path.isfile(path):
        pytest.skip(f"{path} not available")
    nl = read_netlist(path)
    assert nl.count(N.STDCELL) > 80000 and nl.count(N.HARD_MACRO) > 0
    assert nl.canvas_bbox is not None and nl.n_nets > 50000
    assert _digest(nl) == FLAT_DIGESTS[rel]
