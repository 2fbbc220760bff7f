"""Multi-layer perceptron and the initialisation helpers every rlframe model uses."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Type

import torch
from torch import nn


def orthogonal_init(module: nn.Module, gain: float = math.sqrt(2.0)) -> nn.Module:
    """Orthogonal weights (Saxe et al. 2014) with ``gain`` and zero biases on every Linear/Conv layer,
    the initialisation of OpenAI baselines' and SB3's PPO (Andrychowicz et al. 2021 show it matters)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class MlpModel(nn.Module):
    """Linear layers with a nonlinearity between them; acts on the last dim (any leading dims).

    Args:
        input_size: size of the input's last dim.
        hidden_sizes: sizes of the hidden layers (may be empty).
        output_size: size of a final linear layer without nonlinearity; None leaves it out
            (the output is then the last hidden layer, after its nonlinearity).
        nonlinearity: module class applied after each hidden layer.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int] = (64, 64),
        output_size: Optional[int] = None,
        nonlinearity: Type[nn.Module] = nn.Tanh,
    ):
        super().__init__()
        layers = []
        last = int(input_size)
        for h in hidden_sizes or ():
            layers += [nn.Linear(last, int(h)), nonlinearity()]
            last = int(h)
        if output_size is not None:
            layers.append(nn.Linear(last, int(output_size)))
            last = int(output_size)
        self.model = nn.Sequential(*layers)
        self.input_size = int(input_size)
        self._output_size = last

    @property
    def output_size(self) -> int:
        return self._output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
