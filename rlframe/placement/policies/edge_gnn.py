"""Circuit Training's edge-GNN actor-critic (Mirhoseini et al., *A graph placement methodology for fast
chip design*, Nature 2021, Methods "Policy and value network architecture").

The netlist graph (``observation="graph"``: node features, star-model macro-to-macro edges with net
weights, the current macro; see rlframe/placement/env/observations.py) is encoded by edge convolutions:
each edge's embedding is an MLP of its two end nodes' embeddings and its weight, and each node's new
embedding is its old one plus the weighted mean of its edges' embeddings. The graph embedding (mean over
nodes) and the current macro's embedding feed a deconvolution head (one logit per grid cell, see
heads.py) and a value MLP. Batches of graphs are flattened into one disjoint graph (node offsets), so
the netlist may change between samples as long as the array sizes match.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Tuple

import torch
from torch import nn

from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.errors import ConfigError
from rlframe.placement.policies.heads import DeconvGridHead, grid_of_action, require_fields

GRAPH_FIELDS = ("node_features", "edge_index", "edge_weight", "current_node")


class EdgeConv(nn.Module):
    """One edge convolution: ``e_ij = MLP([h_i, h_j, w_ij])``; ``h_i += sum_j w_ij e_ij / sum_j w_ij``."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim + 1, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        e = self.mlp(torch.cat([h[src], h[dst], w.unsqueeze(1)], 1)) * w.unsqueeze(1)
        agg = torch.zeros_like(h).index_add_(0, dst, e)
        norm = torch.zeros(h.shape[0], device=h.device, dtype=h.dtype).index_add_(0, dst, w)
        return h + agg / norm.clamp_min(1e-6).unsqueeze(1)


class EdgeGnnPolicy(nn.Module):
    """``forward(obs) -> (logits [..., rows*cols], value [...])`` over the graph observation.

    Args:
        observation_shape: field shapes; needs ``node_features [N, F]``, ``edge_index [2, E]``,
            ``edge_weight [E]``, ``current_node [1]``.
        action_size: number of grid cells ``rows * cols``.
        grid: ``(rows, cols)``; default: square when ``action_size`` is a square, else required.
        dim: node/edge embedding size.
        layers: edge convolutions.
        channels: channels of the deconvolution head.
    """

    def __init__(self, observation_shape: Mapping[str, Sequence[int]], action_size: int,
                 grid: Tuple[int, int] = None, dim: int = 32, layers: int = 3, channels: int = 16):
        super().__init__()
        require_fields("EdgeGnnPolicy", observation_shape, GRAPH_FIELDS, "graph")
        if grid is None:
            side = int(round(int(action_size) ** 0.5))
            if side * side != int(action_size):
                raise ConfigError(f"EdgeGnnPolicy: action_size {action_size} is not a square; pass "
                                 "model_kwargs=dict(grid=(rows, cols)) with the env's grid")
            grid = (side, side)
        grid_of_action("EdgeGnnPolicy", action_size, *grid)
        self.n_nodes, self.n_feat = (int(d) for d in observation_shape["node_features"])
        self.n_edges = int(observation_shape["edge_index"][1])
        self.encode = nn.Sequential(nn.Linear(self.n_feat, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.convs = nn.ModuleList(EdgeConv(dim) for _ in range(layers))
        self.head = DeconvGridHead(2 * dim, grid, channels)
        self.v = nn.Sequential(nn.Linear(2 * dim, 64), nn.Tanh(), nn.Linear(64, 1))

    def embed(self, observation) -> torch.Tensor:
        """``[T*B, 2*dim]``: graph embedding and current-macro embedding, per sample."""
        lead_dim, T, B, _ = infer_leading_dims(observation.node_features, (self.n_nodes, self.n_feat),
                                               "EdgeGnnPolicy", "node_features")
        n, tb = self.n_nodes, T * B
        x = observation.node_features.reshape(tb * n, self.n_feat)
        offset = (torch.arange(tb, device=x.device) * n).view(tb, 1)
        ei = observation.edge_index.reshape(tb, 2, self.n_edges).long()
        a, b = (ei[:, 0] + offset).reshape(-1), (ei[:, 1] + offset).reshape(-1)
        w = observation.edge_weight.reshape(-1).float()
        src, dst, ww = torch.cat([a, b]), torch.cat([b, a]), torch.cat([w, w])  # undirected
        h = self.encode(x)
        for conv in self.convs:
            h = conv(h, src, dst, ww)
        h = h.view(tb, n, -1)
        cur = observation.current_node.reshape(tb).long()
        cur_h = h[torch.arange(tb, device=h.device), cur.clamp_min(0)] * (cur >= 0).unsqueeze(1).to(h.dtype)
        return torch.cat([h.mean(1), cur_h], 1), (lead_dim, T, B)

    def forward(self, observation, prev_action=None, prev_reward=None):
        z, (lead_dim, T, B) = self.embed(observation)
        return restore_leading_dims((self.head(z), self.v(z).squeeze(-1)), lead_dim, T, B)
