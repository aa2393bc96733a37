"""Training and selection losses of a population: one loss per member, each over that member's own batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.data.family import Task


def member_losses(kind: str, output: torch.Tensor, y: torch.Tensor,
                  class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy for classification, mean squared error for regression, for ``output`` ``[R, B, outputs]``.

    Returns ``[R]``: each member's gradient is what ``F.cross_entropy`` / ``F.mse_loss`` give a run alone
    (the same per-example terms, averaged over the same batch). ``class_weights`` ``[R, K]`` weight each
    member's examples by class, normalised by their total weight, as ``F.cross_entropy(weight=...)`` does.
    """
    if kind == "regression":
        return F.mse_loss(output, y, reduction="none").flatten(1).mean(1)
    per_example = F.cross_entropy(output.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    if class_weights is None:
        return per_example.mean(1)
    weights = class_weights.gather(1, y)
    return (per_example * weights).sum(1) / weights.sum(1)


def selection_loss(task: Task, output: torch.Tensor, y: torch.Tensor) -> float:
    """The validation loss model selection minimises: the task's training loss on a whole split (the
    ``loss`` that ``bench.metrics.task_metrics`` reports)."""
    if task.kind == "regression":
        return float(F.mse_loss(output, y))
    weight = None if task.class_weights is None else task.class_weights.to(output.device, output.dtype)
    return float(F.cross_entropy(output, y, weight=weight))


def stacked_class_weights(task_sets: list[tuple[Task, ...]], task: int) -> torch.Tensor | None:
    """``[R, K]`` class weights of one task across members (each from its own training rows), or None."""
    weights = [tasks[task].class_weights for tasks in task_sets]
    if all(w is None for w in weights):
        return None
    ones = torch.ones(task_sets[0][task].n_outputs)
    return torch.stack([ones if w is None else w.float() for w in weights])
