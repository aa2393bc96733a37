"""Every task as the target in turn (issue 9), a documented sample of targets (issue 12), and a null
target_size that is one group (issue 9): in the families, then in the report."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from bench.data import FamilyError, make_digits_tasks, make_synthetic, make_table
from bench.data.rotation import choose_target, target_order
from bench.report.aggregate import study_data, target_scores, task_scores
from bench.report.paired import measured_differences
from tests.test_report import _metrics, _record


def test_a_synthetic_target_moves_the_role_and_nothing_else():
    anchor, rotated = make_synthetic(3, imbalance=4), make_synthetic(3, imbalance=4, target="task2")
    assert [t.role for t in rotated.tasks] == ["source", "source", "target", "source"]
    assert rotated.target.name == "task2" and rotated.knobs["target"] == "task2"
    for before, after in zip(anchor.tasks, rotated.tasks, strict=True):
        for split in ("train", "val", "test"):
            assert torch.equal(before.split(split).x, after.split(split).x)
            assert torch.equal(before.split(split).y, after.split(split).y)
    assert rotated.descriptors["target_train_size"] == len(rotated.tasks[2].train) == 25  # its rung of the ladder
    assert make_synthetic(3, target=2).target.name == "task2"  # an index works too


def test_target_size_goes_to_the_chosen_target_and_is_recorded_as_requested():
    family = make_synthetic(0, imbalance=4, target="task3", target_size=8)
    assert family.descriptors["train_sizes"] == [64, 40, 25, 8]
    assert family.knobs["target_size"] == 8
    assert make_synthetic(0).knobs["target_size"] is None  # null stays null; the realised size is a descriptor
    assert make_synthetic(0).descriptors["target_train_size"] == 64


def test_a_draw_takes_a_fixed_permutation_the_same_for_every_data_seed():
    names = ["b", "a", "d", "c", "e"]
    order = target_order(names)
    assert sorted(order) == sorted(names) and order == target_order(list(reversed(names)))
    assert [choose_target(names, None, i, "t") for i in range(5)] == order
    drawn = {make_digits_tasks(seed, target_draw=1).target.name for seed in (0, 1)}
    assert drawn == {target_order(["identity", "parity", "ge5", "mod3", "prime"])[1]}
    family = make_digits_tasks(0, target_draw=1)
    assert family.descriptors["target_sample"] == {"draw": 1, "seed": 0, "of": 5}


@pytest.mark.parametrize(("target", "draw", "message"), [
    ("task9", None, "data.target='task9' is not a task; tasks: task0, task1, task2, task3"),
    (None, 4, r"data.target_draw=4 is invalid, expected an integer in \[0, 4\)"),
    ("task1", 0, "data.target='task1' and data.target_draw=0 both choose the target"),
])
def test_a_bad_target_is_one_line_naming_it(target, draw, message):
    with pytest.raises(FamilyError, match=message):
        make_synthetic(0, target=target, target_draw=draw)


def test_a_table_with_one_task_per_group_rotates_by_draw(tmp_path):
    rows = [{"school": s, "x": float(i), "y": float(i % 7 + s)} for s in range(6) for i in range(30)]
    path = tmp_path / "schools.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    first = make_table(0, str(path), targets="y", task_column="school")
    drawn = make_table(0, str(path), targets="y", task_column="school", target_draw=2)
    assert drawn.target.name == target_order([t.name for t in first.tasks])[2]
    assert make_table(0, str(path), targets="y", task_column="school", target=4).target.name == "school=4"


def _rotated_records(target_size=None, targets=("task0", "task1", "task2")) -> list[dict]:
    """STL and MTL run once (target task0); TL once per target, gaining 0.1 on task1 only, and reports it."""
    records = []
    for seed in range(4):
        for regime in ("stl", "mtl"):
            record = _record("rot", regime, None, seed, {"target": "task0", "target_size": target_size}, 0.6)
            records.append(record)
        for target in targets:
            record = _record("rot", "tl", "full", seed, {"target": target, "target_size": target_size}, 0.6)
            index = int(target[-1])
            value = 0.6 - 0.005 * index + (0.1 if target == "task1" else 0.0)
            record["tasks"] = [{"task": target, "role": "target", "kind": "regression",
                                "val": _metrics(value), "test": _metrics(value)}]
            record["run_id"] += target
            records.append(record)
    return records


def test_the_report_compares_transfer_on_every_rotated_target():
    study = study_data("rot", _rotated_records())
    assert "target" not in study.knobs and study.knobs == []
    assert any("rotated over 3 tasks (task0, task1, task2;" in note for note in study.notes)
    every = measured_differences(study, "every_task")
    tl = every[every["arm"] == "tl-full"]
    assert len(tl) == 4 and (tl["n_tasks"] == 3).all()  # one row per seed, over the three targets
    assert tl["difference"].round(6).tolist() == [round(0.1 / 3, 6)] * 4
    targets = target_scores(study.tidy)
    assert set(targets["task"]) == {"mean of 3 targets"} and len(targets) == 3 * 4  # stl, mtl, tl per seed
    paired = measured_differences(study, "target")
    assert paired.loc[paired["arm"] == "tl-full", "difference"].round(6).tolist() == [round(0.1 / 3, 6)] * 4
    assert len(task_scores(study.tidy).query("arm == 'stl'")) == 3 * 4  # no run counted twice


def test_with_a_target_size_each_target_is_a_condition_of_its_own():
    study = study_data("rot", _rotated_records(target_size=8))
    assert study.knobs == ["target"] and not study.notes


def test_a_sample_of_targets_is_stated():
    records = _rotated_records(targets=("task1", "task2"))
    for record in records:
        record["descriptors"] = {"target_sample": {"draw": 0, "seed": 0, "of": 3}}
    note = study_data("rot", records).notes[0]
    assert "rotated over 2 tasks" in note and "a fixed permutation of the 3 tasks, seeded by 0" in note


def test_a_null_target_size_is_one_group_at_its_median_realised_size():
    records = []
    for seed, realised in enumerate((223, 240, 245)):
        for regime, size in (("stl", None), ("tl", None), ("stl", 30), ("tl", 30)):
            record = _record("shift", regime, "full" if regime == "tl" else None, seed, {"target_size": size}, 0.7)
            record["run_id"] += str(size)
            record["descriptors"] = {"target_train_size": realised if size is None else size}
            records.append(record)
    study = study_data("shift", records)
    assert study.knobs == ["target_size"]
    assert sorted(study.runs["target_size"].unique()) == [30, 240]
    assert study.runs.groupby("target_size")["seed"].nunique().tolist() == [3, 3]  # not one group per seed
    assert any("shown as 240" in note and "223–245" in note for note in study.notes)
    alone = study_data("shift", [r for r in records if r["knobs"]["target_size"] is None])
    assert alone.knobs == [] and not alone.notes  # null everywhere: not swept, one group as it is
