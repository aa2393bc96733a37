"""The pooled-vs-separate oracle (issue 9): each synthetic study's range spans the transition theory predicts."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import make_synthetic
from bench.data.oracle import STUDIES, TARGET_ONLY, oracle, pooled_minus_separate, ridge_risk, study_design

SEEDS = 12  # fixed draws; every end lies 2.4 (covariate_shift) to 26 standard errors from zero with them


def test_ridge_at_its_chosen_strength_reaches_the_ols_closed_form():
    """Few strengths help at n = 64 rows of 20 inputs, so the risk is OLS's sigma^2 (1 + d / (n - d - 1))."""
    risks = []
    for seed in range(20):
        task = make_synthetic(seed, n_tasks=1, n_train=64, n_test=2000).tasks[0]
        risks.append(ridge_risk(task.train.x.double().numpy(), task.train.y.double().numpy(), task))
    assert np.mean(risks) == pytest.approx(0.01 * (1 + 20 / 43), rel=0.1)


def test_pooling_helps_identical_tasks_and_hurts_unrelated_ones():
    same = np.mean([pooled_minus_separate(seed, relatedness=1.0, n_train=32)[0] for seed in range(5)])
    unrelated = np.mean([pooled_minus_separate(seed, relatedness=0.0, n_train=32)[0] for seed in range(5)])
    assert same < 0 < unrelated


@pytest.mark.parametrize("study", STUDIES)
def test_each_synthetic_study_spans_the_oracles_transition(study):
    """The two ends of the swept range (corners of a map) lie on opposite sides of pooled = separate."""
    data, swept = study_design(study)
    ends = {knob: [min(values), max(values)] for knob, values in swept.items()}
    points = oracle(data, ends, every_task=study not in TARGET_ONLY, seeds=SEEDS)
    signs = {np.sign(p.difference) for p in points if abs(p.difference) > 2 * p.error}
    assert signs == {-1.0, 1.0}, [(p.condition, round(p.difference, 3), round(p.error, 3)) for p in points]


def test_a_classification_study_is_refused_in_one_line():
    with pytest.raises(ValueError, match="the oracle compares regression risks, data.kind='classification'"):
        pooled_minus_separate(0, kind="classification")
