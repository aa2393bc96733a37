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
