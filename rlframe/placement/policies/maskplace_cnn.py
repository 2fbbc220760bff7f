"""MaskPlace-style CNN actor-critic (Lai et al., *MaskPlace: Fast Chip Placement via Reinforced Visual
Representation Learning*, NeurIPS 2022).

MaskPlace scores every cell of the canvas with a fully convolutional *local* encoder over the mask
images and fuses it with a *global* encoder (strided convs to a small map, a bottleneck, deconvolutions
back to the canvas) so that each cell's logit sees the whole layout. Here the inputs are the env's image
planes (``observation="image"``: position mask, wire mask, canvas occupancy -- see
rlframe/placement/env/observations.py) at grid resolution; the value head reads the global bottleneck
and the macro descriptor.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.placement.policies.heads import DeconvGridHead, grid_of_action, require_fields


class MaskPlaceCnnPolicy(nn.Module):
    """``forward(obs) -> (logits [..., rows*cols], value [...])`` over ``image`` and ``macro``.

    Args:
        observation_shape: field shapes; needs ``image`` ``[C, rows, cols]`` and ``macro`` ``[k]``.
        action_size: must be ``rows * cols``.
        channels: conv channels of both branches.
        global_features: size of the global bottleneck vector.
    """

    def __init__(self, observation_shape: Mapping[str, Sequence[int]], action_size: int, channels: int = 16,
                 global_features: int = 64):
        super().__init__()
        require_fields("MaskPlaceCnnPolicy", observation_shape, ("image", "macro"), "image")
        self.image_shape = tuple(int(d) for d in observation_shape["image"])
        c, rows, cols = self.image_shape
        grid_of_action("MaskPlaceCnnPolicy", action_size, rows, cols)
        n_macro = int(observation_shape["macro"][0])
        self.local = nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.glob = nn.Sequential(nn.Conv2d(c, channels, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                                  nn.Linear(channels * 16 + n_macro, global_features), nn.ReLU())
        self.head = DeconvGridHead(global_features, (rows, cols), channels, skip_channels=channels)
        self.v = nn.Sequential(nn.Linear(global_features, 64), nn.Tanh(), nn.Linear(64, 1))
        self._n_macro = n_macro

    def forward(self, observation, prev_action=None, prev_reward=None):
        lead_dim, T, B, _ = infer_leading_dims(observation.image, self.image_shape, "MaskPlaceCnnPolicy", "image")
        img = observation.image.reshape(T * B, *self.image_shape)
        macro = observation.macro.reshape(T * B, self._n_macro)
        g = self.glob[6:](torch.cat([self.glob[:6](img), macro], 1))  # convs+pool+flatten, then bottleneck
        logits = self.head(g, skip=self.local(img))
        value = self.v(g).squeeze(-1)
        return restore_leading_dims((logits, value), lead_dim, T, B)
