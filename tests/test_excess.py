"""Excess risk over the Bayes risk and the strength check (bench/report/excess.py), on hand-made tidy data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.report.excess import bayes_frame, claim_evidence, excess_summary, strength_warnings, task_risks

REGIMES = {"stl": "stl", "mtl": "mtl", "tl-full": "tl", "sklearn-ridge": "sklearn", "sklearn-ridge_pooled": "sklearn"}
BAYES = 0.1


def tidy(risks: dict[str, dict[int, float]], kind: str = "regression", seeds: int = 6) -> pd.DataFrame:
    """Two tasks (task0 the target) per run; ``risks[arm][knob value]`` is each task's mean test risk."""
    rows = []
    for arm, by_knob in risks.items():
        for knob, risk in by_knob.items():
            for seed in range(seeds):
                run = f"{arm}-{knob}-{seed}"
                for task, role in (("task0", "target"), ("task1", "source")):
                    if arm == "tl-full" and role == "source":
                        continue  # TL reports its target only
                    value = risk + 0.01 * ((seed % 3) - 1)
                    metric, shown = ("mse", value) if kind == "regression" else ("accuracy", 1 - value)
                    rows.append({"run_id": run, "arm": arm, "regime": REGIMES[arm], "seed": seed, "n_train": knob,
                                 "task": task, "role": role, "kind": kind, "split": "test", "metric": metric,
                                 "value": shown, "higher_is_better": metric == "accuracy", "primary": metric})
    return pd.DataFrame(rows)


def bayes(frame: pd.DataFrame) -> pd.DataFrame:
    records = [{"run_id": run, "status": "ok", "descriptors": {"bayes_risk": {"task0": BAYES, "task1": BAYES},
                                                               "bayes_risk_se": {"task0": 0.0, "task1": 0.0}}}
               for run in frame["run_id"].unique()]
    return bayes_frame(records)


STRONG = {"stl": {64: 0.5, 256: 0.2}, "mtl": {64: 0.4, 256: 0.25}, "tl-full": {64: 0.3, 256: 0.2},
          "sklearn-ridge": {64: 1.0, 256: 1.0}, "sklearn-ridge_pooled": {64: 0.9, 256: 0.95}}


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_excess_risk_and_gap_closed_read_against_the_bayes_risk_and_the_best_anchor(kind):
    frame = tidy(STRONG, kind)
    summary = excess_summary(task_risks(frame, bayes(frame)), ["n_train"], "every_task").set_index(["arm", "n_train"])
    assert summary.loc[("stl", 256), "excess"] == pytest.approx(0.1)
    assert summary.loc[("stl", 256), "anchor"] == "sklearn-ridge_pooled"
    assert summary.loc[("stl", 256), "gap_closed"] == pytest.approx((0.95 - 0.2) / (0.95 - BAYES))
    assert summary.loc[("sklearn-ridge_pooled", 64), "gap_closed"] == pytest.approx(0.0)
    assert summary.loc[("stl", 64), "ci_low"] < 0.4 < summary.loc[("stl", 64), "ci_high"]


def test_a_strong_study_passes_the_strength_check():
    frame = tidy(STRONG)
    assert strength_warnings(task_risks(frame, bayes(frame)), ["n_train"]) == []


def test_stl_weaker_than_a_linear_anchor_at_the_largest_size_is_flagged():
    weak = {**STRONG, "stl": {64: 0.5, 256: 0.97}}
    frame = tidy(weak)
    (warning,) = strength_warnings(task_risks(frame, bayes(frame)), ["n_train"])
    assert warning.startswith("⚠ Strength check: tuned STL's excess risk at the largest size (n_train=256")


def test_no_neural_arm_beating_ridge_says_the_study_measures_the_wrong_tool():
    linear = {arm: {64: 1.0, 256: 0.9} if arm != "sklearn-ridge" else {64: 0.2, 256: 0.15} for arm in STRONG}
    frame = tidy(linear)
    warnings = strength_warnings(task_risks(frame, None), ["n_train"])  # no Bayes risk: the check still runs
    assert any("measures the wrong tool" in w for w in warnings)
    assert any("test risk at the largest size" in w for w in warnings)


def test_claim_evidence_gives_both_ends_or_nothing_without_a_bayes_risk():
    frame = tidy(STRONG)
    line = claim_evidence(task_risks(frame, bayes(frame)), ["n_train"], "n_train", "tl-full", "target")
    assert line.startswith("excess risk over Bayes (target, n_train 64 → 256): tl-full 0.200 → 0.100, stl 0.400")
    assert claim_evidence(task_risks(frame, None), ["n_train"], "n_train", "tl-full", "target") == ""
    assert np.isnan(task_risks(frame, None)["bayes"]).all()
