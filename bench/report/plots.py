"""Figures: they draw what aggregate.py and paired.py computed, nothing else. Each is saved as PNG, and as SVG
too when ``VECTOR.on`` (``python -m bench.report --svg``): an SVG costs as much to write as the figure to draw."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

# A fixed style per known arm, the same in every figure: transfer strategies and the scikit-learn anchors each
# have their own colour and marker, and the anchors draw dashed lines. Any other arm (an MTL weighting method,
# a variant) takes a hash-stable colour from PALETTE, moved on to the next free one where two arms of a figure
# would share it, and a marker of its own.
ARM_STYLES = {
    "stl": ("#1f77b4", "o"), "mtl": ("#ff7f0e", "s"), "tl-full": ("#2ca02c", "^"),
    "tl-linear_probe": ("#d62728", "v"), "tl-lp_ft": ("#9467bd", "D"), "tl-l2_sp": ("#8c564b", "P"),
    "tl-partial": ("#e377c2", "X"), "tl-bss": ("#7f7f7f", "*"), "sklearn-ridge": ("#17becf", "o"),
    "sklearn-ridge_pooled": ("#bcbd22", "s"), "sklearn-ridge_pooled_tasks": ("#393b79", "^"),
    "sklearn-hgb": ("#637939", "D"), "sklearn-multitask_elasticnet": ("#843c39", "v"),
}
PALETTE = ("#5254a3", "#8ca252", "#bd9e39", "#ad494a", "#a55194", "#6b6ecf", "#e6550d", "#31a354", "#756bb1",
           "#636363", "#3182bd", "#d6616b", "#ce6dbd", "#e7ba52", "#74c476", "#fd8d3c", "#9c9ede", "#e7969c",
           "#de9ed6", "#cedb9c")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p")
TIE_COLOR = "#e6e6e6"

plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
                     "svg.fonttype": "none", "figure.dpi": 110})


@dataclass(frozen=True)
class ArmStyle:
    color: str
    marker: str
    linestyle: str


def arm_styles(arms) -> dict[str, ArmStyle]:
    """A distinct colour and marker for every arm of one figure (see ARM_STYLES)."""
    styles, used = {}, {ARM_STYLES[a][0] for a in arms if a in ARM_STYLES}
    for index, arm in enumerate(sorted(set(arms))):
        if arm in ARM_STYLES:
            color, marker = ARM_STYLES[arm]
        else:
            start = zlib.crc32(arm.encode()) % len(PALETTE)
            free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))]
            color = next((c for c in free if c not in used), free[0])
            marker = MARKERS[index % len(MARKERS)]
            used.add(color)
        styles[arm] = ArmStyle(color, marker, "--" if arm.startswith("sklearn-") else "-")
    return styles


def arm_color(arm: str) -> str:
    """The arm's colour when it is drawn alone (its colour in a figure unless another arm there shares it)."""
    return arm_styles([arm])[arm].color


@dataclass
class Vector:
    on: bool = False


VECTOR = Vector()  # set once by the report's entry point, before any figure is drawn
DPI = 110  # legible in a page column of 540 px and more; PNG bytes grow with the square of it


def _save(fig: plt.Figure, stem: Path, tight: bool = True) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=DPI)
    if VECTOR.on:
        fig.savefig(stem.with_suffix(".svg"))
    else:  # an SVG left by an earlier --svg report would no longer match
        stem.with_suffix(".svg").unlink(missing_ok=True)
    plt.close(fig)
    return stem.with_suffix(".png")


def use_log_x(values: pd.Series) -> bool:
    """Sizes and ratios spanning a factor of 8 or more read better on a log axis."""
    values = pd.to_numeric(values, errors="coerce")
    return bool(values.notna().all() and (values > 0).all() and values.max() / values.min() >= 8)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def plot_lines(table: pd.DataFrame, x: str, facet: str | None, ylabel: str, title: str, stem: Path,
               zero_line: bool = False) -> Path:
    """One line per arm with its 95% CI band against ``x``; one panel per value of ``facet`` if given.

    ``table`` has columns arm, x, [facet], mean, ci_low, ci_high (as from summarize or summarize_differences).
    """
    panels = sorted(table[facet].unique()) if facet else [None]
    # Each panel 4.6 in wide, and 2 in beside them for the legend, so that the axes keep their width.
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 + 4.6 * len(panels), 4.2), sharey=True, squeeze=False)
    styles = arm_styles(table["arm"].unique())
    for ax, value in zip(axes[0], panels, strict=True):
        rows = table if facet is None else table[table[facet] == value]
        for arm, line in rows.groupby("arm", sort=True):
            line, style = line.sort_values(x), styles[arm]
            ax.plot(line[x], line["mean"], marker=style.marker, linestyle=style.linestyle, label=arm,
                    color=style.color, linewidth=2, markersize=6)
            ax.fill_between(line[x], line["ci_low"], line["ci_high"], alpha=0.15, color=style.color, linewidth=0)
        if zero_line:
            ax.axhline(0, color="black", linewidth=1, linestyle="--")
        if use_log_x(table[x]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(table[x].unique()), [_text(v) for v in sorted(table[x].unique())])
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        if facet:
            ax.set_title(f"{facet} = {_text(value)}")
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(title="arm", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(title, fontsize=12)
    return _save(fig, stem)


def plot_regime_map(cells: pd.DataFrame, x: str, y: str, title: str, stem: Path) -> Path:
    """Heat-map over two knobs: each cell coloured and named by its significant winner, grey for a tie."""
    xs, ys = sorted(cells[x].unique()), sorted(cells[y].unique())
    image = np.ones((len(ys), len(xs), 4))
    styles = arm_styles(cells["winner"].unique())
    fig, ax = plt.subplots(figsize=(1.8 + 1.5 * len(xs), 1.2 + 1.0 * len(ys)))
    for row in cells.itertuples(index=False):
        i, j = ys.index(getattr(row, y)), xs.index(getattr(row, x))
        tie = row.winner == "tie"
        image[i, j] = to_rgba(TIE_COLOR if tie else styles[row.winner].color, alpha=1.0 if tie else 0.75)
        text = f"tie\n(best: {row.best})" if tie else f"{row.winner}\n+{row.margin:.3f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=9, fontweight="normal" if tie else "bold")
    ax.imshow(image, origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [_text(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_text(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    return _save(fig, stem)


def plot_cd_diagram(result: dict, title: str, stem: Path) -> Path:
    """Critical-difference diagram (Demšar 2006): mean ranks on an axis, bars join arms within the CD."""
    order = np.argsort(result["ranks"])
    ranks, arms = np.array(result["ranks"])[order], [result["arms"][i] for i in order]
    k, cd = len(arms), result["cd"]
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(9, 1.9 + 0.35 * half))
    fig.subplots_adjust(left=0.3, right=0.7, top=0.72, bottom=0.04)
    ax.set_xlim(k, 1)  # rank 1 (best) on the right, as in Demšar's figures
    ax.set_ylim(-0.5 * (half + 0.6), 0.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black")
    for tick in range(1, k + 1):
        ax.vlines(tick, 0, 0.08, color="black")
        ax.text(tick, 0.12, str(tick), ha="center", va="bottom")
    ax.hlines(0.45, k, k - cd, color="black", linewidth=2, clip_on=False)
    ax.text(k - cd / 2, 0.5, f"CD = {cd:.2f}", ha="center", va="bottom")
    styles = arm_styles(arms)
    for index, (rank, arm) in enumerate(zip(ranks, arms, strict=True)):
        best_half = index < half  # the better half is labelled on the right, the rest on the left
        level = -0.5 * ((index if best_half else k - 1 - index) + 1)
        end = 1 if best_half else k
        ax.plot([rank, rank, end], [0, level, level], color=styles[arm].color, linewidth=1.5, clip_on=False)
        ax.text(end, level, f"  {arm} ({rank:.2f})  ", ha="left" if best_half else "right", va="center",
                color=styles[arm].color, fontweight="bold", clip_on=False)
    for depth, (first, last) in enumerate(result["groups"]):
        ax.hlines(-0.12 - 0.1 * depth, ranks[first] - 0.03, ranks[last] + 0.03, color="black", linewidth=3)
    fig.suptitle(f"{title}: mean rank (1 = best)\nFriedman p = {result['p']:.3g} over {result['n_blocks']} blocks",
                 fontsize=11)
    return _save(fig, stem, tight=False)


OUTCOME_COLORS = {"win": "#55a868", "loss": "#c44e52", "tie": "#8c8c8c", "n/a": "#bbbbbb"}


def plot_per_task(per_task: pd.DataFrame, keys: list[str], title: str, stem: Path) -> Path:
    """Every task's paired difference (mean, 95% CI) sorted, one panel per arm and condition: the distribution
    over tasks at a glance, however many tasks there are. Task names label the axis when there are few."""
    panels = list(per_task.groupby(["arm", *keys], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.5 + 4.2 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, (label, rows) in zip(axes[0], panels, strict=True):
        rows = rows.sort_values("mean").reset_index(drop=True)
        x = np.arange(len(rows))
        colors = [OUTCOME_COLORS.get(o, "#bbbbbb") for o in rows["outcome"]]
        low = (rows["mean"] - rows["ci_low"]).fillna(0).clip(lower=0)
        high = (rows["ci_high"] - rows["mean"]).fillna(0).clip(lower=0)
        ax.errorbar(x, rows["mean"], yerr=[low, high], fmt="none", ecolor="#cccccc", linewidth=1)
        ax.scatter(x, rows["mean"], c=colors, s=14 if len(rows) > 40 else 28, zorder=3)
        ax.axhline(0, color="black", linewidth=1, linestyle="--")
        if len(rows) <= 30:
            ax.set_xticks(x, rows["task"], rotation=90, fontsize=8)
        else:
            ax.set_xlabel(f"{len(rows)} tasks, sorted by difference")
        parts = label if isinstance(label, tuple) else (label,)
        ax.set_title(" | ".join([str(parts[0]), *[f"{k}={_text(v)}" for k, v in zip(keys, parts[1:], strict=True)
                                                  if k != "study"]]))
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("arm − STL (positive is better)")
    fig.suptitle(title, fontsize=12)
    return _save(fig, stem)
