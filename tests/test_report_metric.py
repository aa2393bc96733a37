"""The metric is a report choice (issue 21): data.metric leaves the run id, `bench.report --metric` re-reads the
same records, every difference says which way it is taken and in which units, and few seeds are said to be few."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from bench.report.__main__ import main
from bench.report.paired import chance_rate, difference_sense, differences_title, unit
from bench.results import write_record
from bench.results.records import record_path, run_id
from bench.run import _legacy, defining_config, member_config, population_members, run_job

ROOT = Path(__file__).resolve().parents[1]
GAIN = {"stl": 0.0, "mtl": 1.5, "sklearn": -0.5}  # RMSE points each arm takes off STL's


def _scores(rmse: float) -> dict:
    return {"loss": (rmse / 10) ** 2, "mse": rmse**2, "rmse": rmse, "mae": 0.8 * rmse, "r2": 1 - (rmse / 12) ** 2}


def _record(regime: str, seed: int, n_tasks: int, rng) -> dict:
    tasks = [{"task": f"site=s{t}", "role": "target" if t == 0 else "source", "kind": "regression",
              "val": _scores(10.0), "test": _scores(10.0 - GAIN[regime] + 0.3 * rng.standard_normal())}
             for t in range(n_tasks)]
    return {"run_id": f"{regime}{seed}", "study": "sites", "seed": seed, "regime": regime, "status": "ok",
            "strategy": "ridge" if regime == "sklearn" else None, "knobs": {"n_tasks": n_tasks}, "tasks": tasks,
            "descriptors": {"primary_metric": {t["task"]: "r2" for t in tasks}},
            "config": {"data": {"_target_": "bench.data.make_table", "targets": "score_pts", "task_column": "site"},
                       "trainer": {"max_steps": 1000, "eval_every": 50}, "seed": seed},
            "fit": {"steps": 0, "selected_steps": []} if regime == "sklearn" else
                   {"steps": 400, "selected_steps": [50] * (n_tasks if regime == "stl" else 1)}}


def _write_sites(root: Path, seeds: int, n_tasks: int = 12) -> None:
    rng = np.random.default_rng(0)
    for seed in range(seeds):
        for regime in GAIN:
            write_record(root / "sites", _record(regime, seed, n_tasks, rng))


def test_the_run_id_does_not_depend_on_data_metric_and_older_records_still_count(tmp_path):
    table = tmp_path / "t.csv"
    pd.DataFrame({"x": range(40), "g": ["a", "b"] * 20, "y": np.arange(40) * 1.5}).to_csv(table, index=False)

    def cfg(*overrides):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose("config", overrides=["data=table", f"data.path={table}", "data.targets=y",
                                                 "data.task_column=g", "regime=ridge", f"paths.experiments={tmp_path}",
                                                 *overrides])

    r2, rmse = cfg("data.metric=r2"), cfg("data.metric=rmse")
    assert defining_config(r2) == defining_config(rmse) and "metric" not in defining_config(r2)["data"]
    member = population_members(rmse)[0]
    old_id = run_id(member_config(_legacy(rmse, defining_config(rmse)), member))  # as records before it were named
    assert old_id != run_id(member_config(defining_config(rmse), member))
    new_path = record_path(tmp_path / "adhoc", run_id(member_config(defining_config(rmse), member)))
    assert run_job(rmse)["status"] == "ok"
    record = json.loads(new_path.read_text())
    new_path.unlink()  # the same record as older code named it (a valid record: resume reads through the schema)
    write_record(tmp_path / "adhoc", {**record, "run_id": old_id})
    assert run_job(rmse)["status"] == "skipped"  # found under its old id: nothing re-trains
    assert not new_path.exists()


def test_the_report_compares_on_the_metric_chosen_at_report_time(tmp_path):
    _write_sites(tmp_path / "exp", seeds=5)
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "r2")]) == 0
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "rmse"), "--metric", "rmse"]) == 0
    r2 = (tmp_path / "r2" / "sites" / "README.md").read_text()
    rmse = (tmp_path / "rmse" / "sites" / "README.md").read_text()
    assert "## Every task against STL (12 tasks, r2)" in r2 and "## Every task against STL (12 tasks, rmse)" in rmse
    headline = re.search(r"\*\*mtl vs STL\*\*, rmse over 12 task\(s\), lower is better: STL − mtl = (1\.\d+) "
                         r"\[.*\] `score_pts` units over 5 seed\(s\), positive favours mtl: \*\*win\*\*", rmse)
    assert headline and float(headline.group(1)) == pytest.approx(1.5, abs=0.2)
    assert re.search(r"sklearn-ridge vs STL\*\*, rmse .*: STL − sklearn-ridge = -0\.\d+ .* \*\*loss\*\*", rmse)
    tidy = pd.read_csv(tmp_path / "rmse" / "sites" / "tidy.csv")
    assert set(tidy["metric"]) >= {"r2", "rmse"} and set(tidy["primary"]) == {"rmse"}  # one set of records
    caption = (tmp_path / "rmse" / "sites" / "tables" / "paired_every_task.md").read_text()
    assert "Every task: STL − arm, positive favours the arm" in caption and "rmse in `score_pts` units" in caption


def test_a_metric_per_kind_and_bad_choices_are_one_line(tmp_path, capsys):
    _write_sites(tmp_path / "exp", seeds=2)
    assert main(["--experiments", str(tmp_path / "missing"), "--metric", "RMSE"]) == 1  # before any record is read
    assert capsys.readouterr().err.strip() == ("error: --metric 'RMSE': 'RMSE' is not a metric; classification: "
                                               "accuracy, balanced_accuracy, f1_macro, auc, log_loss; regression: "
                                               "mse, rmse, mae, r2")
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "out"), "--metric",
                 "regression=mae", "--metric", "clasification=auc"]) == 0
    assert "## Every task against STL (12 tasks, mae)" in (tmp_path / "out" / "sites" / "README.md").read_text()
    assert "warning: --metric clasification=auc reached no task" in capsys.readouterr().err
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "x"), "--metric", "site=s1=auc"]) == 1
    assert "--metric site=s1=auc: task 'site=s1' of study 'sites' is regression" in capsys.readouterr().err


def test_few_seeds_are_said_to_be_few(tmp_path):
    _write_sites(tmp_path / "exp", seeds=3)
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "out"), "--metric", "rmse"]) == 0
    readme = (tmp_path / "out" / "sites" / "README.md").read_text()
    assert "⚠ **Thin evidence: 3 seeds.**" in readme and "no Wilcoxon p can fall below 0.25" in readme
    assert re.search(r"positive favours mtl: win \(thin evidence\); per task it wins \d+, ties \d+ and loses \d+, "
                     r"where tasks with no effect at all would give about 1\.5 wins and as many losses by chance at "
                     r"3 seed", readme)
    assert "With 3 seeds the CD is wide" in readme
    outcomes = (tmp_path / "out" / "sites" / "tables" / "task_outcomes.md").read_text()
    assert "by chance" in outcomes


def test_selection_at_the_first_validation_is_a_warning_naming_the_setting(tmp_path):
    _write_sites(tmp_path / "exp", seeds=3)
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "out")]) == 0
    readme = (tmp_path / "out" / "sites" / "README.md").read_text()
    assert ("⚠ stl: 100% of 36 selected states are at the first validation (step 50)" in readme
            and "`trainer.eval_every=10`" in readme)
    assert "⚠ sklearn" not in readme  # a closed-form fit selects no step
    selection = (tmp_path / "out" / "sites" / "tables" / "selection.md").read_text()
    assert re.search(r"\| mtl +\| training +\| +3 +\| 100% +\| 0% +\|", selection)


def test_directions_units_and_chance():
    assert (difference_sense("rmse", "mtl"), difference_sense("auc", "mtl")) == ("STL − mtl", "mtl − STL")
    assert differences_title(["auc", "rmse"]) == "arm − STL (STL − arm for an error metric), positive favours the arm"
    assert unit("mse", ("total_UPDRS",)) == "squared `total_UPDRS` units" and unit("r2", ("y",)) == ""
    assert unit("rmse", ("a", "b")) == "each task's own units (`a`, `b`)"
    assert [chance_rate(n) for n in (1, 3, 4)] == [0.0, 0.125, 0.0625]
    assert 0.02 < chance_rate(10) < 0.06  # the bootstrap interval's own tail, about its nominal 2.5%


def test_a_record_keeps_the_metric_it_was_run_with_unless_the_report_chooses(tmp_path):
    _write_sites(tmp_path / "exp", seeds=2)
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "out")]) == 0
    assert json.loads(next((tmp_path / "exp" / "sites").glob("*.json")).read_text())["descriptors"][
        "primary_metric"]["site=s0"] == "r2"  # the report never rewrites a record


def test_the_decision_on_an_error_metric_names_the_best_in_the_columns_units_with_a_relative_margin(tmp_path):
    _write_sites(tmp_path / "exp", seeds=5)
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(tmp_path / "out"), "--metric", "rmse"]) == 0
    decision = (tmp_path / "out" / "sites" / "README.md").read_text().split("## Protocol")[0]
    assert re.search(r"\*\*Recommended: `mtl`\*\*: it beats STL in rmse \(mean over every task, lower is better\) by "
                     r"1\.\d+ \[.*\] `score_pts` units over 5 paired seeds", decision)
    assert re.search(r"the margin of 0\.1\d* `score_pts` units \(1% of STL's mean rmse\)", decision)
    assert re.search(r"\| mtl +\| .* \| best +\|", decision)
    assert re.search(r"\| stl +\| 10\.\d+ .*\| 1\.\d+ \[", decision)
    assert "rmse differences are in `score_pts` units" in decision


def test_an_error_metrics_margin_scales_with_its_error():
    from bench.report.aggregate import study_data
    from bench.report.decision import decide

    rng = np.random.default_rng(1)
    records = []
    for seed in range(6):  # mtl 0.05 points better than STL on an error of 10: beyond 0.01, within 1%
        for regime, gain in (("stl", 0.0), ("mtl", 0.05)):
            record = _record("stl", seed, 4, rng)
            for task in record["tasks"]:
                task["test"] = _scores(10.0 - gain + 1e-4 * rng.standard_normal())
            records.append({**record, "run_id": f"{regime}{seed}", "regime": regime,
                            "descriptors": {"primary_metric": {t["task"]: "rmse" for t in record["tasks"]}}})
    [rmse] = decide(study_data("sites", records), records)
    assert rmse.margin == pytest.approx(0.1) and rmse.recommended == "stl" and rmse.best == "mtl"
    for record in records:
        record["descriptors"]["primary_metric"] = {t["task"]: "r2" for t in record["tasks"]}
    [r2] = decide(study_data("sites", records), records)
    assert r2.margin == 0.01 and r2.units == "" and r2.margin_basis == ""
