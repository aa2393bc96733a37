"""Paired comparisons over seeds: regime - STL differences, Delta_m, win/tie/loss, rankings, the regime map.

Seeds are paired across arms (one seed fixes the data draw and the initialisation), so every comparison is
made seed by seed and uses only the seeds present for both sides; ``n_pairs`` says how many that was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, StudyData, delta_m_scores, target_scores
from bench.report.stats import (
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
    """``arm - baseline`` per condition and seed, for every other arm, on seeds both have."""
    base = scores[scores["arm"] == baseline][[*keys, "seed", "value"]]
    others = scores[scores["arm"] != baseline][["arm", *keys, "seed", "value"]]
    pairs = others.merge(base, on=[*keys, "seed"], suffixes=("", "_base"))
    return pairs.assign(difference=pairs["value"] - pairs["value_base"])[["arm", *keys, "seed", "difference"]]


def delta_m(task_scores: pd.DataFrame, keys: list[str], baseline: str = BASELINE) -> pd.DataFrame:
    """Delta_m% per arm, condition and seed: mean over tasks of the relative change against the baseline.

    Maninis et al. (2019): ``100/T sum_t s_t (M_t - M_stl,t) / M_stl,t`` with ``s_t = +1`` when higher is
    better and ``-1`` otherwise, so a positive Delta_m is better. Tasks are those both runs report (for TL,
    the target only).
    """
    columns = [*keys, "seed", "task"]
    base = task_scores[task_scores["arm"] == baseline][[*columns, "value"]]
    others = task_scores[task_scores["arm"] != baseline][["arm", *columns, "value", "higher_is_better"]]
    pairs = others.merge(base, on=columns, suffixes=("", "_base"))
    change = relative_change(pairs["value"], pairs["value_base"], pairs["higher_is_better"].to_numpy(bool))
    pairs = pairs.assign(difference=change)
    return (pairs.groupby(["arm", *keys, "seed"], as_index=False)
            .agg(difference=("difference", "mean"), n_tasks=("task", "nunique")))


def summarize_differences(differences: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean paired difference, 95% bootstrap CI, Wilcoxon p and Holm-adjusted p per arm and condition.

    The Holm family is the whole table: every arm x condition comparison in it.
    """
    rows = []
    for (arm, *condition), group in differences.groupby(["arm", *keys], sort=True):
        values = group["difference"].to_numpy()
        low, high = bootstrap_ci(values)
        rows.append({"arm": arm, **dict(zip(keys, condition, strict=True)), "mean": values.mean(),
                     "ci_low": low, "ci_high": high, "n_pairs": len(values), "p": wilcoxon_p(values)})
    table = pd.DataFrame(rows, columns=["arm", *keys, "mean", "ci_low", "ci_high", "n_pairs", "p"])
    table["p_holm"] = holm(table["p"].to_numpy())
    table["outcome"] = [outcome(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)]
    return table


def win_tie_loss(summary: pd.DataFrame) -> pd.DataFrame:
    """Per arm, how many conditions it wins, ties and loses against the baseline (CI-based, see outcome)."""
    counts = pd.crosstab(summary["arm"], summary["outcome"]).reindex(columns=OUTCOMES, fill_value=0)
    counts = counts.loc[:, (counts.columns != "n/a") | (counts.sum() > 0)]
    return counts.reset_index().rename_axis(columns=None)


def friedman(scores: pd.DataFrame, keys: list[str], arms: list[str] | None = None) -> dict | None:
    """Friedman test and Nemenyi critical difference over the arms (Demšar 2006).

    A block is one (condition, seed): one data draw on which every compared arm finished; blocks missing
    an arm are left out and counted. Needs three arms and two complete blocks, else None.
    """
    if arms is not None:
        scores = scores[scores["arm"].isin(arms)]
    wide = scores.pivot_table(index=[*keys, "seed"], columns="arm", values="value", aggfunc="first")
    complete = wide.dropna()
    if wide.shape[1] < 3 or len(complete) < 2:
        return None
    ranks = average_ranks(complete.to_numpy())
    cd = nemenyi_cd(complete.shape[1], len(complete))
    return {"arms": list(complete.columns), "ranks": ranks.tolist(), "n_blocks": len(complete),
            "n_dropped": len(wide) - len(complete), "p": friedman_p(complete.to_numpy()), "cd": cd,
            "groups": cd_groups(ranks, cd)}


def regime_map(scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per condition, the arm with the best mean, and whether it beats every other arm significantly.

    ``winner`` names that arm only when the 95% bootstrap CI of its paired difference to each other arm
    lies above zero; otherwise it is ``tie``. ``margin`` is the smallest of those mean differences.
    """
    rows = []
    for condition, cell in scores.groupby(keys, sort=True):
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
    """Per-seed differences against STL: ``target`` (target task's primary score) or ``delta_m`` (%)."""
    if measure == "target":
        return seed_differences(target_scores(study.tidy), study.keys)
    if measure == "delta_m":
        return delta_m(delta_m_scores(study.tidy), study.keys)
    raise ValueError(f"measure={measure!r} is invalid, expected 'target' or 'delta_m'")
