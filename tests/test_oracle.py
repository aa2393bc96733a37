"""The oracle (bench/data/oracle.py): its learners frame the Bayes risk, and every study quotes what it computes."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.oracle import (
    FIRST_SEED,
    QUOTED,
    STUDIES,
    TARGET_ONLY,
    learner_risks,
    oracle,
    quoted_lines,
    study_design,
)

TEACHER = dict(family="teacher", label_noise=0.3)


def test_raw_ridge_is_far_from_the_bayes_risk_and_the_teachers_features_reach_it():
    draws = [learner_risks(seed, n_tasks=1, n_train=2048, **TEACHER) for seed in (FIRST_SEED, FIRST_SEED + 1)]
    assert min(d.risks["raw"] for d in draws) > 0.9  # the signal's variance is 1: no linear part
    assert np.mean([d.risks["features"] for d in draws]) == pytest.approx(0.09, rel=0.1)
    assert all(d.bayes == pytest.approx(0.09) for d in draws)


def test_pooled_directions_help_identical_tasks_and_hurt_unrelated_ones():
    def difference(rho):
        seeds = range(FIRST_SEED, FIRST_SEED + 4)
        draws = [learner_risks(seed, n_train=128, relatedness=rho, **TEACHER) for seed in seeds]
        return np.mean([d.risks["pooled"] - d.risks["separate"] for d in draws])

    assert difference(1.0) < 0 < difference(0.0)


@pytest.mark.parametrize("study", [s for s in STUDIES if s != "capacity"])
def test_each_study_quotes_an_oracle_that_spans_the_transition(study):
    """The quoted lines cover the study's swept values, and its range holds both sides or an open question."""
    data, swept = study_design(study)
    quoted = [QUOTED.match(line) for line in quoted_lines(study)]
    assert all(quoted) and len(quoted) == int(np.prod([len(v) for v in swept.values()])), quoted_lines(study)
    sides = {match["side"] for match in quoted}
    assert "open" in sides or sides >= {"pooled", "separate"}, sides


@pytest.mark.parametrize("study", ["relatedness", "covariate_shift", "target_size"])  # every task, shift, target
def test_a_studys_first_quoted_line_is_what_the_oracle_computes(study):
    """Recomputed on all its draws (seeded, so exactly): a changed generator or oracle must re-quote (three
    studies of the seven, for the suite's time; `python -m bench.data.oracle` prints every line)."""
    data, swept = study_design(study)
    first = QUOTED.match(quoted_lines(study)[0])
    condition = dict(item.split("=") for item in first["where"].split())
    values = {knob: [next(v for v in swept[knob] if str(v) == condition[knob])] for knob in swept}
    (point,) = oracle(data, values, every_task=study not in TARGET_ONLY)
    assert point.line() == quoted_lines(study)[0]


def test_the_oracle_refuses_what_it_cannot_compare_in_one_line():
    with pytest.raises(ValueError, match="the oracle compares regression risks on the teacher, "
                                         "data.kind='classification' data.family='teacher'"):
        learner_risks(FIRST_SEED, kind="classification", **TEACHER)
