"""Shared pieces of the placement policies: the deconvolution head that turns a vector into one logit
per grid cell (Circuit Training's policy head, Mirhoseini et al., Nature 2021), and the field checks."""
from __future__ import annotations

from typing import Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from rlframe.errors import ShapeMismatchError


def require_fields(name: str, observation_shape: Mapping[str, Sequence[int]], fields: Sequence[str],
                   observation: str) -> None:
    """Raise :class:`ShapeMismatchError` naming the env option when a field is missing."""
    missing = [f for f in fields if f not in observation_shape]
    if missing:
        raise ShapeMismatchError(
            name, "observation", f"fields {list(fields)}", sorted(observation_shape),
            hint=f"make the placement env with observation={observation!r} (or 'both').")


def grid_of_action(name: str, action_size: int, rows: int, cols: int) -> None:
    """Raise unless the action space has one action per grid cell."""
    if rows * cols != int(action_size):
        raise ShapeMismatchError(
            name, "action space", f"Discrete({rows * cols}) (one action per grid cell)",
            f"Discrete({action_size})", hint="use the placement env's own grid for the image and the action.")


class DeconvGridHead(nn.Module):
    """Vector ``[B, in_features]`` -> logits ``[B, rows * cols]`` (cell index ``row * cols + col``).

    A linear layer to a ``[channels, 4, 4]`` map, ``upsamples`` transposed convolutions doubling the size
    (default 3: 32 x 32), a bilinear resize to exactly ``rows x cols`` and a 1x1 conv to one logit per cell.
    The parameters do not depend on the grid, so one set of weights serves netlists of any grid
    (pre-training on several designs, zero-shot on a new one).
    An optional ``skip`` map ``[B, skip_channels, rows, cols]`` is concatenated before the last conv
    (MaskPlace fuses its local conv features this way).
    """

    def __init__(self, in_features: int, grid: Tuple[int, int], channels: int = 16, skip_channels: int = 0,
                 upsamples: int = 3):
        super().__init__()
        self.rows, self.cols = int(grid[0]), int(grid[1])
        self.channels = channels
        self.fc = nn.Sequential(nn.Linear(in_features, channels * 16), nn.ReLU())
        layers = []
        for _ in range(upsamples):
            layers += [nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.ReLU()]
        self.deconv = nn.Sequential(*layers)
        self.out = nn.Conv2d(channels + skip_channels, 1, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor = None) -> torch.Tensor:
        h = self.deconv(self.fc(x).view(-1, self.channels, 4, 4))
        h = F.interpolate(h, size=(self.rows, self.cols), mode="bilinear", align_corners=False)
        if skip is not None:
            h = torch.cat([h, skip], 1)
        return self.out(h).flatten(1)
