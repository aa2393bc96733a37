"""Pure functions from the tidy run table to the numbers a report shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bench.metrics import PRIMARY_METRIC

NON_KNOB_COLUMNS = {
    "run_id", "study", "regime", "strategy", "label", "seed", "status", "task", "role", "kind",
    "split", "metric", "value", "higher_is_better", "error",
}


def varied_knobs(runs: pd.DataFrame) -> list[str]:
    """Knob columns that take more than one value in a study: its x axes."""
    knobs = [c for c in runs.columns if c not in NON_KNOB_COLUMNS]
    return [k for k in knobs if runs[k].astype(str).nunique() > 1]


def target_scores(tidy: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The primary metric (accuracy or R^2) of each run's target task: the score every regime reports."""
    target = tidy[(tidy["role"] == "target") & (tidy["split"] == split)]
    primary = target["kind"].map(PRIMARY_METRIC)
    return target[target["metric"] == primary].copy()


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval over seeds; a single value has no interval (NaN)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def summarize(scores: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Mean, 95% CI and number of seeds per regime and knob value."""
    rows = []
    for (label, value), group in scores.groupby(["label", knob], sort=True):
        mean, low, high = mean_ci(group["value"].to_numpy())
        rows.append({"label": label, knob: value, "metric": group["metric"].iloc[0], "mean": mean,
                     "ci_low": low, "ci_high": high, "n_seeds": group["seed"].nunique()})
    return pd.DataFrame(rows)
