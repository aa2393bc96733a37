"""Issue 22: one run-record schema, read through by the report and by resume alike.

A record that parses but has the wrong shape (9 of the audit's 15 fuzzed fields crashed the report) is
skipped with one warning naming the file and the field, counted on the report's page, and resume treats it
as missing. Records grow: extra keys pass.
"""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from bench.report.__main__ import main as report
from bench.results import is_done, load_records, write_record
from bench.results.schema import record_problem
from tests.studies import STUDY


def _records(study) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((study / STUDY).glob("*.json"))}


def _transfer_record(study) -> dict:
    return next(r for r in _records(study).values() if r["regime"] == "tl" and r["status"] == "ok")


def _no_target(record: dict) -> None:
    for task in record["tasks"]:
        task["role"] = "source"


# The audit's fuzzed fields: each a JSON value of the wrong shape where the report reads the field.
BROKEN = {
    "run_id": ("run_id", 123), "study": ("study", ["x"]), "regime": ("regime", {}), "strategy": ("strategy", 5),
    "seed": ("seed", "abc"), "status": ("status", "done"), "knobs": ("knobs", [1, 2]),
    "knob_value": ("knobs.relatedness", [0.5, 1]), "variant": ("variant", "x"), "tuning": ("tuning", "x"),
    "fit": ("fit", "x"), "config": ("config", "x"), "descriptors": ("descriptors", "x"), "timings": ("timings", "x"),
    "versions": ("versions", "x"), "tasks": ("tasks", "x"), "bare": (None, None),
}


def _broken(record: dict, case: str) -> dict:
    record = copy.deepcopy(record)
    field, value = BROKEN[case]
    if field is None:  # resume trusted {"status": "ok", "run_id": ...} alone
        return {"schema": 1, "status": "ok", "run_id": record["run_id"]}
    node, *path = field.split(".")
    if path:
        record[node][path[0]] = value
    else:
        record[node] = value
    return record


def test_every_real_record_fits_the_schema(real_study):
    found = {**_records(real_study), **{p.stem: json.loads(p.read_text())
                                        for p in (real_study / ".tuning" / STUDY / "trials").glob("*.json")}}
    assert {r["regime"] for r in found.values()} >= {"stl", "mtl", "tl", "sklearn"}
    assert {r["status"] for r in found.values()} == {"ok", "failed"}
    assert any("diagnostics" in (r.get("fit") or {}) for r in found.values())
    assert any(r.get("stage") == "tuning" for r in found.values())  # trials keep no test split
    assert all(record_problem(record) is None for record in found.values())


@pytest.mark.parametrize("case", BROKEN)
def test_a_wrong_shape_is_one_line_naming_the_field(real_study, case):
    problem = record_problem(_broken(_transfer_record(real_study), case))
    assert problem and "\n" not in problem
    field = BROKEN[case][0] or "regime"  # the bare record's first missing field
    assert problem.startswith(field), problem


def test_a_record_without_a_target_role_is_read_as_its_first_task(real_study):
    record = _transfer_record(real_study)
    _no_target(record)  # crashed the report's diagnostics (StopIteration)
    assert record_problem(record) is None


def test_records_grow_without_a_schema_change(real_study):
    record = _transfer_record(real_study)
    record["fit"]["solver"] = {"iterations": [3, 4], "converged": [True, False]}  # issue 19's counters
    record["descriptors"]["bayes_risk"] = {"task0": 0.01}  # issue 18's Bayes risk
    record["tuning"] = {"choice": "c", "arm": "tl-full", "chosen": {"trainer.lr": 0.01}, "trials": 4,
                        "per_task": {"task0": 0.01}}  # issue 23's details
    record["something_new"] = [1, "two"]
    assert record_problem(record) is None


def test_an_ok_record_needs_its_test_split_and_primary_metric(real_study):
    record = _transfer_record(real_study)
    del record["tasks"][0]["test"]
    assert record_problem(record) == "tasks[0].test is missing, expected metric values"
    assert record_problem({**record, "stage": "tuning"}) is None  # a tuning trial keeps validation only
    record = _transfer_record(real_study)
    del record["tasks"][0]["val"]["r2"]
    assert "has no 'r2'" in record_problem(record)


def test_the_report_skips_each_broken_record_with_one_line_and_counts_them(real_study, tmp_path, capsys):
    shutil.copytree(real_study, tmp_path / "e")
    source = _transfer_record(real_study)
    for case in BROKEN:
        (tmp_path / "e" / STUDY / f"broken_{case}.json").write_text(json.dumps(_broken(source, case)))
    no_target = {**copy.deepcopy(source), "run_id": "no_target"}
    _no_target(no_target)
    (tmp_path / "e" / STUDY / "no_target.json").write_text(json.dumps(no_target))
    assert report(["--experiments", str(tmp_path / "e"), "--out", str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    for case in BROKEN:
        (line,) = [line for line in lines if f"broken_{case}.json" in line]
        assert line.startswith("warning: skipping ") and (BROKEN[case][0] or "regime") in line
    assert f"{len(BROKEN)} file(s) skipped, not valid run records" in (tmp_path / "r" / "index.md").read_text()
    assert f"{len(BROKEN)} file(s) skipped" in (tmp_path / "r" / "index.html").read_text()


def test_resume_reruns_what_the_report_refuses(real_study, tmp_path, capsys):
    source = _transfer_record(real_study)
    rid = source["run_id"]
    write_record(tmp_path, source)
    assert is_done(tmp_path, rid)
    for case in BROKEN:
        (tmp_path / f"{rid}.json").write_text(json.dumps(_broken(source, case)))
        assert not is_done(tmp_path, rid)
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"warning: {tmp_path / rid}.json: ") and line.endswith("running the job again to "
                                                                                       "replace it")
        assert load_records(tmp_path) == []
        capsys.readouterr()
    (tmp_path / "other.json").write_text(json.dumps(source))  # a copy under another run's name
    assert not is_done(tmp_path, "other")
    assert "is another run's" in capsys.readouterr().err
