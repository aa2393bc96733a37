"""MTL weighting methods: how one step's per-task losses become the gradients of a population's parameters.

A method is a small object with ``backward(module, losses)``: ``losses`` is ``[R, T]`` (member x task, zero
for slots that no longer train) and the method leaves the gradients in the parameters' ``.grad``, as
``loss.backward()`` would. Members share no parameter, so a method that needs per-task gradients gets each
member's from one backward pass per task over the whole population.
"""

from __future__ import annotations

import torch


class EqualWeights:
    """The unweighted sum of the task losses: every regime's default, and the baseline of every method."""

    name = "sum"

    def backward(self, module, losses: torch.Tensor) -> None:
        losses.sum().backward()


__all__ = ["EqualWeights"]
