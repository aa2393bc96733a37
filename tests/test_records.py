import json

import pytest

from bench.results import is_done, load_records, read_record, record_path, run_id, tidy, write_record


def _record(rid="abc", status="ok"):
    return {
        "run_id": rid, "study": "s", "regime": "stl", "strategy": None, "seed": 0, "status": status,
        "knobs": {"relatedness": 0.5},
        "tasks": [{"task": "task0", "role": "target", "kind": "regression",
                   "val": {"loss": 1.0, "mse": 1.0, "r2": 0.1}, "test": {"loss": 2.0, "mse": 2.0, "r2": 0.2}}],
    }


def test_run_id_is_stable_and_order_free():
    a = run_id({"data": {"x": 1, "y": 2}, "seed": 0})
    assert a == run_id({"seed": 0, "data": {"y": 2, "x": 1}})
    assert a != run_id({"data": {"x": 1, "y": 2}, "seed": 1})
    assert len(a) == 16


def test_write_is_atomic_and_done_only_when_ok(tmp_path):
    write_record(tmp_path, _record(status="failed"))
    assert not is_done(tmp_path, "abc")
    write_record(tmp_path, _record())
    assert is_done(tmp_path, "abc")
    assert [p.name for p in tmp_path.iterdir()] == ["abc.json"]  # no temp file left behind
    assert read_record(record_path(tmp_path, "abc"))["schema"] == 1
    assert read_record(tmp_path / "missing.json") is None


def test_write_rejects_unknown_status(tmp_path):
    with pytest.raises(ValueError, match="status"):
        write_record(tmp_path, _record(status="maybe"))


def test_tidy_has_one_row_per_run_task_split_metric(tmp_path):
    write_record(tmp_path, _record("a"))
    write_record(tmp_path, _record("b", status="failed"))
    (tmp_path / "broken.json").write_text("{not json")
    records = load_records(tmp_path)
    assert sorted(r["run_id"] for r in records) == ["a", "b"]
    frame = tidy(records)
    assert len(frame) == 6  # one ok run x 1 task x 2 splits x 3 metrics
    assert set(frame["metric"]) == {"loss", "mse", "r2"}
    assert frame.loc[frame["metric"] == "r2", "higher_is_better"].all()
    assert not frame.loc[frame["metric"] == "mse", "higher_is_better"].any()
    assert frame["relatedness"].eq(0.5).all()
    assert json.loads((tmp_path / "a.json").read_text())["status"] == "ok"
