"""Cross-stitch networks (Misra et al., CVPR 2016): a column per task, mixed after every layer."""

from __future__ import annotations

import torch
from torch import nn

from bench.models.soft_sharing import GroupedLinear, SoftSharing

# Misra et al.'s best initialisation for two tasks, (0.9, 0.1): a column keeps 0.9 of its own activations
# and the others share 0.1, so each column starts close to its own task's network.
OWN_SHARE = 0.9


class CrossStitch(SoftSharing):
    """One ReLU MLP column per task (``depth`` layers of ``width`` units over flattened inputs); after each
    layer a learned ``T x T`` cross-stitch unit replaces column t's activations by ``Σ_s α_ts h_s``.

    A task's rows run through every column (they are stitched together) and the task reads its own column,
    so a step costs T columns on every task's batch. With ``tasks=1`` (STL's copies, TL) it is one column with
    a 1 x 1 unit per layer, initialised to 1: the single-task counterpart, the MLP of the same width and
    depth plus one scale per layer. Parameters per copy: ``tasks · (in·width + width + (depth−1)(width² +
    width)) + depth · tasks²``: the STL counterparts of the T tasks hold the same columns, less the stitches.
    """

    def __init__(self, input_shape: tuple[int, ...], copies: int = 1, tasks: int = 1, width: int = 64,
                 depth: int = 2) -> None:
        super().__init__(input_shape, copies, tasks, width, depth)
        pairs = zip(self.sizes, self.sizes[1:], strict=False)
        self.layers = nn.ModuleList(GroupedLinear(copies, tasks, a, b) for a, b in pairs)
        other = (1 - OWN_SHARE) / (tasks - 1) if tasks > 1 else 0.0
        unit = torch.full((tasks, tasks), other).fill_diagonal_(OWN_SHARE if tasks > 1 else 1.0)
        self.stitches = nn.Parameter(unit.expand(copies, depth, tasks, tasks).clone())

    def trunk_layers(self) -> list[nn.Module]:
        """The column layers from input to features (what partial fine-tuning freezes a prefix of)."""
        return list(self.layers)

    def _columns(self, rows: torch.Tensor, select: torch.Tensor | None) -> torch.Tensor:
        """``[k, n, in]`` -> ``[k, tasks, n, width]``: every column's stitched features of the same rows."""
        stitches = self.stitches if select is None else self.stitches[select]
        h = rows
        for depth, layer in enumerate(self.layers):
            h = torch.einsum("kts,ksnw->ktnw", stitches[:, depth], torch.relu(layer(h, select)))
        return h

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None, task: int | None = None) -> torch.Tensor:
        return self._columns(x.flatten(start_dim=2), select)[:, self.part(task)]

    def by_task(self, xs: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        tasks, batch = xs.shape[1:3]
        columns = self._columns(xs.flatten(start_dim=3).flatten(1, 2), select).unflatten(2, (tasks, batch))
        return torch.diagonal(columns, dim1=1, dim2=2).permute(0, 3, 1, 2)  # column t on task t's rows
