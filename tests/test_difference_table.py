"""The study tables' outcome and p read the same correction (issue 23): each comparison alone at 95%, with
Holm's correction over the table stated as the count of wins and losses it keeps, never as a column."""

from __future__ import annotations

import pandas as pd

from bench.report.stats import holm
from bench.report.tables import difference_table


def _summary(p: list[float], outcomes: list[str], n_pairs: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"arm": [f"arm{i}" for i in range(len(p))], "knob": range(len(p)), "mean": 0.1,
                         "ci_low": 0.05, "ci_high": 0.15, "n_pairs": n_pairs, "p": p, "p_holm": holm(p),
                         "outcome": outcomes})


def test_outcome_and_p_read_each_comparison_alone_and_the_caption_counts_what_holm_keeps():
    table = difference_table(_summary([0.002, 0.03, 0.4], ["win", "loss", "tie"]), ["knob"], 3, "t", "T", "C.")
    assert "p (Holm)" not in table.columns() and "p (Wilcoxon)" in table.columns()
    assert "Outcome and p read each comparison alone at 95%" in table.caption
    assert "keeps 1 of its 2 wins and losses" in table.caption  # 0.002 x 3 survives, 0.03 x 2 does not


def test_a_table_too_large_for_holm_to_decide_says_so():
    table = difference_table(_summary([0.002] * 30, ["win"] * 30), ["knob"], 3, "t", "T", "C.")
    assert "no outcome could survive Holm's correction" in table.caption
    few = difference_table(_summary([0.06, 0.5], ["tie", "tie"], n_pairs=4), ["knob"], 3, "t", "T", "C.")
    assert "No p-value is shown" in few.caption and "p (Wilcoxon)" not in few.columns()
