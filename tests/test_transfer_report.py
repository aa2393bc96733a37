"""The report's negative transfer gap: error(transfer) − error(scratch), flagged where its CI is above zero."""

import pandas as pd

from bench.report.paired import negative_transfer


def test_the_gap_is_minus_the_paired_difference_and_flags_only_a_significant_loss():
    target = pd.DataFrame({"arm": ["tl-full", "tl-full", "tl-linear_probe", "mtl"], "target_size": [8, 64, 8, 8],
                           "mean": [-0.2, 0.05, -0.01, -0.3], "ci_low": [-0.3, 0.01, -0.05, -0.4],
                           "ci_high": [-0.1, 0.09, 0.02, -0.2], "n_pairs": [5, 5, 5, 5]})
    gaps = negative_transfer(target)
    assert list(gaps["arm"]) == ["tl-full", "tl-full", "tl-linear_probe"]  # transfer arms only
    assert list(gaps["gap"]) == [0.2, -0.05, 0.01]
    assert list(gaps["gap_low"]) == [0.1, -0.09, -0.02] and list(gaps["gap_high"]) == [0.3, -0.01, 0.05]
    assert list(gaps["negative"]) == [True, False, False]


def test_a_study_with_transfer_runs_flags_its_negative_transfer_and_states_the_budget_rule(tmp_path):
    from bench.report.protocol import TRANSFER_BUDGET
    from bench.report.study import build_study
    from tests.test_report import _record

    records = [_record("sizes", regime, strategy, seed, {"target_size": size}, value + 0.01 * seed)
               for seed in range(5) for size in (8, 64)
               for regime, strategy, value in (("stl", None, 0.6), ("tl", "full", 0.8 if size == 8 else 0.6),
                                               ("tl", "l2_sp", 0.4 if size == 8 else 0.6))]
    report = build_study("sizes", records, tmp_path)
    (section,) = [s for s in report.sections if s.title.startswith("Target task")]
    (table,) = [t for t in section.tables if t.name == "negative_transfer"]
    flagged = table.frame[table.frame["negative transfer"] != "no"]
    assert list(zip(flagged["arm"], flagged["target_size"], strict=True)) == [("tl-l2_sp", "8")]
    assert any("**Negative transfer**" in line and "tl-l2_sp at target_size=8" in line for line in section.text)
    assert report.protocol["transfer budget"] == TRANSFER_BUDGET
    per_run = pd.read_csv(tmp_path / "negative_transfer_runs.csv")
    assert len(per_run) == 20 and set(per_run["arm"]) == {"tl-full", "tl-l2_sp"}  # one row per transfer run
    small = per_run[(per_run["arm"] == "tl-l2_sp") & (per_run["target_size"] == 8)]
    assert list(small["gap"].round(6)) == [0.2] * 5
