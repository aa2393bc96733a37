"""The claims at a glance, drawn: one panel per answered claim row, the paired difference arm − STL along the
knob with its simultaneous interval band, the margin shaded, and the verdict as the panel's title. It draws
what claims.py computed, nothing else."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bench.report.plots import _save, arm_color
from bench.report.tables import knob_text

VERDICT_COLORS = {"supported": "#2e7d32", "contradicted": "#c62828", "no effect": "#1f5f8b",
                  "premise fails": "#6a4c93", "underpowered": "#666666"}
COLUMNS = 4


def plot_claims(table: pd.DataFrame, stem: Path) -> Path | None:
    """Small multiples of every measured claim row (None when no row was measured); PNG (SVG too with --svg)."""
    rows = [row for _, row in table.iterrows() if isinstance(row.get("curve"), list)]
    if not rows:
        return None
    columns = min(COLUMNS, len(rows))
    fig, axes = plt.subplots(math.ceil(len(rows) / columns), columns, figsize=(3.7 * columns, 3.1 * math.ceil(
        len(rows) / columns)), squeeze=False)
    for ax, row in zip(axes.flat, rows, strict=False):
        x = [float(value) for value, _ in row["curve"]]
        estimates = [estimate for _, estimate in row["curve"]]
        color = arm_color(row["arm"].split(" − ")[0])
        ax.axhspan(-row["margin"], row["margin"], color="#d9d9d9", alpha=0.7, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.fill_between(x, [e.low for e in estimates], [e.high for e in estimates], color=color, alpha=0.2,
                        linewidth=0)
        ax.plot(x, [e.mean for e in estimates], marker="o", color=color, linewidth=2)
        if row["log_knob"]:
            ax.set_xscale("log", base=2)
        ax.set_xticks(x, [knob_text(value) for value, _ in row["curve"]], fontsize=8)
        ax.set_xlabel(row["knob"], fontsize=9)
        ax.set_ylabel("Δm% points" if row["unit"].startswith("Δm%") else "score difference", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(alpha=0.3)
        ax.set_title(f"{int(row['claim'])} · {row['study']} · {row['arm']}\n{row['verdict']}", fontsize=9,
                     color=VERDICT_COLORS.get(row["verdict"], "black"))
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle("Claims: arm − STL along each knob (band: simultaneous interval; grey: the margin)", fontsize=11)
    return _save(fig, stem)
