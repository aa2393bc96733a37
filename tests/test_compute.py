"""Both compute views (issue 9): transfer's pretraining counted free, and counted in (equal total compute)."""

from __future__ import annotations

import pytest

from bench.report.aggregate import study_data
from bench.report.compute import compute_table, compute_view
from tests.test_report import _record


def _records(stl_steps: int, with_transfer: bool = True) -> list[dict]:
    records = []
    for seed in range(3):
        stl = _record("c", "stl", None, seed, {"relatedness": 0.5}, 0.6)
        stl.update(fit={"steps": stl_steps, "stage_seconds": 0.9, "population_size": 3},
                   timings={"train_s": 1.0, "population_size": 3})
        records.append(stl)
        if with_transfer:
            tl = _record("c", "tl", "full", seed, {"relatedness": 0.5}, 0.7)
            tl.update(fit={"pretrain": {"steps": 200, "stage_seconds": 0.6, "population_size": 3},
                           "adapt": {"steps": 100, "stage_seconds": 0.3, "population_size": 3}},
                      timings={"train_s": 1.0, "population_size": 3}, tuning={"choice": "c", "trials": 7})
            records.append(tl)
    return records


def test_the_table_counts_the_target_side_and_the_total():
    records = _records(stl_steps=120)
    table = compute_table(study_data("c", records), records).set_index("arm")
    assert table.loc["tl-full", ["steps_target", "steps_total"]].tolist() == [100, 300]
    assert table.loc["tl-full", "seconds_total"] == pytest.approx(0.3)  # 0.9 s shared by 3 members
    assert table.loc["stl", ["steps_target", "steps_total", "at_cap"]].tolist() == [120, 120, 0]
    assert table["tuning_trials"].to_dict() == {"stl": 0, "tl-full": 7}  # untuned here; tl-full's own knob on top


@pytest.mark.parametrize(("stl_steps", "ratio", "expected"), [
    (120, "2.5x", "under equal total compute the comparisons above stand as they are"),
    (200, "1.5x", "100% of STL runs ended at their step cap"),
])
def test_the_views_agree_only_where_stl_stopped_before_its_cap(stl_steps, ratio, expected):
    records = _records(stl_steps)
    text, _ = compute_view(study_data("c", records), records)
    assert f"Transfer spent {ratio} STL's steps in total" in text[1]
    assert expected in text[1]


def test_without_pretraining_the_views_are_the_same():
    records = _records(200, with_transfer=False)
    text, _ = compute_view(study_data("c", records), records)
    assert text[1] == "No arm pretrained here: the two views are the same."
