"""Backbones that hold ``copies`` independent parameter sets and run them in one batched call.

Single-task learning trains one copy per task (no sharing); multi-task and transfer use one copy that
every task reads (hard sharing). Keeping the copies in one tensor lets T independent models train in
one forward pass while each copy's gradient stays exactly that of its own task.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class CopiedLinear(nn.Module):
    """``copies`` independent linear layers, initialised as ``nn.Linear`` each."""

    def __init__(self, copies: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(copies, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(copies, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, copy: int | None = None) -> torch.Tensor:
        if copy is None:  # x: [copies, n, in]
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.addmm(self.bias[copy], x, self.weight[copy])  # x: [n, in]


class MLPBackbone(nn.Module):
    """``depth`` fully connected ReLU layers of ``width`` units over flattened inputs.

    ``forward(x)`` takes ``[copies, n, *input_shape]`` and runs copy ``c`` on ``x[c]``;
    ``forward(x, copy=c)`` takes ``[n, *input_shape]`` and runs copy ``c`` alone.
    """

    def __init__(self, input_shape: tuple[int, ...], copies: int = 1, width: int = 64, depth: int = 2) -> None:
        super().__init__()
        if width < 1 or depth < 1 or copies < 1:
            raise ValueError(f"MLPBackbone: width, depth and copies must be >= 1, got {width}, {depth}, {copies}")
        self.input_shape, self.copies, self.width = tuple(input_shape), copies, width
        sizes = [math.prod(self.input_shape)] + [width] * depth
        self.layers = nn.ModuleList(CopiedLinear(copies, a, b) for a, b in zip(sizes, sizes[1:], strict=False))

    def forward(self, x: torch.Tensor, copy: int | None = None) -> torch.Tensor:
        h = x.flatten(start_dim=1 if copy is not None else 2)
        for layer in self.layers:
            h = torch.relu(layer(h, copy))
        return h
