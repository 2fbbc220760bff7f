"""Chip macro placement (Circuit Training formulation; Mirhoseini et al., Nature 2021): the whole domain.

Package map (docs/placement.md, "Package map")::

    formats/         netlist.py (protobuf-text netlists), plc.py (.plc placement files)
    geometry.py      the grid, oriented sizes, pin positions
    cost.py          the proxy cost: a registry of terms (wirelength, density, congestion), CT's evaluator
    protocol.py      the evaluation protocol: evaluate(netlist, plc, fd="centre"|"refine"|"none")
    info.py          design_info: what `rlframe placement info` reports (counts, canvas, grid, dead ends)
    force_directed.py  force-directed placement of the soft macros
    state.py         PlacementProblem / PlacementState: legal hard-macro placement shared by env and baselines
    env/             the gymnasium env (env.py), its observations, registration, policy rollouts
    baselines.py     random, greedy and simulated-annealing placers
    policies/        placement policies (CellConvPolicy, MaskPlaceCnnPolicy, EdgeGnnPolicy)
    synthetic.py     synthetic netlists for pre-training (rlframe placement synth)
    clustering/      flat netlists -> soft macros (``rlframe placement cluster``)
    designs.py       shipped designs (data/) and name resolution
    cli.py           the ``rlframe placement ...`` sub-commands

Nothing outside this package imports it (the generic layers know nothing about placement).

Main entry points::

    from rlframe.placement import read_netlist, read_plc, PlacementCost, resolve_design
    nl = read_netlist(resolve_design("ariane133")[0])
    cost = PlacementCost.from_plc(nl, design_file("ariane133", "legalized.plc")).evaluate()

    import gymnasium, rlframe.placement      # registers "rlframe/MacroPlacement-v0"
    env = gymnasium.make("rlframe/MacroPlacement-v0", design="ariane133")
"""
from rlframe.placement.cost import PlacementCost
from rlframe.placement.designs import design_file, list_designs, resolve_design
from rlframe.placement.geometry import Grid
from rlframe.placement.formats.netlist import Netlist, read_netlist
from rlframe.placement.formats.plc import Placement, make_placement, read_plc, write_plc
from rlframe.placement.force_directed import FDSchedule, ForceDirectedPlacer, force_directed_placement
from rlframe.placement.state import Finisher, PlacementProblem, PlacementState
from rlframe.placement.env.observations import GraphObservation, ImageObservation
from rlframe.placement.env.env import InfeasibleActionError, MacroPlacementEnv
from rlframe.placement.env.registration import ENV_ID, register_envs
from rlframe.placement.protocol import FD_REGIMES, Evaluation, evaluate

__all__ = ["PlacementCost", "Grid", "Netlist", "Placement", "design_file", "list_designs",
           "make_placement", "read_netlist", "read_plc", "resolve_design", "write_plc",
           "FDSchedule", "ForceDirectedPlacer", "force_directed_placement", "Finisher",
           "PlacementProblem", "PlacementState", "GraphObservation", "ImageObservation",
           "InfeasibleActionError", "MacroPlacementEnv", "ENV_ID", "register_envs", "evaluate", "Evaluation",
           "FD_REGIMES"]
