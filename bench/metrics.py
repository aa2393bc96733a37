"""Per-task metrics; each says whether higher is better so that the report never has to guess."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.data.family import Task

HIGHER_IS_BETTER = {"accuracy": True, "r2": True, "mse": False, "loss": False}
PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2"}


def task_loss(kind: str, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classification, mean squared error for regression."""
    return F.cross_entropy(output, y) if kind == "classification" else F.mse_loss(output, y)


@torch.no_grad()
def task_metrics(task: Task, output: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Metrics of one task's predictions ``output`` against ``y`` (one model, one split)."""
    kind = task.kind
    metrics = {"loss": float(task_loss(kind, output, y))}
    if kind == "classification":
        metrics["accuracy"] = float((output.argmax(dim=1) == y).float().mean())
    else:
        residual = ((output - y) ** 2).sum(dim=0)
        total = ((y - y.mean(dim=0)) ** 2).sum(dim=0).clamp_min(1e-12)
        metrics["mse"] = float(((output - y) ** 2).mean())
        metrics["r2"] = float((1 - residual / total).mean())  # uniform average over outputs, as sklearn
    return metrics
