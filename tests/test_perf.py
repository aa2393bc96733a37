"""make perf's bookkeeping: what counts as a sweep's runs and its jobs' own time."""

from __future__ import annotations

import json

from bench.perf import job_training_seconds, measure_report, study_records


def test_a_sweeps_runs_and_work_count_tuning_once_and_skip_hidden_folders(tmp_path):
    def write(path, content):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))

    job = {"regime": "stl", "strategy": None, "knobs": {"x": 1}, "timings": {"total_s": 2.0}}
    write(tmp_path / "study" / "a.json", {**job, "seed": 0})
    write(tmp_path / "study" / "b.json", {**job, "seed": 1})  # the same job's second member
    write(tmp_path / ".tuning" / "study" / "choice.json", {"stage": "tuning-choice", "seconds": 3.0})
    write(tmp_path / ".tuning" / "study" / "trials" / "t.json", {"seed": 1000, "timings": {"total_s": 9.0}})
    write(tmp_path / ".pretrained" / "fits.json", [1, 2])
    assert sorted(p.name for p in study_records(tmp_path)) == ["a.json", "b.json"]
    assert job_training_seconds(tmp_path) == 5.0


def test_the_report_figure_is_skipped_without_records(tmp_path):
    (tmp_path / "experiments" / ".tuning").mkdir(parents=True)  # hidden folders hold no run records
    assert measure_report(tmp_path / "experiments", tmp_path) is None
    assert measure_report(tmp_path / "nowhere", tmp_path) is None
