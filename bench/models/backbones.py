"""Backbones that hold ``copies`` independent parameter sets and run them in one batched call.

A population of R members trains as one model: single-task learning holds one copy per member and task,
multi-task and transfer one copy per member that every task of that member reads. Keeping the copies in
one tensor lets many independent models train in one forward pass while each copy's gradient stays
exactly that of its own inputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": torch.relu, "none": lambda h: h}


class CopiedLinear(nn.Module):
    """``copies`` independent linear layers, initialised as ``nn.Linear`` each.

    ``forward(x)`` takes ``[copies, n, in]``; ``forward(x, select)`` takes ``[len(select), n, in]`` and runs
    the copies whose indices ``select`` lists, one per leading slice of ``x``.
    """

    def __init__(self, copies: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(copies, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(copies, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        if select is None:
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[select], x, self.weight[select])


class CopiedHead(nn.Module):
    """``copies`` independent task heads in ``nn.Linear``'s layout (``weight[c]`` is ``[out, in]``).

    The layout is ``nn.Linear``'s so that a one-member population computes exactly what ``nn.Linear``
    computes, bit for bit; ``load_linear`` sets one copy from a freshly initialised ``nn.Linear``.
    """

    def __init__(self, copies: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(copies, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(copies, out_features))

    @torch.no_grad()
    def load_linear(self, copy: int, linear: nn.Linear) -> None:
        self.weight[copy].copy_(linear.weight)
        self.bias[copy].copy_(linear.bias)

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``[copies, n, in]`` -> ``[copies, n, out]``, or ``[len(select), n, in]`` for the selected copies."""
        weight, bias = (self.weight, self.bias) if select is None else (self.weight[select], self.bias[select])
        if x.shape[0] == 1:  # nn.Linear's own kernel: a one-member population equals a plain run exactly
            return F.linear(x[0], weight[0], bias[0]).unsqueeze(0)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class MLPBackbone(nn.Module):
    """``depth`` fully connected layers of ``width`` units over flattened inputs, each followed by a ReLU by default.

    ``activation="none"`` makes it linear: with linear heads every regime then fits linear predictors, and
    ``width`` is a shared bottleneck (Wu, Zhang & Ré 2020); ``width=None`` keeps the input's size.

    ``forward(x)`` takes ``[copies, n, *input_shape]`` and runs copy ``c`` on ``x[c]``;
    ``forward(x, select)`` takes ``[len(select), n, *input_shape]`` and runs copy ``select[i]`` on ``x[i]``.
    """

    def __init__(self, input_shape: tuple[int, ...], copies: int = 1, width: int | None = 64, depth: int = 2,
                 activation: str = "relu") -> None:
        super().__init__()
        width = math.prod(input_shape) if width is None else width
        if width < 1 or depth < 1 or copies < 1:
            raise ValueError(f"MLPBackbone: width, depth and copies must be >= 1, got {width}, {depth}, {copies}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"model.activation={activation!r} is invalid, expected one of {list(ACTIVATIONS)}")
        self.input_shape, self.copies, self.width = tuple(input_shape), copies, width
        self.activation = ACTIVATIONS[activation]
        sizes = [math.prod(self.input_shape)] + [width] * depth
        self.layers = nn.ModuleList(CopiedLinear(copies, a, b) for a, b in zip(sizes, sizes[1:], strict=False))

    def trunk_layers(self) -> list[nn.Module]:
        """The layers from input to features, in order (what partial fine-tuning freezes a prefix of)."""
        return list(self.layers)

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(start_dim=2)
        for layer in self.layers:
            h = self.activation(layer(h, select))
        return h
