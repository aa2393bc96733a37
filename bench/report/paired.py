"""Paired comparisons over seeds: regime - STL differences, Delta_m, win/tie/loss, rankings, the regime map.

Seeds are paired across arms (one seed fixes the data draw and the initialisation), so every comparison is
made seed by seed and uses only the seeds present for both sides; ``n_pairs`` says how many that was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, StudyData, delta_m_scores, oriented, target_scores, task_scores
from bench.report.stats import (
    DELTA_M_FLOOR,
    average_ranks,
    bootstrap_ci,
    cd_groups,
    friedman_p,
    holm,
    nemenyi_cd,
    relative_change,
    wilcoxon_p,
)

OUTCOMES = ("win", "tie", "loss", "n/a")


def outcome(ci_low: float, ci_high: float) -> str:
    """``win`` / ``loss`` when the 95% CI of the difference excludes zero, ``tie`` when it does not."""
    if np.isnan(ci_low):
        return "n/a"
    return "win" if ci_low > 0 else "loss" if ci_high < 0 else "tie"


def seed_differences(scores: pd.DataFrame, keys: list[str], baseline: str = BASELINE) -> pd.DataFrame:
    """``arm - baseline`` per condition, seed and metric, for every other arm, on seeds both have; signed
    so that positive is better (``baseline - arm`` for a lower-is-better metric such as RMSE)."""
    return task_differences(scores, keys, baseline).drop(columns="task")


def task_differences(scores: pd.DataFrame, keys: list[str], baseline: str = BASELINE) -> pd.DataFrame:
    """``arm - baseline`` per condition, seed and task (one row each), positive is better, on the tasks and
    seeds both report."""
    columns = [*keys, "seed", "task", "metric"]
    base = scores[scores["arm"] == baseline][[*columns, "value"]]
    others = scores[scores["arm"] != baseline][["arm", *columns, "value", "higher_is_better"]]
    pairs = others.merge(base, on=columns, suffixes=("", "_base"))
    sign = np.where(pairs["higher_is_better"].to_numpy(bool), 1.0, -1.0)
    pairs = pairs.assign(difference=sign * (pairs["value"] - pairs["value_base"]))
    return pairs[["arm", *keys, "seed", "task", "metric", "difference"]]


def every_task_differences(scores: pd.DataFrame, keys: list[str], baseline: str = BASELINE) -> pd.DataFrame:
    """Per arm, condition, metric and seed: the mean over tasks of the paired difference (positive is better);
    ``n_tasks`` says over how many tasks. The seed stays the unit, so CIs are over seeds as elsewhere."""
    differences = task_differences(scores, keys, baseline)
    return (differences.groupby(["arm", *keys, "metric", "seed"], as_index=False)
            .agg(difference=("difference", "mean"), n_tasks=("task", "nunique")))


def delta_m(task_scores: pd.DataFrame, keys: list[str], baseline: str = BASELINE) -> pd.DataFrame:
    """Delta_m% per arm, condition and seed: mean over tasks of the relative change against the baseline.

    Maninis et al. (2019): ``100/T sum_t s_t (M_t - M_stl,t) / M_stl,t`` with ``s_t = +1`` when higher is
    better and ``-1`` otherwise, so a positive Delta_m is better. Tasks are those both runs report (for TL,
    the target only). A task whose baseline is near zero (``stats.DELTA_M_FLOOR``) has no relative change:
    it is left out of that seed's mean and counted in ``n_left_out``.
    """
    columns = [*keys, "seed", "task", "metric"]
    base = task_scores[task_scores["arm"] == baseline][[*columns, "value"]]
    others = task_scores[task_scores["arm"] != baseline][["arm", *columns, "value", "higher_is_better"]]
    pairs = others.merge(base, on=columns, suffixes=("", "_base"))
    change = relative_change(pairs["value"], pairs["value_base"], pairs["higher_is_better"].to_numpy(bool),
                             floor=pairs["metric"].map(lambda m: DELTA_M_FLOOR.get(m, 0.0)).to_numpy(float))
    pairs = pairs.assign(difference=change, left_out=np.isnan(change))
    frame = (pairs.groupby(["arm", *keys, "seed"], as_index=False)
             .agg(difference=("difference", "mean"), n_tasks=("difference", "count"),
                  n_left_out=("left_out", "sum")))
    return frame.dropna(subset=["difference"])


def summarize_differences(differences: pd.DataFrame, keys: list[str], tests: bool = True) -> pd.DataFrame:
    """Mean paired difference, 95% bootstrap CI, Wilcoxon p and Holm-adjusted p per arm and condition (and
    metric, and task, where ``differences`` has those columns).

    The Holm family is the whole table: every comparison in it. ``tests=False`` leaves the p-values out
    (NaN) for a caller that reads the intervals only: a Wilcoxon test costs more than a bootstrap.
    """
    by = [*keys, *[c for c in ("metric", "task") if c in differences.columns and c not in keys]]
    extra = [c for c in ("n_tasks", "n_left_out") if c in differences.columns]
    rows = []
    for (arm, *condition), group in differences.groupby(["arm", *by], sort=True):
        values = group["difference"].to_numpy()
        low, high = bootstrap_ci(values)
        rows.append({"arm": arm, **dict(zip(by, condition, strict=True)), "mean": values.mean(),
                     "ci_low": low, "ci_high": high, "n_pairs": len(values),
                     "p": wilcoxon_p(values) if tests else np.nan,
                     **{c: int(group[c].max() if c == "n_tasks" else group[c].sum()) for c in extra}})
    table = pd.DataFrame(rows, columns=["arm", *by, "mean", "ci_low", "ci_high", "n_pairs", "p", *extra])
    table["p_holm"] = holm(table["p"].to_numpy())
    table["outcome"] = [outcome(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)]
    return table


def negative_transfer(target: pd.DataFrame) -> pd.DataFrame:
    """The negative transfer gap of every transfer arm per condition (Wang et al. 2019, "Characterizing and
    Avoiding Negative Transfer"): error(transfer) − error(scratch) on the same target and seed, scratch being
    STL's model of the target (trained on it alone). With the error the primary metric's complement (1 −
    accuracy, 1 − R²) or the error metric itself, the gap is minus the paired difference ``target`` holds
    (``summarize_differences`` of the target task); ``negative`` flags a gap whose 95% CI lies above zero."""
    transfer = target[target["arm"].str.startswith("tl")]
    return transfer.assign(gap=-transfer["mean"], gap_low=-transfer["ci_high"], gap_high=-transfer["ci_low"],
                           negative=-transfer["ci_high"] > 0)


def win_tie_loss(summary: pd.DataFrame) -> pd.DataFrame:
    """Per arm, how many conditions it wins, ties and loses against the baseline (CI-based, see outcome)."""
    counts = pd.crosstab(summary["arm"], summary["outcome"]).reindex(columns=OUTCOMES, fill_value=0)
    counts = counts.loc[:, (counts.columns != "n/a") | (counts.sum() > 0)]
    return counts.reset_index().rename_axis(columns=None)


def friedman(scores: pd.DataFrame, keys: list[str], arms: list[str] | None = None) -> dict | None:
    """Friedman test and Nemenyi critical difference over the arms (Demšar 2006).

    A block is one seed: the blocks of a Friedman test must be independent, and conditions and tasks of one
    seed share its data draw, so each arm's scores are averaged over the (condition, task) cells of a seed
    in which every compared arm finished (cells missing an arm are left out and counted). Scores are
    oriented so that higher is better. Needs three arms and two seeds, else None.
    """
    if arms is not None:
        scores = scores[scores["arm"].isin(arms)]
    scores = oriented(scores)
    index = [*keys, "seed", *[c for c in ("task",) if c in scores.columns and c not in keys]]
    cells = scores.pivot_table(index=index, columns="arm", values="value", aggfunc="first")
    complete = cells.dropna().groupby(level="seed").mean()
    wide = cells.groupby(level="seed").mean()
    if wide.shape[1] < 3 or len(complete) < 2:
        return None
    ranks = average_ranks(complete.to_numpy())
    cd = nemenyi_cd(complete.shape[1], len(complete))
    return {"arms": list(complete.columns), "ranks": ranks.tolist(), "n_blocks": len(complete),
            "n_dropped": int(cells.isna().any(axis=1).sum()), "p": friedman_p(complete.to_numpy()), "cd": cd,
            "groups": cd_groups(ranks, cd)}


def regime_map(scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per condition, the arm with the best mean, and whether it beats every other arm significantly.

    ``winner`` names that arm only when the 95% bootstrap CI of its paired difference to each other arm
    lies above zero; otherwise it is ``tie``. ``margin`` is the smallest of those mean differences.
    """
    rows = []
    for condition, cell in oriented(scores).groupby(keys, sort=True):
        condition = condition if isinstance(condition, tuple) else (condition,)
        means = cell.groupby("arm")["value"].mean().sort_values(ascending=False)
        best = means.index[0]
        wide = cell.pivot_table(index="seed", columns="arm", values="value", aggfunc="first")
        lows, margins, pairs = [], [], []
        for other in means.index[1:]:
            both = wide[[best, other]].dropna()
            difference = (both[best] - both[other]).to_numpy()
            lows.append(bootstrap_ci(difference)[0])
            margins.append(difference.mean() if len(difference) else np.nan)
            pairs.append(len(difference))
        significant = bool(lows) and all(low > 0 for low in lows)
        rows.append({**dict(zip(keys, condition, strict=True)), "best": best,
                     "winner": best if significant else "tie", "best_mean": means.iloc[0],
                     "margin": min(margins) if margins else np.nan, "n_pairs": min(pairs) if pairs else 0})
    return pd.DataFrame(rows)


def measured_differences(study: StudyData, measure: str) -> pd.DataFrame:
    """Per-seed differences against STL: ``target`` (target task's primary score), ``every_task`` (mean
    over every task of its primary score, per metric) or ``delta_m`` (%)."""
    if measure == "target":
        return seed_differences(target_scores(study.tidy), study.keys)
    if measure == "every_task":
        return every_task_differences(task_scores(study.tidy), study.keys)
    if measure == "delta_m":
        return delta_m(delta_m_scores(study.tidy), study.keys)
    raise ValueError(f"measure={measure!r} is invalid, expected 'target', 'every_task' or 'delta_m'")
