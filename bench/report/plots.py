"""Figures: they draw what aggregate.py computed, nothing else."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

REGIME_COLORS = {"stl": "#4c72b0", "mtl": "#dd8452", "tl-full": "#55a868", "tl-linear_probe": "#c44e52"}


def regime_color(label: str) -> str | None:
    return REGIME_COLORS.get(label)


def plot_metric_vs_knob(summary: pd.DataFrame, knob: str, title: str, path: Path, log_x: bool = False) -> Path:
    """One line per regime with its 95% CI band."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for label, rows in summary.groupby("label", sort=True):
        rows = rows.sort_values(knob)
        color = regime_color(label)
        ax.plot(rows[knob], rows["mean"], marker="o", label=label, color=color)
        ax.fill_between(rows[knob], rows["ci_low"], rows["ci_high"], alpha=0.2, color=color)
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(knob)
    ax.set_ylabel(f"target task test {summary['metric'].iloc[0]}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(title="regime")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
