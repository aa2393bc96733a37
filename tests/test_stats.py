"""The report's statistics against hand-computed cases, and the coverage of the simultaneous intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.report.aggregate import StudyData, missing_runs
from bench.report.paired import (
    delta_m,
    friedman,
    outcome,
    regime_map,
    seed_differences,
    summarize_differences,
    win_tie_loss,
)
from bench.report.stats import (
    average_ranks,
    bootstrap_ci,
    cd_groups,
    friedman_p,
    half_width,
    holm,
    nemenyi_cd,
    relative_change,
    seeds_to_resolve,
    simultaneous_level,
    t_interval,
    welch_p,
    wilcoxon_p,
)


def test_wilcoxon_matches_the_exact_null_distribution():
    # All five differences positive: W- = 0, P(W- <= 0) = 1/32, two-sided 2/32.
    assert wilcoxon_p([1, 2, 3, 4, 5]) == pytest.approx(0.0625)
    # One negative of rank 1: W- = 1, subsets of {1..5} summing to <= 1 are {} and {1}: 2/32, two-sided 4/32.
    assert wilcoxon_p([-1, 2, 3, 4, 5]) == pytest.approx(0.125)
    assert wilcoxon_p([0, 1, 2, 3, 4, 5]) == pytest.approx(0.0625)  # zeros are dropped
    assert math.isnan(wilcoxon_p([0.0, 0.0, 0.0]))


@pytest.mark.parametrize("values", [[0.3, -0.1, 0.3, 0.2, -0.1, 0.5, 0.3, 0.2, 0.2, -0.4],  # ties: permutation
                                    [0.31, -0.12, 0.05, 0.22, -0.08, 0.51, 0.34, 0.27, 0.19, -0.41],
                                    [1.0, 1.0, 1.0, -1.0]])
def test_wilcoxon_is_scipy_s_exact_answer_with_and_without_ties(values):
    assert wilcoxon_p(values) == pytest.approx(float(stats.wilcoxon(values).pvalue), abs=1e-12)


def test_holm_on_a_hand_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, np.nan, 0.04])  # NaN is no comparison: a family of two
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_relative_change_is_positive_when_better_for_either_direction():
    assert relative_change(0.9, 0.8, True) == pytest.approx(12.5)  # accuracy up
    assert relative_change(0.9, 1.0, False) == pytest.approx(10.0)  # MSE down
    assert relative_change(1.1, 1.0, False) == pytest.approx(-10.0)  # MSE up
    assert relative_change([0.9, 0.9], [0.8, 1.0], [True, False]) == pytest.approx([12.5, 10.0])


def test_delta_m_averages_signed_relative_changes_over_tasks():
    rows = []
    for arm, acc, mse in (("stl", 0.80, 0.50), ("mtl", 0.88, 0.40)):
        rows += [{"arm": arm, "study": "s", "seed": 0, "task": "a", "metric": "accuracy", "value": acc,
                  "higher_is_better": True},
                 {"arm": arm, "study": "s", "seed": 0, "task": "b", "metric": "mse", "value": mse,
                  "higher_is_better": False}]
    result = delta_m(pd.DataFrame(rows), ["study"])
    # accuracy +10%, MSE 0.5 -> 0.4 is 20% better: mean +15%.
    assert result["difference"].item() == pytest.approx(15.0)
    assert result["n_tasks"].item() == 2


@pytest.mark.parametrize("n_seeds", [5, 25])
def test_bootstrap_ci_covers_the_true_mean_at_about_the_nominal_rate(n_seeds):
    # At 5 seeds a plain percentile interval covers about 83%: the expanded one must stay near 95%.
    rng = np.random.default_rng(7)
    truth, trials = 0.3, 400
    covered = 0
    for _ in range(trials):
        low, high = bootstrap_ci(rng.normal(truth, 1.0, size=n_seeds), n_boot=1000)
        covered += low <= truth <= high
    assert 0.9 <= covered / trials <= 0.985


def test_t_interval_is_students():
    values = [0.3, -0.1, 0.4, 0.2, 0.0]
    low, high = t_interval(values, 0.99)
    expected = stats.t.interval(0.99, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected)
    assert high - low == pytest.approx(2 * half_width(float(np.std(values, ddof=1)), 5, 0.99))
    assert all(math.isnan(v) for v in t_interval([1.0]))
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)


# A moderately skewed gamma: about the most skewed at which t-intervals hold within 1 point at 10 seeds and
# these levels. No interval of a mean of 10 values holds there on strongly skewed values; docs/statistics.md
# gives the coverage against skewness and the skewness measured in make bench's per-seed values.
SKEWED = 0.35


@pytest.mark.parametrize("skewness", [0.0, SKEWED])
def test_simultaneous_t_intervals_cover_at_their_level_at_ten_seeds(skewness):
    """25 intervals at 10 seeds each, Bonferroni at 95%: the family covers within 1 point of 95% (independent
    rows: 0.998^25 = 95.1%), on normal data and on moderately skewed gamma data. Vectorised: 20,000 families,
    Monte Carlo error 0.15 point."""
    rng = np.random.default_rng(2024)
    families, k, n = 20_000, 25, 10
    level = simultaneous_level(k)
    if skewness == 0:
        draws, truth = rng.normal(size=(families, k, n)), 0.0
    else:
        shape = (2 / skewness) ** 2  # a gamma's skewness is 2 / sqrt(shape)
        draws, truth = rng.gamma(shape, size=(families, k, n)), shape
    half = stats.t.ppf(0.5 + level / 2, n - 1) * draws.std(axis=2, ddof=1) / math.sqrt(n)
    covered = np.abs(draws.mean(axis=2) - truth) <= half
    assert covered.all(axis=1).mean() == pytest.approx(0.95, abs=0.01)
    assert half[0, 0] == pytest.approx(half_width(float(draws[0, 0].std(ddof=1)), n, level))


def test_seeds_to_resolve_is_the_first_count_whose_interval_is_decisive():
    n = seeds_to_resolve(0.5, 2.0, 10, 0.99, margin=0.1)  # excluding zero is the nearer goal: 0.5
    assert half_width(2.0, n, 0.99) < 0.5 <= half_width(2.0, n - 1, 0.99)
    n = seeds_to_resolve(0.05, 2.0, 10, 0.99, margin=1.0)  # lying within the margin: 0.95
    assert half_width(2.0, n, 0.99) < 0.95 <= half_width(2.0, n - 1, 0.99)
    assert seeds_to_resolve(0.5, 0.0, 10, 0.99, margin=1.0) == 10
    assert seeds_to_resolve(0.0, 1.0, 10, 0.99, margin=0.0) is None  # nothing to resolve towards
    assert seeds_to_resolve(1e-6, 1.0, 10, 0.99, margin=1e-6) is None  # beyond MAX_SEEDS


def test_welch_p():
    assert welch_p([1.0, 1.1, 0.9], [3.0, 3.1, 2.9]) < 0.01
    assert welch_p([1.0, 1.1, 0.9], [1.0, 1.1, 0.9]) == pytest.approx(1.0)
    assert math.isnan(welch_p([1.0], [2.0, 3.0]))


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert bootstrap_ci([1.0, 2.0, 3.0]) == bootstrap_ci([1.0, 2.0, 3.0])  # fixed generator: reproducible


def test_ranks_friedman_and_critical_difference():
    scores = [[3, 2, 1], [3, 2, 1], [3, 1, 2]]
    assert average_ranks(scores) == pytest.approx([1.0, 7 / 3, 8 / 3])
    # chi2_F = 12N/(k(k+1)) sum R^2 - 3N(k+1) = 3 (1 + 49/9 + 64/9) - 36 = 14/3; df 2: p = exp(-chi2/2).
    assert friedman_p(scores) == pytest.approx(math.exp(-7 / 3))
    assert nemenyi_cd(4, 10) == pytest.approx(2.569 * math.sqrt(20 / 60), abs=1e-3)  # Demšar table 5
    assert cd_groups([1.0, 1.5, 3.0, 3.2], 1.0) == [(0, 1), (2, 3)]
    assert cd_groups([2.6, 1.0, 1.8], 1.0) == [(0, 1), (1, 2)]
    assert cd_groups([1.0, 3.0], 1.0) == []


def _scores(values: dict[tuple[str, float], list[float]], knob: str = "relatedness") -> pd.DataFrame:
    """Tidy scores from ``{(arm, knob value): [value per seed]}``; NaN means the seed has no run."""
    rows = [{"arm": arm, knob: x, "seed": seed, "value": v, "metric": "r2", "task": "t", "higher_is_better": True}
            for (arm, x), per_seed in values.items() for seed, v in enumerate(per_seed) if not math.isnan(v)]
    return pd.DataFrame(rows)


def test_paired_differences_use_only_seeds_both_arms_have():
    scores = _scores({("stl", 0.0): [0.5, 0.6, 0.7], ("mtl", 0.0): [0.6, np.nan, 0.9]})
    differences = seed_differences(scores, ["relatedness"])
    assert sorted(differences["seed"]) == [0, 2]
    assert sorted(differences["difference"]) == pytest.approx([0.1, 0.2])
    table = summarize_differences(differences, ["relatedness"])
    assert table["n_pairs"].item() == 2 and table["mean"].item() == pytest.approx(0.15)


def test_outcomes_and_win_tie_loss_counts():
    assert (outcome(0.1, 0.3), outcome(-0.1, 0.3), outcome(-0.3, -0.1), outcome(np.nan, np.nan)) == \
        ("win", "tie", "loss", "n/a")
    scores = _scores({("stl", 0.0): [0.5, 0.5, 0.5, 0.5], ("mtl", 0.0): [0.6, 0.61, 0.62, 0.63],
                      ("stl", 1.0): [0.5, 0.5, 0.5, 0.5], ("mtl", 1.0): [0.4, 0.6, 0.45, 0.55]})
    counts = win_tie_loss(summarize_differences(seed_differences(scores, ["relatedness"]), ["relatedness"]))
    assert counts.set_index("arm").loc["mtl", ["win", "tie", "loss"]].tolist() == [1, 1, 0]


def test_friedman_leaves_out_blocks_with_a_missing_arm():
    scores = _scores({("stl", 0.0): [0.1, 0.1, 0.1], ("mtl", 0.0): [0.2, 0.2, np.nan], ("tl", 0.0): [0.3, 0.3, 0.3]})
    result = friedman(scores, ["relatedness"])
    assert result["n_blocks"] == 2 and result["n_dropped"] == 1
    assert dict(zip(result["arms"], result["ranks"], strict=True)) == {"tl": 1.0, "mtl": 2.0, "stl": 3.0}


def test_regime_map_names_a_winner_only_when_it_beats_every_other_arm():
    scores = _scores({("stl", 0.0): [0.5, 0.52, 0.51, 0.5, 0.49], ("mtl", 0.0): [0.7, 0.72, 0.71, 0.7, 0.69],
                      ("stl", 1.0): [0.5, 0.52, 0.51, 0.5, 0.49], ("mtl", 1.0): [0.6, 0.42, 0.61, 0.4, 0.59]})
    cells = regime_map(scores, ["relatedness"]).set_index("relatedness")
    assert cells.loc[0.0, "winner"] == "mtl" and cells.loc[0.0, "margin"] == pytest.approx(0.2)
    assert cells.loc[1.0, "winner"] == "tie" and cells.loc[1.0, "best"] == "mtl"


def test_missing_runs_name_failed_and_absent_seeds():
    runs = pd.DataFrame([
        {"run_id": f"{arm}{seed}", "arm": arm, "seed": seed, "relatedness": 0.0, "status": status, "study": "s"}
        for arm, seed, status in [("stl", 0, "ok"), ("stl", 1, "ok"), ("stl", 2, "ok"),
                                  ("mtl", 0, "ok"), ("mtl", 1, "failed")]
    ])
    study = StudyData("s", runs, pd.DataFrame(), ["relatedness"])
    (row,) = missing_runs(study).to_dict("records")
    assert row["arm"] == "mtl" and row["n_ok"] == 1 and row["n_expected"] == 3
    assert row["failed_seeds"] == [1] and row["absent_seeds"] == [2]
