"""Shipped placement designs (``rlframe/placement/data``) and name resolution.

Names: ``ariane133`` (TILOS Ariane133-NG45, clustered, 133 hard macros), the Circuit Training
test designs by folder name (``macro_tiles_10x10``, ``sample_clustered``, ``toy_macro_stdcell``,
``simple_with_coords``, ``simple_grouped_with_coords``,
``simple_grouped_with_coords_with_blockage``), the TILOS plc-client edge cases as
``plc_client_tests/<name>`` (e.g. ``plc_client_tests/0P2M0m``) and the Circuit Training grouping
test netlists as ``grouping/<name>`` (e.g. ``grouping/simple``). Provenance and licences:
``data/PROVENANCE.md`` and the ``LICENSE`` file beside each folder.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from rlframe.placement.formats.netlist import Netlist
    from rlframe.placement.formats.plc import Placement

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

_NETLIST_FILES = ("netlist.pb.txt", "netlist.pb.txt.gz")
# Preferred initial placement per design (first existing wins).
_PLC_FILES = ("initial.plc", "legalized.plc")


def _registry() -> Dict[str, Tuple[str, Optional[str]]]:
    reg: Dict[str, Tuple[str, Optional[str]]] = {}

    def add_folder(name: str, folder: str) -> None:
        net = next((os.path.join(folder, f) for f in _NETLIST_FILES
                    if os.path.isfile(os.path.join(folder, f))), None)
        if net is None:
            return
        plc = next((os.path.join(folder, f) for f in _PLC_FILES
                    if os.path.isfile(os.path.join(folder, f))), None)
        reg[name] = (net, plc)

    ct = os.path.join(DATA_DIR, "circuit_training")
    if os.path.isdir(ct):
        for d in sorted(os.listdir(ct)):
            if d != "grouping_testdata":
                add_folder(d, os.path.join(ct, d))
        grp = os.path.join(ct, "grouping_testdata")
        if os.path.isdir(grp):
            for f in sorted(os.listdir(grp)):
                if f.endswith(".pb.txt"):
                    reg["grouping/" + f[: -len(".pb.txt")]] = (os.path.join(grp, f), None)
    add_folder("ariane133", os.path.join(DATA_DIR, "tilos", "ariane133_ng45_clustered"))
    pct = os.path.join(DATA_DIR, "tilos_plc_client_tests")
    if os.path.isdir(pct):
        for d in sorted(os.listdir(pct)):
            add_folder("plc_client_tests/" + d, os.path.join(pct, d))
    return reg


def list_designs() -> List[str]:
    """Names accepted by :func:`resolve_design`, sorted."""
    return sorted(_registry())


def design_file(name: str, filename: str) -> str:
    """Path of another file of a shipped design, e.g. ``design_file("ariane133", "legalized.plc")``."""
    net, _ = resolve_design(name)
    path = os.path.join(os.path.dirname(net), filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"design {name!r} has no file {filename!r} (files: "
            f"{sorted(os.listdir(os.path.dirname(net)))})")
    return path


def resolve_plc(design: Union[str, os.PathLike], plc: Optional[Union[str, os.PathLike]]) -> Optional[str]:
    """A .plc given as a path, or as a file name inside the design's folder (``legalized.plc`` for
    ``ariane133``); ``None`` stays ``None``. Raises ``FileNotFoundError`` naming the files there."""
    if plc is None or os.path.isfile(plc):
        return None if plc is None else str(plc)
    if os.sep not in str(plc):
        try:
            return design_file(str(design), str(plc))
        except FileNotFoundError as e:
            raise FileNotFoundError(f".plc file not found: {plc} (not a path, and {e})") from None
    raise FileNotFoundError(f".plc file not found: {plc}")


def companion_plc(netlist_path: Union[str, os.PathLike]) -> str:
    """The .plc that belongs to a netlist file by name: ``X.pb.txt[.gz]`` (or ``X.txt``,
    ``X``) -> ``X.plc`` beside it (``rlframe placement cluster`` writes it there)."""
    s = os.fspath(netlist_path)
    for ext in (".pb.txt.gz", ".pb.txt", ".txt.gz", ".txt", ".gz"):
        if s.endswith(ext):
            return s[: -len(ext)] + ".plc"
    return s + ".plc"


def resolve_design(name_or_path: Union[str, os.PathLike]) -> Tuple[str, Optional[str]]:
    """Return ``(netlist_path, initial_plc_path_or_None)`` for a design name or a path.

    A path may be a netlist file (its :func:`companion_plc` ``X.plc``, else its folder's
    ``initial.plc`` is returned when present) or a
    folder holding ``netlist.pb.txt[.gz]``. Unknown names raise ``FileNotFoundError`` listing
    the shipped designs.
    """
    s = os.fspath(name_or_path)
    reg = _registry()
    if s in reg:
        return reg[s]
    if os.path.isdir(s):
        for f in _NETLIST_FILES:
            if os.path.isfile(os.path.join(s, f)):
                s = os.path.join(s, f)
                break
    if os.path.isfile(s):
        folder = os.path.dirname(os.path.abspath(s))
        own = companion_plc(s)
        plc = own if os.path.isfile(own) else next(
            (os.path.join(folder, f) for f in _PLC_FILES
             if os.path.isfile(os.path.join(folder, f))), None)
        return s, plc
    raise FileNotFoundError(
        f"unknown design {s!r}: not a shipped design name and not an existing netlist file or "
        f"folder. Shipped designs: {', '.join(sorted(reg))}")


def load_design(netlist: Union["Netlist", str, os.PathLike],
                plc: Union["Placement", str, os.PathLike, None] = None
                ) -> Tuple["Netlist", Optional["Placement"]]:
    """The parsed netlist (a :class:`Netlist`, path or shipped name) and placement: ``plc`` as a path, a
    file name in the design's folder or a :class:`Placement`; None: the design's ``initial.plc``
    (``legalized.plc``) when there is one, else None (the netlist's own coordinates)."""
    from rlframe.placement.formats.netlist import Netlist, read_netlist
    from rlframe.placement.formats.plc import Placement, read_plc

    if isinstance(netlist, Netlist):
        nl, default, source = netlist, None, netlist.path
    else:
        path, default = resolve_design(netlist)
        nl, source = read_netlist(path), netlist
    if isinstance(plc, Placement):
        return nl, plc
    plc = resolve_plc(source, plc) if plc is not None else default
    return nl, (read_plc(plc) if plc is not None else None)
