"""Chip macro placement (Circuit Training formulation): netlists, .plc files, proxy cost, data.

Main entry points::

    from rlframe.envs.placement import read_netlist, read_plc, PlacementCost, resolve_design
    nl = read_netlist(resolve_design("ariane133")[0])
    cost = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc")).evaluate()

    import gymnasium, rlframe.envs.placement      # registers "rlframe/MacroPlacement-v0"
    env = gymnasium.make("rlframe/MacroPlacement-v0", design="ariane133")
"""
from rlframe.envs.placement.cost import PlacementCost
from rlframe.envs.placement.designs import design_file, list_designs, resolve_design
from rlframe.envs.placement.geometry import Grid
from rlframe.envs.placement.netlist import Netlist, read_netlist
from rlframe.envs.placement.plc import Placement, make_placement, read_plc, write_plc
from rlframe.envs.placement.force_directed import FDSchedule, ForceDirectedPlacer, force_directed_placement
from rlframe.envs.placement.state import Finisher, PlacementProblem, PlacementState
from rlframe.envs.placement.observations import GraphObservation, ImageObservation
from rlframe.envs.placement.env import InfeasibleActionError, MacroPlacementEnv
from rlframe.envs.placement.registration import ENV_ID, register_envs

__all__ = ["PlacementCost", "Grid", "Netlist", "Placement", "design_file", "list_designs",
           "make_placement", "read_netlist", "read_plc", "resolve_design", "write_plc",
           "FDSchedule", "ForceDirectedPlacer", "force_directed_placement", "Finisher",
           "PlacementProblem", "PlacementState", "GraphObservation", "ImageObservation",
           "InfeasibleActionError", "MacroPlacementEnv", "ENV_ID", "register_envs"]
