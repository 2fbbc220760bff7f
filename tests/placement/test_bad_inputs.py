"""No silent wrong numbers: every malformed or absurd input a new user might feed gets an error naming the
file, the line or field and the fix (or a warning where it is legal but suspicious); JSON never holds NaN.
Each test builds its own bad file."""
import json
import math

import gymnasium as gym
import pytest

from rlframe.errors import ConfigError, NetlistParseError
from rlframe.placement.cli import main
from rlframe.placement.formats.netlist import read_netlist
from rlframe.placement.formats.plc import read_plc


def _attr(key, value):
    v = f'placeholder: "{value}"' if isinstance(value, str) else f"f: {value}"
    return f'  attr {{\n    key: "{key}"\n    value {{\n      {v}\n    }}\n  }}\n'


def _node(name, inputs=(), **attrs):
    body = "".join(f'  input: "{i}"\n' for i in inputs) + "".join(_attr(k, v) for k, v in attrs.items())
    return f'node {{\n  name: "{name}"\n{body}}}\n'


def netlist_text(m0_width=20, m0_height=10, port_x=0, port_y=50, soft_y=60, soft_w=8):
    return "".join([
        _node("M0", type="MACRO", width=m0_width, height=m0_height, x=30, y=30, orientation="N"),
        _node("M0/p", ["Grp_0/p"], type="MACRO_PIN", macro_name="M0", x_offset=1, y_offset=1),
        _node("M1", type="MACRO", width=20, height=10, x=70, y=70, orientation="N"),
        _node("M1/p", ["M0/p"], type="MACRO_PIN", macro_name="M1", x_offset=0, y_offset=0),
        _node("Grp_0", type="MACRO", width=soft_w, height=soft_w, x=50, y=soft_y),
        _node("Grp_0/p", type="MACRO_PIN", macro_name="Grp_0", x_offset=0, y_offset=0),
        _node("P0", ["M1/p"], type="PORT", x=port_x, y=port_y, side="LEFT"),
    ])


PLC_HEADER = ["# Columns : 10  Rows : 10", "# Width : 100  Height : 100",
              "# Routes per micron, hor : 10  ver : 10", "# Routes used by macros, hor : 5  ver : 5",
              "# Smoothing factor : 0", "# Overlap threshold : 0"]
PLC_NODES = ["0 30 30 N 0", "2 70 70 N 0", "4 50 60 - 0", "6 0 50 - 1"]


def write_design(tmp_path, net=None, header=None, nodes=None, plc_text=None):
    folder = tmp_path / "design"
    folder.mkdir(exist_ok=True)
    (folder / "netlist.pb.txt").write_text(net if net is not None else netlist_text())
    plc = folder / "initial.plc"
    if plc_text is not None:
        plc.write_bytes(plc_text) if isinstance(plc_text, bytes) else plc.write_text(plc_text)
    else:
        plc.write_text("\n".join((header if header is not None else PLC_HEADER)
                                 + (nodes if nodes is not None else PLC_NODES)) + "\n")
    return str(folder / "netlist.pb.txt"), str(plc)


def _strict_json(text):
    def no_constant(name):
        raise AssertionError(f"JSON holds {name}")
    return json.loads(text, parse_constant=no_constant)


def _fails(capsys, argv, *needles):
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""                       # no numbers printed
    err = cap.err.strip()
    assert err.count("\n") == 0 or "warning" in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


def test_the_good_design_works(tmp_path, capsys):
    net, plc = write_design(tmp_path)
    assert main(["cost", "--netlist", net, "--json"]) == 0
    out = _strict_json(capsys.readouterr().out)
    assert all(math.isfinite(v) for v in out.values())
    assert main(["info", net, "--json"]) == 0
    assert _strict_json(capsys.readouterr().out)["dead_ends"] == []


@pytest.mark.parametrize("width", ["nan", -5, 0, 1e30, "inf"])
def test_hard_macro_bad_width(tmp_path, capsys, width):
    net, plc = write_design(tmp_path, net=netlist_text(m0_width=width))
    for argv in (["cost", "--netlist", net, "--json"], ["info", net, "--json"],
                 ["greedy", "--netlist", net, "--out", str(tmp_path / "o.plc")]):
        err = _fails(capsys, argv, "netlist.pb.txt:", "hard macro 'M0'", "width", "fix the attr")
    with pytest.raises(NetlistParseError, match=r"netlist\.pb\.txt:\d+: hard macro 'M0': width"):
        gym.make("rlframe/MacroPlacement-v0", netlist=net)
    assert ":1:" not in err  # the line of the width attr, not the file's first line


def test_ports_and_soft_macros_at_nan_or_absurd_coordinates(tmp_path, capsys):
    for kw, who, field in ((dict(port_x="nan"), "port 'P0'", "x"), (dict(port_y=3e12), "port 'P0'", "y"),
                           (dict(soft_y="nan"), "soft macro 'Grp_0'", "y")):
        net, _ = write_design(tmp_path, net=netlist_text(**kw))
        _fails(capsys, ["cost", "--netlist", net, "--json"], who, f"{field} =", "finite coordinate")
    net, _ = write_design(tmp_path, nodes=["0 30 30 N 0", "2 70 70 N 0", "4 nan 60 - 0", "6 0 50 - 1"])
    _fails(capsys, ["cost", "--netlist", net], "initial.plc:9:", "finite coordinates")
    net, _ = write_design(tmp_path, nodes=["0 30 30 N 0", "2 70 70 N 0", "4 50 60 - 0", "6 1e30 50 - 1"])
    _fails(capsys, ["cost", "--netlist", net], "initial.plc:10:", "finite coordinates")


@pytest.mark.parametrize("line, bad", [
    (0, "# Columns : ten  Rows : 10"), (0, "# Columns : nan  Rows : 10"), (0, "# Columns : 0  Rows : 10"),
    (0, "# Columns : 10.5  Rows : 10"), (1, "# Width : nan  Height : 100"), (1, "# Width : wide  Height : 100"),
    (1, "# Width : -100  Height : 100"), (2, "# Routes per micron, hor : x  ver : 10"),
])
def test_plc_header_setting_that_is_not_a_valid_number(tmp_path, capsys, line, bad):
    header = list(PLC_HEADER)
    header[line] = bad
    net, plc = write_design(tmp_path, header=header)
    _fails(capsys, ["cost", "--netlist", net, "--json"], f"initial.plc:{line + 1}:", "expected '# ")
    _fails(capsys, ["info", net], f"initial.plc:{line + 1}:")
    with pytest.raises(NetlistParseError, match=f"initial.plc:{line + 1}:"):
        gym.make("rlframe/MacroPlacement-v0", netlist=net)


@pytest.mark.parametrize("drop, needle", [(0, "no grid"), (1, "no canvas")])
def test_plc_header_missing_grid_or_canvas_is_not_defaulted(tmp_path, capsys, drop, needle):
    header = [h for i, h in enumerate(PLC_HEADER) if i != drop]
    net, plc = write_design(tmp_path, header=header)
    _fails(capsys, ["cost", "--netlist", net, "--json"], "initial.plc", needle)
    with pytest.raises(ConfigError, match=f"initial.plc: the .plc header gives {needle}"):
        gym.make("rlframe/MacroPlacement-v0", netlist=net)
    override = ["--grid", "10", "10"] if drop == 0 else ["--canvas", "100", "100"]
    assert main(["cost", "--netlist", net, "--json"] + override) == 0   # given another way: fine
    _strict_json(capsys.readouterr().out)


def test_grid_too_large_is_a_config_error_before_allocating(tmp_path, capsys):
    net, plc = write_design(tmp_path)
    _fails(capsys, ["cost", "--netlist", net, "--grid", "100000", "100000"], "too large", "--grid")
    _fails(capsys, ["info", net, "--grid", "100000", "100000"], "too large")
    header = list(PLC_HEADER)
    header[0] = "# Columns : 200000  Rows : 300000"
    net, plc = write_design(tmp_path, header=header)
    _fails(capsys, ["cost", "--netlist", net], "initial.plc", "too large")
    with pytest.raises(ConfigError, match="too large"):
        gym.make("rlframe/MacroPlacement-v0", netlist=net)


def test_plc_leaving_hard_macros_out(tmp_path, capsys):
    net, plc = write_design(tmp_path, nodes=["0 30 30 N 0", "4 50 60 - 0", "6 0 50 - 1"])
    _fails(capsys, ["cost", "--netlist", net], "initial.plc", "no position for 1 of the 2 hard macros", "'M1'")
    net, plc = write_design(tmp_path, nodes=["0 30 30 N 0", "2 70 70 N 0", "6 0 50 - 1"])
    assert main(["cost", "--netlist", net, "--json"]) == 0   # a soft macro left out: legal, but warned
    cap = capsys.readouterr()
    assert "warning" in cap.err and "1 soft macro" in cap.err
    _strict_json(cap.out)


def test_random_bytes_as_plc(tmp_path, capsys):
    net, plc = write_design(tmp_path, plc_text=bytes(range(256)) * 4)
    _fails(capsys, ["cost", "--netlist", net, "--plc", plc], "initial.plc", "not a text .plc file")
    with pytest.raises(NetlistParseError, match="initial.plc"):
        read_plc(plc)


def test_macro_larger_than_canvas_is_a_dead_end(tmp_path, capsys):
    net, plc = write_design(tmp_path, net=netlist_text(m0_width=150))
    assert main(["info", net, "--json"]) == 0
    info = _strict_json(capsys.readouterr().out)
    assert any("'M0'" in d and "fits in no cell" in d for d in info["dead_ends"])
    with pytest.warns(UserWarning, match="every episode .* will dead-end: hard macro 'M0'"):
        gym.make("rlframe/MacroPlacement-v0", netlist=net)
    assert main(["info", net]) == 0
    assert "DEAD END" in capsys.readouterr().out


def test_zero_area_soft_macro_is_a_warning(tmp_path, capsys):
    net, plc = write_design(tmp_path, net=netlist_text(soft_w=0))
    with pytest.warns(UserWarning, match="zero area"):
        read_netlist(net)
    assert main(["cost", "--netlist", net, "--json"]) == 0
    cap = capsys.readouterr()
    assert "zero area" in cap.err
    _strict_json(cap.out)
