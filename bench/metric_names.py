"""What each metric is, without torch: its direction and the defaults per task kind. The report and the
record schema read these; ``bench.metrics`` computes the metrics (torchmetrics) and re-exports them, so a
report never pays for importing torch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

HIGHER_IS_BETTER = {
    "accuracy": True, "balanced_accuracy": True, "f1_macro": True, "auc": True, "log_loss": False,
    "mse": False, "rmse": False, "mae": False, "r2": True, "loss": False,
}
METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "auc", "log_loss"),
    "regression": ("mse", "rmse", "mae", "r2"),
}
PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2"}  # defaults; see metrics.default_metric


def metric_choice(choices: Mapping[str, str], keys: Sequence[str], kind: str) -> tuple[str, str] | None:
    """The most specific of ``choices`` (``data.metric``, ``bench.report --metric``) that names one of ``keys``
    (a task, its target column, its kind, then ``*`` for every task), as (key, metric); None when none does.
    A choice for a named key is returned even when it does not fit ``kind``, for the caller to refuse; ``*``
    reaches only the tasks it fits (``rmse`` for all: the regression tasks)."""
    for key in keys:
        value = choices.get(key)
        if value is not None and (key != "*" or value in METRICS[kind]):
            return key, value
    return None
