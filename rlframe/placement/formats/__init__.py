"""File formats of chip placement: Circuit Training's protobuf-text netlists and .plc placement files."""
from rlframe.placement.formats.netlist import Netlist, read_netlist
from rlframe.placement.formats.plc import Placement, make_placement, read_plc, write_plc

__all__ = ["Netlist", "read_netlist", "Placement", "make_placement", "read_plc", "write_plc"]
