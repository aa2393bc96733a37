"""make perf's bookkeeping: what counts as a sweep's runs and its jobs' own time."""

from __future__ import annotations

import json

from bench.perf import job_training_seconds, measure_report, study_records


def test_a_sweeps_runs_and_work_count_tuning_once_and_skip_hidden_folders(tmp_path):
    def write(path, content):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))

    job = {"schema": 1, "status": "failed", "regime": "stl", "strategy": None, "knobs": {"x": 1},
           "timings": {"total_s": 2.0}}
    write(tmp_path / "study" / "a.json", {**job, "run_id": "a", "seed": 0})
    write(tmp_path / "study" / "b.json", {**job, "run_id": "b", "seed": 1})  # the same job's second member
    write(tmp_path / ".tuning" / "study" / "choice.json", {  # a valid choice (bench/results/schema.py)
        "schema": 1, "run_id": "choice", "status": "ok", "stage": "tuning-choice", "arm": "stl", "condition": {},
        "tuning": {"space": {}, "own": {}, "seeds": [1000], "objective": "target"}, "set": 0,
        "method": "whole grid", "chosen": {}, "value": -1.0, "tied": 1, "on_edge": [], "trials": [], "seconds": 3.0})
    write(tmp_path / ".tuning" / "study" / "trials" / "t.json", {"seed": 1000, "timings": {"total_s": 9.0}})
    write(tmp_path / ".pretrained" / "fits.json", [1, 2])
    assert sorted(p.name for p in study_records(tmp_path)) == ["a.json", "b.json"]
    assert job_training_seconds(tmp_path) == 5.0


def test_the_report_figure_is_skipped_without_records(tmp_path):
    (tmp_path / "experiments" / ".tuning").mkdir(parents=True)  # hidden folders hold no run records
    assert measure_report(tmp_path / "experiments", tmp_path) is None
    assert measure_report(tmp_path / "nowhere", tmp_path) is None


def test_the_sweeps_of_a_make_target_expand_its_variables_and_drop_comments(tmp_path):
    from bench.perf import recipe_sweeps

    makefile = tmp_path / "Makefile"
    makefile.write_text("ROTATE := regime=tl_full data.target=task3\nFULL := 'seed=[0,1]'\n"
                        "bench: stamp\n\t-$(PY) -m bench.run -m +study=a\n\t-$(PY) -m bench.run -m +study=a $(ROTATE)\n"
                        "\t$(PY) -m bench.report\nfull: bench\n\t$(PY) -m bench.run -m +study=b $(FULL)  # slow\n")
    assert recipe_sweeps("bench", makefile) == [["+study=a"], ["+study=a", "regime=tl_full", "data.target=task3"]]
    assert recipe_sweeps("full", makefile) == [["+study=b", "seed=[0,1]"]]
    assert len(recipe_sweeps("bench")) == 6  # the project's own make bench
