"""Small convolutional models for image observations ``[C, H, W]`` (any leading dims).

:class:`Conv2dModel` is the plain stack; :class:`ConvEncoder` checks the image shape it was built for
(:func:`~rlframe.core.leading_dims.infer_leading_dims`), scales (e.g. uint8 → [0, 1]) and flattens to
``[T*B, D]`` features, with the same interface as :class:`~rlframe.models.observation.FlatObservationEncoder`,
so the actor-critic models in :mod:`rlframe.models.pg` take either. Defaults follow the Nature-DQN
torso only loosely (Mnih et al. 2015): small kernels suit the placement grids (MaskPlace, Lai et al. 2022).
"""
from __future__ import annotations

from typing import Optional, Sequence, Type

import torch
from torch import nn

from rlframe.core.leading_dims import infer_leading_dims


class Conv2dModel(nn.Module):
    """Conv2d layers, each followed by ``nonlinearity`` (and an optional 2x2 max-pool)."""

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int] = (16, 32),
        kernel_sizes: Sequence[int] = (3, 3),
        strides: Sequence[int] = (1, 1),
        paddings: Optional[Sequence[int]] = None,
        nonlinearity: Type[nn.Module] = nn.ReLU,
        use_maxpool: bool = False,
    ):
        super().__init__()
        n = len(channels)
        paddings = list(paddings) if paddings is not None else [k // 2 for k in kernel_sizes]
        if not (len(kernel_sizes) == len(strides) == len(paddings) == n):
            raise ValueError(
                f"Conv2dModel: channels, kernel_sizes, strides and paddings need the same length, got "
                f"{n}, {len(kernel_sizes)}, {len(strides)}, {len(paddings)}."
            )
        layers = []
        last = int(in_channels)
        for c, k, s, p in zip(channels, kernel_sizes, strides, paddings):
            layers += [nn.Conv2d(last, int(c), int(k), int(s), int(p)), nonlinearity()]
            if use_maxpool:
                layers.append(nn.MaxPool2d(2))
            last = int(c)
        self.conv = nn.Sequential(*layers)
        self.out_channels = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def conv_out_size(self, h: int, w: int, c: Optional[int] = None) -> int:
        """Flattened output size for an ``[c, h, w]`` input (computed with a dummy forward)."""
        with torch.no_grad():
            first = self.conv[0]
            out = self.conv(torch.zeros(1, c or first.in_channels, h, w))
        return int(out[0].numel())


class ConvEncoder(nn.Module):
    """Checks, scales and convolves ``[..., C, H, W]`` images; returns ``(features, lead_dim, T, B)``.

    Args:
        observation_shape: ``(C, H, W)`` the model is built for.
        component: name used in shape errors (the owning model's class name).
        scale: input multiplier (``1/255`` for uint8 pixels).
        conv_kwargs: passed to :class:`Conv2dModel`.
    """

    def __init__(self, observation_shape: Sequence[int], component: str = "model", scale: float = 1.0, **conv_kwargs):
        super().__init__()
        shape = tuple(int(d) for d in observation_shape)
        if len(shape) != 3:
            raise ValueError(f"{component}: ConvEncoder needs a (C, H, W) observation shape, got {shape}.")
        self.observation_shape = shape
        self.component = component
        self.scale = float(scale)
        self.conv = Conv2dModel(shape[0], **conv_kwargs)
        self.output_size = self.conv.conv_out_size(shape[1], shape[2])

    def forward(self, observation: torch.Tensor):
        lead_dim, T, B, shape = infer_leading_dims(observation, self.observation_shape, self.component)
        x = observation.reshape(T * B, *shape)
        if x.dtype != torch.float32:
            x = x.float()
        if self.scale != 1.0:
            x = x * self.scale
        return self.conv(x).reshape(T * B, -1), lead_dim, T, B
