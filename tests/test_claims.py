"""The claims' verdict rule on constructed records: every outcome, the design's fixed family, tuning sets that
disagree, and what a reader sees (seven columns, the rows not run in one line, one sentence per claim, a figure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.report.aggregate import study_data
from bench.report.claims import (
    CLAIMS,
    FAMILY_SIZE,
    LEVEL,
    Estimate,
    claims_table,
    claims_view,
    evaluate_claim,
    needs_more_seeds,
    sentences,
    verdict,
)
from bench.report.claims_figure import plot_claims
from tests.test_report import _record

SIZES = (8, 32, 128)


def _target_study(gain, noise: float = 0.001, seeds: int = 10, sets: int = 0, bayes: float | None = None):
    """A target_size study: STL, and both TL arms at STL's target R² plus ``gain(size, seed)`` and noise; with
    ``sets``, seed s trained with tuning-seed set s mod sets; with ``bayes``, every task states that Bayes risk."""
    rng = np.random.default_rng(0)
    records = []
    for size in SIZES:
        for seed in range(seeds):
            base = 0.5 + 0.01 * seed
            tuning = {"tuning": {"set": seed % sets}} if sets else {}
            if bayes is not None:
                tuning["descriptors"] = {"bayes_risk": {f"task{t}": bayes for t in range(3)}}
            records.append(_record("target_size", "stl", None, seed, {"target_size": size}, base) | tuning)
            for strategy in ("full", "linear_probe"):
                value = base + gain(size, seed) + noise * rng.standard_normal()
                records.append(_record("target_size", "tl", strategy, seed, {"target_size": size}, value) | tuning)
    return study_data("target_size", records)


def _row(table, arm="tl-full"):
    return table[(table["study"] == "target_size") & (table["arm"] == arm)].iloc[0]


def _estimate(mean: float, half: float, n: int = 10) -> Estimate:
    return Estimate(mean, mean - half, mean + half, n, 1.0, LEVEL)


@pytest.mark.parametrize(("low", "high", "change", "best", "expected"), [
    ((0.10, 0.01), (0.04, 0.01), (-0.06, 0.01), 0.10, "supported"),  # claim 4: helps, less as data grows
    ((0.06, 0.01), (0.14, 0.01), (0.08, 0.01), 0.14, "contradicted"),  # helps, more as data grows
    ((0.10, 0.01), (0.10, 0.01), (0.00, 0.005), 0.10, "no effect"),  # helps as much everywhere
    ((0.05, 0.002), (0.054, 0.001), (0.004, 0.002), 0.054, "no effect"),  # significant, practically nothing
    ((0.004, 0.002), (0.008, 0.001), (0.004, 0.002), 0.008, "premise fails"),  # within the margin everywhere
    ((-0.45, 0.05), (-0.03, 0.02), (0.42, 0.05), -0.03, "premise fails"),  # negative transfer throughout
    ((-0.45, 0.05), (-0.03, 0.02), (0.42, 0.05), 0.02, "contradicted"),  # ... unless it helps in the middle
    ((0.05, 0.2), (0.05, 0.2), (0.0, 0.2), 0.05, "underpowered"),  # the interval holds zero and the margin
])
def test_the_rule_reads_both_ends(low, high, change, best, expected):
    assert verdict(_estimate(*low), _estimate(*high), _estimate(*change), 0.01, -1, best) == expected


def test_too_few_seeds_is_underpowered():
    few = _estimate(0.5, 0.1, n=2)
    assert verdict(_estimate(0.5, 0.1), _estimate(0.1, 0.1), few, 0.01, -1, 0.5) == "underpowered"


@pytest.mark.parametrize(("gain", "noise", "expected"), [
    (lambda size, seed: 0.3 / math.log2(size), 0.001, "supported"),
    (lambda size, seed: 0.02 * math.log2(size), 0.001, "contradicted"),
    (lambda size, seed: 0.1, 0.001, "no effect"),
    (lambda size, seed: -0.4 / math.log2(size), 0.001, "premise fails"),  # the digits probe's pattern
    (lambda size, seed: 0.05, 0.1, "underpowered"),
])
def test_each_outcome_on_constructed_records(gain, noise, expected):
    row = _row(claims_table({"target_size": _target_study(gain, noise)}))
    assert row["verdict"] == expected
    assert row["change"].n == 10 and (row["low_knob"], row["high_knob"]) == (8, 128)
    if expected == "underpowered":
        assert row["seeds_needed"] > 10
        assert row["change"].low < 0 < row["change"].high and row["change"].resolves > 0.01


def test_negative_transfer_fading_is_no_contradiction():
    """Issue 23: transfer hurts at every size, less as the target grows; the old rule read the change alone and
    said the claim was contradicted. The premise (transfer helps somewhere) fails instead."""
    row = _row(claims_table({"target_size": _target_study(lambda size, seed: -0.4 / math.log2(size))}),
               "tl-linear_probe")
    assert row["change"].mean > 0 and row["verdict"] == "premise fails"
    assert row["at_low"].high < 0.01 and row["at_high"].high < 0.01


def test_the_family_is_the_designs_whichever_studies_ran():
    assert FAMILY_SIZE == 3 * sum(len(claim.arms) for claim in CLAIMS)
    assert LEVEL == pytest.approx(1 - 0.05 / FAMILY_SIZE)
    study = _target_study(lambda size, seed: 0.3 / math.log2(size), noise=0.02)
    alone = _row(claims_table({"target_size": study}))
    other = _target_study(lambda size, seed: 0.1)
    with_more = _row(claims_table({"target_size": study, "digits_shift": other, "covariate_shift": other}))
    assert (alone["change"].low, alone["change"].high) == (with_more["change"].low, with_more["change"].high)
    half = alone["change"].resolves
    assert alone["change"].high - alone["change"].low == pytest.approx(2 * half)


def test_rows_whose_tuning_sets_disagree_are_flagged():
    """Set 0's seeds see TL's gain shrink, set 1's see it flat: the row says its verdict leans on the set."""
    study = _target_study(lambda size, seed: 0.3 / math.log2(size) if seed % 2 == 0 else 0.1, sets=2)
    assert study.tuning_sets == {seed: seed % 2 for seed in range(10)}
    table = claims_table({"target_size": study})
    row = _row(table)
    assert row["sets_p"] < 0.05 and row["sets"][1] == pytest.approx(0.0, abs=0.01)
    seeds = claims_view(table).frame.set_index("arm").loc["tl-full", "seeds"]
    assert "⚠ sets differ (set 0: -0.056, set 1: +0.000)" in seeds
    agreeing = _row(claims_table({"target_size": _target_study(lambda size, seed: 0.1, sets=2)}))
    assert agreeing["sets_p"] > 0.05


def test_a_claim_without_its_study_says_not_run():
    rows = evaluate_claim(CLAIMS[3], {})
    assert [r["verdict"] for r in rows] == ["not run", "not run"]
    assert "target_size" in rows[0]["note"]


def test_excess_risk_reaches_the_table_where_the_family_states_a_bayes_risk():
    """Issue 18's evidence: each arm's and STL's excess risk over the Bayes risk at both ends, in the last column."""
    table = claims_table({"target_size": _target_study(lambda size, seed: 0.1, bayes=0.05)})
    shown = claims_view(table).frame.set_index("arm").loc["tl-full", "seeds"]
    assert "excess risk over Bayes (target, target_size 8 → 128): tl-full" in shown and ", stl " in shown
    plain = claims_table({"target_size": _target_study(lambda size, seed: 0.1)})
    assert "excess" not in claims_view(plain).frame.set_index("arm").loc["tl-full", "seeds"]


def test_a_reader_gets_seven_columns_one_line_for_rows_not_run_and_one_sentence_per_claim(tmp_path):
    table = claims_table({"target_size": _target_study(lambda size, seed: 0.3 / math.log2(size))})
    view = claims_view(table).frame
    assert len(view.columns) <= 7
    not_run = int((table["verdict"] == "not run").sum())
    (collapsed,) = view[view["verdict"] == "not run"]["prediction"]
    assert collapsed.startswith(f"{not_run} more row(s) did not run here")
    answered = table[table["verdict"] != "not run"]
    said = sentences(table)
    assert len(said) == len(answered) == 2
    assert said[0].startswith("Claim 4 on target_size (tl-full): supported — TL's target-score gain over STL shrinks")
    assert "+0.100 at target_size 8, +0.043 at 128" in said[0]
    assert needs_more_seeds(table).startswith("No claim row is underpowered")
    noisy = claims_table({"target_size": _target_study(lambda size, seed: 0.05, noise=0.1)})
    assert "underpowered" in sentences(noisy)[0] and "seeds would resolve it" in sentences(noisy)[0]
    assert needs_more_seeds(noisy).startswith("2 row(s) would need more seeds: claim 4 on target_size (tl-full): about")
    figure = plot_claims(table, tmp_path / "claims")
    assert figure.exists() and figure.suffix == ".png"
    assert plot_claims(claims_table({}), tmp_path / "none") is None
