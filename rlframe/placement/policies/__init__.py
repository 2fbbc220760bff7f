"""Placement policies for ``rlframe/MacroPlacement-v0``: actor-critics returning ``(logits over grid cells,
value)``, used through :class:`rlframe.agents.pg.CategoricalPgAgent` (which masks the logits with the
env's ``action_mask``).

* :class:`CellConvPolicy` (cell_conv.py) -- two conv layers and a 1x1 conv per cell (image observation).
* :class:`MaskPlaceCnnPolicy` (maskplace_cnn.py) -- MaskPlace's local fully-convolutional branch fused
  with a global branch (strided convs, a bottleneck, deconvolutions back to the grid) (image observation).
* :class:`EdgeGnnPolicy` (edge_gnn.py) -- Circuit Training's edge-GNN netlist encoder with a
  deconvolution policy head (graph observation).
"""
from rlframe.placement.policies.cell_conv import CellConvPolicy
from rlframe.placement.policies.edge_gnn import EdgeGnnPolicy
from rlframe.placement.policies.heads import DeconvGridHead
from rlframe.placement.policies.maskplace_cnn import MaskPlaceCnnPolicy

POLICIES = {"cell": CellConvPolicy, "cnn": MaskPlaceCnnPolicy, "gnn": EdgeGnnPolicy}

__all__ = ["CellConvPolicy", "MaskPlaceCnnPolicy", "EdgeGnnPolicy", "DeconvGridHead", "POLICIES"]
