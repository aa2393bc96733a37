"""Statistics as pure functions of arrays: no DataFrames, no plotting (after rliable).

The tables' per-condition intervals are 95% bootstraps over seeds, drawn from a fixed generator so that a report
rebuilt from the same records prints the same numbers. The claims' verdicts read simultaneous intervals at
Bonferroni levels (99.9% and beyond), where a bootstrap's ends would rest on a handful of resamples and its
percentile interval undercovers at 10 seeds: those are Student-t intervals (``t_interval``), whose ends are
exact for normal per-seed values at any level (docs/statistics.md gives the coverage measured on skewed ones).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

LEVEL = 0.95
N_BOOTSTRAP = 4000
BOOTSTRAP_SEED = 20240601


def bootstrap_ci(values, level: float = LEVEL, n_boot: int = N_BOOTSTRAP,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Expanded percentile bootstrap interval of the mean of ``values``, one value per seed.

    Hesterberg (2015, "What teachers should know about the bootstrap"): the plain percentile interval is
    too narrow for a handful of seeds (about 83% coverage at n = 5 for a nominal 95%), so the tail level
    is widened to ``Phi(-sqrt(n / (n - 1)) t_{n-1})``; it tends to the plain percentile as n grows.
    Fewer than two values give no interval (NaN, NaN).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    rows = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    draws = values[rows].mean(axis=1)
    alpha = float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * stats.t.ppf(0.5 + level / 2, n - 1)))
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return float(low), float(high)


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean of ``values``, one value per seed: ``mean ± t_{n-1} s / sqrt(n)``.

    No resampling: its ends hold at any level (the t quantile is exact for normal values), where a bootstrap's
    ends at a Bonferroni level rest on the few most extreme of its resamples. Fewer than two values give no
    interval (NaN, NaN); identical values give the point.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    half = half_width(float(values.std(ddof=1)), n, level)
    return float(values.mean() - half), float(values.mean() + half)


def half_width(sd: float, n: int, level: float) -> float:
    """Half the width of the ``level`` t-interval of a mean of ``n`` values of standard deviation ``sd``:
    the smallest difference from zero such an interval can tell apart."""
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)) if n >= 2 else math.inf


def simultaneous_level(family_size: int, family_level: float = LEVEL) -> float:
    """Each interval's level for ``family_size`` intervals to hold together at ``family_level`` (Bonferroni)."""
    return 1 - (1 - family_level) / family_size


MAX_SEEDS = 10_000  # seeds_to_resolve looks no further


def seeds_to_resolve(mean: float, sd: float, n: int, level: float, margin: float) -> int | None:
    """About how many seeds would make a ``level`` t-interval of this mean decisive, if the mean and the per-seed
    spread stayed as measured: exclude zero (half width below ``|mean|``) or lie within ``±margin`` (below
    ``margin - |mean|``), whichever needs fewer. None when no count up to ``MAX_SEEDS`` would (say, a mean on
    the margin itself)."""
    target = max(abs(mean), margin - abs(mean))
    if not target > 0 or not math.isfinite(sd):
        return None
    if sd == 0:
        return n
    low, high = max(n, 2), MAX_SEEDS
    if half_width(sd, high, level) >= target:
        return None
    while low < high:  # the half width falls with n: the first n below the target
        middle = (low + high) // 2
        low, high = (middle + 1, high) if half_width(sd, middle, level) >= target else (low, middle)
    return low


def welch_p(first, second) -> float:
    """Two-sided Welch t-test p-value that two groups of per-seed values share a mean; NaN below two each."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(first) < 2 or len(second) < 2:
        return float("nan")
    if np.all(first == first[0]) and np.all(second == second[0]):
        return 1.0 if first[0] == second[0] else 0.0
    return float(stats.ttest_ind(first, second, equal_var=False).pvalue)


EXACT_SIGNS = 13  # up to 2^13 sign assignments: scipy enumerates them too (its permutation test's 9,999 resamples)


def wilcoxon_p(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences, exact up to ``EXACT_SIGNS`` of them.

    Zero differences are dropped (Wilcoxon's convention); with nothing left there is no test (NaN). Up to
    EXACT_SIGNS differences, every assignment of signs to the ranks is enumerated at once: the exact
    conditional null, ties included, which is what scipy computes one resample at a time with ties (0.2 s
    a test, half of the report's time on make bench's records). Beyond, scipy's own method.
    """
    differences = np.asarray(differences, dtype=float)
    differences = differences[differences != 0]
    n = len(differences)
    if n == 0:
        return float("nan")
    if n > EXACT_SIGNS:
        return float(stats.wilcoxon(differences).pvalue)
    ranks = stats.rankdata(np.abs(differences))
    observed = ranks[differences > 0].sum()
    null = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) @ ranks  # the positive ranks' sum, every sign
    tolerance = 1e-9 * ranks.sum()
    below, above = np.mean(null <= observed + tolerance), np.mean(null >= observed - tolerance)
    return float(min(1.0, 2 * min(below, above)))


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries stay NaN and do not count in the family."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p_values, np.nan)
    present = np.flatnonzero(~np.isnan(p_values))
    order = present[np.argsort(p_values[present], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(order) - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


# Delta_m's guard: a relative change needs a baseline away from zero. Scores on [0, 1] count as near zero
# below 0.01; an error metric (MSE, RMSE, MAE, log loss: >= 0, in the target's own units) only at exactly
# zero, a perfect baseline, since no scale-free threshold exists for it.
DELTA_M_FLOOR = {"accuracy": 0.01, "balanced_accuracy": 0.01, "f1_macro": 0.01, "auc": 0.01, "r2": 0.01}


def relative_change(value, baseline, higher_is_better, floor=0.0) -> np.ndarray:
    """``100 * (value - baseline) / |baseline|``, sign flipped for lower-is-better metrics: positive is better.

    ``higher_is_better`` is a bool or an array of them, one per value. Where ``|baseline|`` is below
    ``floor`` (or zero), there is no relative change: NaN, for the caller to leave out and count.
    """
    value, baseline = np.asarray(value, dtype=float), np.asarray(baseline, dtype=float)
    sign = np.where(higher_is_better, 1.0, -1.0)
    guarded = (np.abs(baseline) < floor) | (baseline == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * sign * (value - baseline) / np.abs(baseline)
    return np.where(guarded, np.nan, change)


def average_ranks(scores) -> np.ndarray:
    """Mean rank of each column over the rows of ``scores[block, method]``; rank 1 is the highest score."""
    scores = np.asarray(scores, dtype=float)
    return stats.rankdata(-scores, axis=1).mean(axis=0)


def friedman_p(scores) -> float:
    """Friedman test p-value over ``scores[block, method]`` (needs three methods and two blocks)."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[1] < 3 or scores.shape[0] < 2:
        return float("nan")
    if np.all(scores == scores[:, :1]):
        return 1.0
    return float(stats.friedmanchisquare(*scores.T).pvalue)


def nemenyi_cd(n_methods: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Critical difference of mean ranks (Demšar 2006, eq. for the Nemenyi test): q_alpha sqrt(k(k+1)/6N)."""
    q_alpha = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(n_methods * (n_methods + 1) / (6 * n_blocks)))


def cd_groups(ranks, cd: float) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of methods, in rank order, whose ranks differ by less than ``cd``.

    Indices refer to ``np.sort(ranks)``; single methods are not groups. These are the bars of a
    critical-difference diagram: methods joined by a bar are not significantly different.
    """
    ordered = np.sort(np.asarray(ranks, dtype=float))
    groups: list[tuple[int, int]] = []
    for first in range(len(ordered)):
        last = first
        while last + 1 < len(ordered) and ordered[last + 1] - ordered[first] < cd:
            last += 1
        if last > first and not any(a <= first and last <= b for a, b in groups):
            groups.append((first, last))
    return groups
