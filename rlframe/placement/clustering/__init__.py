"""Clustering of flat netlists: standard cells grouped into soft macros (Circuit Training's
grouping flow with an open partitioner). ``rlframe placement cluster`` is its command line.

Modules: ``cluster.py`` (the flow, :func:`cluster_netlist`), ``hypergraph.py`` (nets as a
hypergraph, connected components), ``partition.py`` (balanced k-way partitioning: Mt-KaHyPar or
numpy), ``grouping.py`` (fixed groups, break-up, connectivity, merging), ``floorplan.py``
(canvas and grid choice), ``writer.py`` (soft macros, rebuilt nets, the netlist text),
``cli.py`` (the sub-command).
"""
from rlframe.placement.clustering.cluster import ClusteringResult, cluster_netlist
from rlframe.placement.clustering.floorplan import choose_canvas, choose_grid
from rlframe.placement.clustering.partition import mtkahypar_available

__all__ = ["ClusteringResult", "cluster_netlist", "choose_canvas", "choose_grid",
           "mtkahypar_available"]
