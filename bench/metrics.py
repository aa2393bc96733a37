"""Per-task metrics (torchmetrics, on the model's device); each says whether higher is better.

Classification: accuracy, balanced accuracy (mean recall over the classes present in ``y``, as
scikit-learn), macro-F1, ROC AUC (binary: of the second class; more classes: one-vs-rest, macro) and log
loss. Regression: MSE, RMSE and MAE in the target's original units (``Task.target_mean`` /
``target_std`` undo the standardisation) and R². ``loss`` is what model selection minimises: the training
loss, class-weighted when the task has class weights. A metric that is undefined on a split (AUC when a
class is absent, R² on one row) is NaN, and the report leaves it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score
from torchmetrics.functional.classification import (
    binary_auroc,
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_f1_score,
    multiclass_recall,
)

from bench.metric_names import HIGHER_IS_BETTER, METRICS, PRIMARY_METRIC  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from bench.data.family import Task

IMBALANCED = 0.2  # a binary task whose minority class is rarer than this is scored by AUC by default


def default_metric(kind: str, labels: torch.Tensor | None = None) -> str:
    """R² for regression; accuracy for classification, AUC for a binary task with a minority under 20%
    (accuracy rewards "always the majority" there: on Landmine it equals the no-mine rate)."""
    if kind == "classification" and labels is not None:
        counts = torch.bincount(labels.flatten())
        if len(counts) == 2 and float(counts.min()) / max(float(counts.sum()), 1.0) < IMBALANCED:
            return "auc"
    return PRIMARY_METRIC[kind]


def task_loss(kind: str, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classification, mean squared error for regression."""
    return F.cross_entropy(output, y) if kind == "classification" else F.mse_loss(output, y)


@torch.no_grad()
def task_metrics(task: Task, output: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Metrics of one task's predictions ``output`` against ``y`` (one model, one split)."""
    if task.kind == "classification":
        return classification_metrics(output, y, task.n_outputs, task.class_weights)
    return regression_metrics(output, y, task.target_mean, task.target_std)


def classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int,
                           class_weights: torch.Tensor | None = None) -> dict[str, float]:
    weights = None if class_weights is None else class_weights.to(logits.device, logits.dtype)
    present = torch.bincount(y, minlength=n_classes) > 0
    options = dict(num_classes=n_classes, validate_args=False)
    recall = multiclass_recall(logits, y, average=None, **options)
    if not bool(present.all()):
        auc = float("nan")  # one-vs-rest AUC needs every class in y
    elif n_classes == 2:
        auc = float(binary_auroc(logits.softmax(dim=1)[:, 1], y, validate_args=False))
    else:
        auc = float(multiclass_auroc(logits.softmax(dim=1), y, average="macro", **options))
    return {
        "loss": float(F.cross_entropy(logits, y, weight=weights)),
        "accuracy": float(multiclass_accuracy(logits, y, average="micro", **options)),
        "balanced_accuracy": float(recall[present].mean()),
        "f1_macro": float(multiclass_f1_score(logits, y, average="macro", **options)),
        "auc": auc,
        "log_loss": float(F.cross_entropy(logits, y)),
    }


def regression_metrics(output: torch.Tensor, y: torch.Tensor, mean: tuple[float, ...] = (),
                       std: tuple[float, ...] = ()) -> dict[str, float]:
    """``output`` and ``y`` are standardised [n, k]; errors are reported in the original units."""
    if mean:
        shift = torch.tensor(mean, dtype=output.dtype, device=output.device)
        scale = torch.tensor(std, dtype=output.dtype, device=output.device)
        predicted, actual = output * scale + shift, y * scale + shift
    else:
        predicted, actual = output, y
    k = output.shape[1]
    per_output = dict(num_outputs=k) if k > 1 else {}
    flat = (lambda t: t) if k > 1 else (lambda t: t[:, 0])
    mse = mean_squared_error(flat(predicted), flat(actual), **per_output)
    return {
        "loss": float(task_loss("regression", output, y)),
        "mse": float(mse.mean()),
        "rmse": float(mse.sqrt().mean()),  # per output, then averaged, as scikit-learn
        "mae": float(mean_absolute_error(flat(predicted), flat(actual), **per_output).mean()),
        "r2": float(r2_score(predicted, actual, multioutput="uniform_average")) if len(y) > 1 else float("nan"),
    }
