"""How the tasks of a table are scored and weighted: ``data.metric``, ``data.class_weight``, unseen classes.

``data.metric`` chooses the primary metric, the one the report compares on. A metric name applies to every
task of the kind it fits (``auc``: classification tasks); a mapping chooses per kind, target column or
task, the most specific key winning: ``{classification: auc, regression: rmse, school=A: mae}``. Tasks it
does not reach keep the default (bench.metrics.default_metric). ``data.class_weight=balanced`` weighs each
class of a classification task by ``n / (K n_k)`` on its training rows (scikit-learn's "balanced"); the
family carries the weights, so every regime trains on the same weighted loss.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight

from bench.data.family import FamilyError
from bench.metrics import METRICS, metric_choice

log = logging.getLogger(__name__)
CLASS_WEIGHTS = (None, "balanced")


class Scoring:
    """``data.metric`` and ``data.class_weight`` of one table, checked once against its targets and tasks."""

    def __init__(self, metric: str | Mapping[str, str] | None, class_weight: str | None, columns: list[str],
                 tasks: list[str], source: str) -> None:
        if class_weight not in CLASS_WEIGHTS:
            raise FamilyError(f"{source}: data.class_weight={class_weight!r} is invalid, expected null or 'balanced'")
        self.class_weight, self.source = class_weight, source
        self.choices = dict(metric) if isinstance(metric, Mapping) else {} if metric is None else {"*": metric}
        known = set(METRICS) | set(columns) | set(tasks) | {"*"}
        names = {m for kind in METRICS.values() for m in kind}
        for key, value in self.choices.items():
            if key not in known:
                raise FamilyError(f"{source}: data.metric names {key!r}, which is neither a kind {tuple(METRICS)}, "
                                  f"a target column nor a task (tasks: {tasks[:8]}{' ...' if len(tasks) > 8 else ''})")
            if value not in names:
                raise FamilyError(f"{source}: data.metric={value!r} (for {key!r}) is not a metric; expected one of "
                                  f"{METRICS['classification'] + METRICS['regression']}")
        self.used: set[str] = set()

    def metric(self, task: str, column: str, kind: str) -> str | None:
        """The task's primary metric: by task, target column, kind or for all; None keeps the default."""
        found = metric_choice(self.choices, (task, column, kind, "*"), kind)
        if found is None:
            return None
        key, value = found
        if value not in METRICS[kind]:
            raise FamilyError(f"{self.source}: data.metric={value!r} (for {key!r}) does not fit task {task!r}, "
                              f"which is {kind}: expected one of {METRICS[kind]}")
        self.used.add(key)
        return value

    def check_used(self) -> None:
        """A metric that fits no task was a mistake (``data.metric=rmse`` on classification tasks only)."""
        if "*" in self.choices and "*" not in self.used:
            raise FamilyError(f"{self.source}: data.metric={self.choices['*']!r} fits none of the tasks; "
                              f"classification: {METRICS['classification']}, regression: {METRICS['regression']}")

    def class_weights(self, train_labels: torch.Tensor, n_classes: int) -> torch.Tensor | None:
        """Balanced weights from the training labels; a class absent from training gets weight 1."""
        if self.class_weight is None:
            return None
        labels = train_labels.numpy()
        present = np.unique(labels)
        weights = np.ones(n_classes)
        weights[present] = compute_class_weight("balanced", classes=present, y=labels)
        return torch.tensor(weights, dtype=torch.float32)


def unseen_classes(task: str, column: str, codes: np.ndarray, splits: dict[str, np.ndarray], classes: list,
                   source: str) -> str | None:
    """A warning (logged and returned) when val or test rows hold classes that no training row has:
    the model can never predict them, so their rows are errors whatever it learns."""
    if not classes:
        return None
    seen = set(np.unique(codes[splits["train"]]).tolist())
    unseen = {split: sorted({int(c) for c in codes[splits[split]]} - seen) for split in ("val", "test")}
    if not any(unseen.values()):
        return None
    where = "; ".join(f"{split}: {[classes[c] for c in codes_]} ({int(np.isin(codes[splits[split]], codes_).sum())} "
                      "rows)" for split, codes_ in unseen.items() if codes_)
    message = (f"{source}: task {task!r}, target column {column!r}: class(es) never seen in training appear in "
               f"{where}; the model cannot predict them")
    log.warning(message)
    return message
