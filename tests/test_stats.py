"""The report's statistics against hand-computed cases, and the claims' verdict rule on constructed data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.report.aggregate import StudyData, missing_runs
from bench.report.claims import CLAIMS, evaluate_claim, judge, overall_effect, trend, verdict
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
    holm,
    nemenyi_cd,
    relative_change,
    slope,
    wilcoxon_p,
)


def test_wilcoxon_matches_the_exact_null_distribution():
    # All five differences positive: W- = 0, P(W- <= 0) = 1/32, two-sided 2/32.
    assert wilcoxon_p([1, 2, 3, 4, 5]) == pytest.approx(0.0625)
    # One negative of rank 1: W- = 1, subsets of {1..5} summing to <= 1 are {} and {1}: 2/32, two-sided 4/32.
    assert wilcoxon_p([-1, 2, 3, 4, 5]) == pytest.approx(0.125)
    assert wilcoxon_p([0, 1, 2, 3, 4, 5]) == pytest.approx(0.0625)  # zeros are dropped
    assert math.isnan(wilcoxon_p([0.0, 0.0, 0.0]))


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


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert bootstrap_ci([1.0, 2.0, 3.0]) == bootstrap_ci([1.0, 2.0, 3.0])  # fixed generator: reproducible


def test_slope_ranks_friedman_and_critical_difference():
    assert slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert math.isnan(slope([1, 1], [0, 1]))
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


def test_verdict_rule():
    assert verdict(0.1, 0.5, 0.01, 5, +1) == "supported"
    assert verdict(-0.5, -0.1, 0.01, 5, +1) == "contradicted"
    assert verdict(-0.5, -0.1, 0.01, 5, -1) == "supported"
    assert verdict(-0.1, 0.5, 0.01, 5, +1) == "inconclusive"
    assert verdict(-0.005, 0.008, 0.01, 5, +1) == "no effect"  # the CI lies within the margin
    assert verdict(0.002, 0.008, 0.01, 5, +1) == "no effect"  # significant, but practically nothing
    assert verdict(0.1, 0.5, 0.01, 2, +1) == "inconclusive"  # too few seeds
    assert verdict(np.nan, np.nan, 0.01, 5, +1) == "inconclusive"


def test_overall_effect_and_simultaneous_level():
    assert overall_effect(0.02, 0.05, 0.01) == "helps" and overall_effect(-0.05, -0.02, 0.01) == "hurts"
    assert overall_effect(-0.005, 0.005, 0.01) == "no effect" and overall_effect(-0.05, 0.02, 0.01) == "unclear"
    rows = [{"claim": 1, "study": "relatedness", "margin": 1.0, "expected_sign": +1,
             "changes": np.array([5.0, 6.0, 7.0, 5.5]),
             "levels": np.array([2.0, 3.0, 2.5, 2.0])} for _ in range(4)]
    judged = judge(rows)
    assert all(r["level"] == pytest.approx(1 - 0.05 / 4) for r in judged)
    assert judged[0]["verdict"] == "supported" and judged[0]["overall"] == "helps"


def test_trend_is_the_mean_per_seed_slope():
    differences = pd.DataFrame({"arm": "mtl", "seed": [0, 0, 1, 1], "target_size": [8, 32, 8, 32],
                                "difference": [0.4, 0.0, 0.2, 0.0]})
    measured = trend(differences, "target_size", ["target_size"], log_knob=True)
    assert measured["slope"] == pytest.approx(-0.15)  # per doubling: -0.2 and -0.1 over two doublings
    assert measured["n_units"] == 2


def _study(name: str, knob: str, gain) -> StudyData:
    """A relatedness-like study whose MTL target gain over STL is ``gain(knob value, seed)``."""
    rows, runs = [], []
    for x in (0.0, 0.5, 1.0):
        for seed in range(5):
            base = 0.5 + 0.01 * seed
            for arm, value in (("stl", base), ("mtl", base + gain(x, seed))):
                run_id = f"{arm}-{x}-{seed}"
                runs.append({"run_id": run_id, "arm": arm, "seed": seed, knob: x, "status": "ok", "study": name})
                for task, role in (("task0", "target"), ("task1", "source")):
                    for metric, v, hib in (("r2", value, True), ("mse", 1 - value, False)):
                        rows.append({"run_id": run_id, "arm": arm, "seed": seed, knob: x, "study": name,
                                     "task": task, "role": role, "kind": "regression", "split": "test",
                                     "metric": metric, "value": v, "higher_is_better": hib, "primary": "r2"})
    return StudyData(name, pd.DataFrame(runs), pd.DataFrame(rows), [knob])


@pytest.mark.parametrize(("gain", "expected"), [
    (lambda x, seed: 0.2 * x + 0.01 * seed, "supported"),
    (lambda x, seed: -0.2 * x + 0.01 * seed, "contradicted"),
    (lambda x, seed: 0.05 * ((seed + 3 * x) % 2 - 0.5), "inconclusive"),
])
def test_claim_one_verdict_on_constructed_studies(gain, expected):
    claim = CLAIMS[0]
    (row,) = judge(evaluate_claim(claim, {"relatedness": _study("relatedness", "relatedness", gain)}))
    assert row["verdict"] == expected
    assert row["n_units"] == 5


def test_claim_without_its_study_says_not_run():
    rows = evaluate_claim(CLAIMS[3], {})
    assert [r["verdict"] for r in rows] == ["not run", "not run"]
    assert "target_size" in rows[0]["note"]


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
