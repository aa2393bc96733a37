"""What each metric is, without torch: its direction and the defaults per task kind. The report and the
record schema read these; ``bench.metrics`` computes the metrics (torchmetrics) and re-exports them, so a
report never pays for importing torch."""

from __future__ import annotations

HIGHER_IS_BETTER = {
    "accuracy": True, "balanced_accuracy": True, "f1_macro": True, "auc": True, "log_loss": False,
    "mse": False, "rmse": False, "mae": False, "r2": True, "loss": False,
}
METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "auc", "log_loss"),
    "regression": ("mse", "rmse", "mae", "r2"),
}
PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2"}  # defaults; see metrics.default_metric
