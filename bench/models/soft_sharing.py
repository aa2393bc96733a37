"""What the soft-sharing trunks (MMoE, cross-stitch) share: grouped layers, the task-aware forward, and how a
regime tells a trunk how many tasks read it.

A soft-sharing trunk has a part per task (MMoE's gate, cross-stitch's column) besides what the tasks share.
Every parameter keeps the population's leading copy dimension, as the hard-sharing backbones' do, so a
member's copy is selected, restored, cleared and optimised alone. Only multi-task learning gives the trunk
one part per task (``for_tasks``); STL and TL build it with ``tasks=1``, its single-task counterpart with the
same experts (or column) and widths, which then reads like any backbone (``forward(x, select)``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import nn


class GroupedLinear(nn.Module):
    """``copies x groups`` independent linear layers (a copy's experts or columns), each initialised as
    ``nn.Linear``; weights ``[copies, groups, in, out]``.

    ``forward(x, select)``: ``x`` is ``[k, n, in]`` (every group reads the same rows) or ``[k, groups, n, in]``
    (each its own); returns ``[k, groups, n, out]`` for all copies or the ``k`` that ``select`` lists.
    """

    def __init__(self, copies: int, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(copies, groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(copies, groups, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, select: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = (self.weight, self.bias) if select is None else (self.weight[select], self.bias[select])
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return torch.matmul(x, weight) + bias


class SoftSharing(nn.Module):
    """A trunk with a part per task. ``forward(x, select, task)`` gives rows ``x`` ``[k, n, *input]`` the
    features ``task`` reads (``task`` may be left out when one task reads the trunk); ``by_task(xs, select)``
    gives each task's rows ``xs`` ``[k, T, B, *input]`` its own task's features ``[k, T, B, width]``."""

    def __init__(self, input_shape: tuple[int, ...], copies: int, tasks: int, width: int, depth: int) -> None:
        super().__init__()
        for key, value in (("width", width), ("depth", depth), ("copies", copies), ("tasks", tasks)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model.{key}={value!r} is invalid, expected an integer >= 1")
        self.input_shape, self.copies, self.tasks, self.width = tuple(input_shape), copies, tasks, width
        self.sizes = [math.prod(self.input_shape)] + [width] * depth

    def part(self, task: int | None) -> int:
        """The index of the part ``task`` reads (its own; the only one when one task reads the trunk)."""
        if task is None and self.tasks == 1:
            return 0
        if task is None or not 0 <= task < self.tasks:
            raise ValueError(f"{type(self).__name__} has parts for {self.tasks} task(s), asked for task {task!r}")
        return task


def is_soft(factory: Callable[..., nn.Module]) -> bool:
    """Whether ``factory`` (a class or a partial of one, as Hydra's ``_partial_`` makes) builds a soft trunk."""
    target = getattr(factory, "func", factory)
    return isinstance(target, type) and issubclass(target, SoftSharing)


def for_tasks(factory: Callable[..., nn.Module], tasks: int) -> Callable[..., nn.Module]:
    """The factory of a trunk that ``tasks`` tasks read: a soft trunk gets one part per task, a hard-sharing
    backbone is the same for any number of tasks."""
    return functools.partial(factory, tasks=tasks) if is_soft(factory) else factory
