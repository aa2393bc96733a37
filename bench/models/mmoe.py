"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018): experts every task reads, one softmax gate per task."""

from __future__ import annotations

import torch

from bench.models.soft_sharing import GroupedLinear, SoftSharing


class MMoE(SoftSharing):
    """``experts`` ReLU MLPs (``depth`` layers of ``width`` units over flattened inputs); task t's features are
    ``Σ_e softmax(W_t x + b_t)_e · expert_e(x)``, a linear gate per task over the same inputs.

    With ``tasks=1`` (STL's copies, TL) it is the single-task counterpart: the same experts and one gate.
    Parameters per copy: ``experts · (in·width + width + (depth−1)(width² + width)) + tasks · (in·experts +
    experts)``. Convention: the gates read the raw inputs and the towers are the regimes' linear heads (the
    paper's towers are small MLPs); ReLU after every expert layer, the last included, as ``MLPBackbone``.
    """

    def __init__(self, input_shape: tuple[int, ...], copies: int = 1, tasks: int = 1, experts: int = 4,
                 width: int = 64, depth: int = 1) -> None:
        if isinstance(experts, bool) or not isinstance(experts, int) or experts < 1:
            raise ValueError(f"model.experts={experts!r} is invalid, expected an integer >= 1")
        super().__init__(input_shape, copies, tasks, width, depth)
        self.experts = experts
        pairs = zip(self.sizes, self.sizes[1:], strict=False)
        self.layers = torch.nn.ModuleList(GroupedLinear(copies, experts, a, b) for a, b in pairs)
        self.gates = GroupedLinear(copies, tasks, self.sizes[0], experts)

    def trunk_layers(self) -> list[torch.nn.Module]:
        """Expert layers from input to features, then the gates (what partial fine-tuning freezes a prefix of)."""
        return [*self.layers, self.gates]

    def _experts(self, rows: torch.Tensor, select: torch.Tensor | None) -> torch.Tensor:
        """``[k, n, in]`` -> ``[k, experts, n, width]``."""
        h = rows
        for layer in self.layers:
            h = torch.relu(layer(h, select))
        return h

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None, task: int | None = None) -> torch.Tensor:
        rows = x.flatten(start_dim=2)
        mix = torch.softmax(self.gates(rows, select)[:, self.part(task)], dim=-1)  # [k, n, experts]
        return torch.einsum("kne,kenw->knw", mix, self._experts(rows, select))

    def by_task(self, xs: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        rows = xs.flatten(start_dim=3)  # [k, T, B, in]
        experts = self._experts(rows.flatten(1, 2), select).unflatten(2, rows.shape[1:3])  # [k, E, T, B, w]
        mix = torch.softmax(self.gates(rows, select), dim=-1)  # [k, T, B, experts]: task t's gate on its rows
        return torch.einsum("ktbe,ketbw->ktbw", mix, experts)
