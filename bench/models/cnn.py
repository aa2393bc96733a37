"""A small convolutional backbone for image tasks (e.g. 8x8 digits), with ``copies`` like the MLP.

The copies run as one grouped convolution (``groups=copies``): copy ``c`` owns the ``c``-th block of
output channels and sees only its own input channels, so each copy's gradient is that of its own
inputs alone, exactly as if it were trained in its own run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.backbones import CopiedLinear


class CopiedConv2d(nn.Module):
    """``copies`` independent 3x3 'same' convolutions, initialised as ``nn.Conv2d`` each.

    Parameters keep the copies as leading dimension (``[copies, out, in, 3, 3]``), as every backbone's do,
    so that a copy can be selected, restored or initialised alone.
    """

    def __init__(self, copies: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.copies = copies
        bound = 1.0 / math.sqrt(in_channels * 9)  # nn.Conv2d's default (kaiming uniform, a=sqrt(5))
        self.weight = nn.Parameter(torch.empty(copies, out_channels, in_channels, 3, 3).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(copies, out_channels).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``[n, k * in, H, W]``, copy-major channels, for all ``k`` copies or the ``k`` in ``select``."""
        weight, bias = (self.weight, self.bias) if select is None else (self.weight[select], self.bias[select])
        return F.conv2d(x, weight.flatten(0, 1), bias.flatten(), padding=1, groups=weight.shape[0])


class CNNBackbone(nn.Module):
    """Conv 3x3 + ReLU + 2x2 max-pool per entry of ``channels``, then a ReLU layer of ``width`` features.

    ``forward(x)`` takes ``[copies, n, C, H, W]`` and runs copy ``c`` on ``x[c]``;
    ``forward(x, select)`` takes ``[len(select), n, C, H, W]`` and runs copy ``select[i]`` on ``x[i]``.
    """

    def __init__(
        self, input_shape: tuple[int, ...], copies: int = 1, channels: Sequence[int] = (16, 32), width: int = 64
    ) -> None:
        super().__init__()
        input_shape, channels = tuple(input_shape), [int(c) for c in channels]
        if len(input_shape) != 3:
            raise ValueError(f"CNNBackbone needs image inputs [channels, height, width], got input shape "
                             f"{input_shape}: use model=mlp for tables")
        if width < 1 or copies < 1 or not channels or min(channels) < 1:
            raise ValueError(f"CNNBackbone: width, copies and channels must be >= 1, got {width}, {copies}, {channels}")
        height, breadth = (side // 2 ** len(channels) for side in input_shape[1:])
        if min(height, breadth) < 1:
            raise ValueError(f"CNNBackbone: {len(channels)} pooling stages shrink input shape {input_shape} to nothing")
        self.input_shape, self.copies, self.width = input_shape, copies, width
        sizes = [input_shape[0], *channels]
        self.convs = nn.ModuleList(CopiedConv2d(copies, a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        self.features = CopiedLinear(copies, channels[-1] * height * breadth, width)

    def trunk_layers(self) -> list[nn.Module]:
        """The layers from input to features, in order (what partial fine-tuning freezes a prefix of)."""
        return [*self.convs, self.features]

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        # [k, n, C, H, W] -> [n, k * C, H, W]: copy-major channels, as the grouped convolutions expect
        copies = x.shape[0]
        h = x.transpose(0, 1).flatten(1, 2)
        for conv in self.convs:
            h = F.max_pool2d(torch.relu(conv(h, select)), 2)
        h = h.unflatten(1, (copies, -1)).transpose(0, 1).flatten(2)
        return torch.relu(self.features(h, select))
