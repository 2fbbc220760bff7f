"""Placement policies: a fully convolutional actor-critic over the placement env's image planes.

MaskPlace (Lai et al., NeurIPS 2022) scores every grid cell with a conv net over the position mask,
wire mask and canvas occupancy; the cell with the highest (masked) logit is where the current macro
goes. :class:`CellConvPolicy` is that idea at the env's grid resolution: one logit per cell, and a value
head over the pooled conv features and the macro descriptor. It fits
``rlframe/MacroPlacement-v0`` with ``observation="image"`` (Dict observation with ``image [C, rows, cols]``,
``macro [k]`` and ``action_mask [rows*cols]``; the agent masks the logits with ``action_mask``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.errors import ShapeMismatchError


class CellConvPolicy(nn.Module):
    """Per-cell logits and a state value: ``forward(obs) -> (logits [..., rows*cols], value [...])``.

    Args:
        observation_shape: mapping of the observation fields to shapes; needs ``image`` and ``macro``.
        action_size: number of actions; must equal ``rows * cols`` of the image (one logit per cell).
        channels: conv channels.
    """

    def __init__(self, observation_shape: Mapping[str, Sequence[int]], action_size: int, channels: int = 16):
        super().__init__()
        if "image" not in observation_shape or "macro" not in observation_shape:
            raise ShapeMismatchError(
                "CellConvPolicy", "observation", "fields 'image' and 'macro'", sorted(observation_shape),
                hint="make the placement env with observation='image' (or 'both').",
            )
        self.image_shape = tuple(int(d) for d in observation_shape["image"])
        c, rows, cols = self.image_shape
        if rows * cols != int(action_size):
            raise ShapeMismatchError(
                "CellConvPolicy", "action space", f"Discrete({rows * cols}) (one action per grid cell)",
                f"Discrete({action_size})", hint="use the placement env's own grid for the image and the action.",
            )
        self.conv = nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.pi = nn.Conv2d(channels, 1, 1)
        self.v = nn.Sequential(nn.Linear(channels + int(observation_shape["macro"][0]), 64), nn.Tanh(),
                               nn.Linear(64, 1))

    def forward(self, observation, prev_action=None, prev_reward=None):
        lead_dim, T, B, _ = infer_leading_dims(observation.image, self.image_shape, "CellConvPolicy", "image")
        h = self.conv(observation.image.reshape(T * B, *self.image_shape))
        logits = self.pi(h).flatten(1)  # cell index = row * cols + col
        v = self.v(torch.cat([h.mean((2, 3)), observation.macro.reshape(T * B, -1)], 1)).squeeze(-1)
        return restore_leading_dims((logits, v), lead_dim, T, B)
