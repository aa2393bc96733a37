"""A user's table done right before any job (issues 21 and 22): what its file shows is one line or one warning
before training, every silent misread is said, and its defaults fit a table (tuning objective, target scaling)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from bench.checks import ConfigError
from bench.data import TableError, make_table, read_table
from bench.data.layout import check_table
from bench.report.protocol import study_protocol
from bench.tuning.stage import scored_objective

ROOT = Path(__file__).resolve().parents[1]


def sites(n_sites: int = 4, rows: int = 30, seed: int = 0) -> pd.DataFrame:
    """A few sites with their own rows, a numeric target in points and a text one."""
    rng = np.random.default_rng(seed)
    n = n_sites * rows
    x = rng.normal(size=n)
    score = 50 + 3 * x + rng.normal(0, 1, n)
    return pd.DataFrame({"x": x.round(3), "colour": rng.choice(["red", "blue"], n),
                         "site": np.repeat([f"s{i}" for i in range(n_sites)], rows), "score": score.round(1),
                         "passed": np.where(score > 50, "yes", "no")})


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "sites.csv", **options) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False, **options)
    return path


def job(path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=["data=table", f"data.path={path}", *overrides])


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.fixture
def table(tmp_path) -> Path:
    return write(tmp_path, sites())


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.targets=score", "data.task_column=site", "data.metric=RMSE"], r"data.metric='RMSE' \(for '\*'\) is not a"),
    (["data.targets=score", "data.task_column=site", "data.metric=auc"], r"data.metric='auc' fits none of the tasks"),
    (["data.targets=scroe"], r"column 'scroe' \(in data.targets\) not found"),
    (["data.targets=score", "data.task_column=site", "data.target_draw=4"],
     r"data.target_draw=4 is invalid, expected an integer in \[0, 4\) \(one of the 4 tasks\)"),
    (["data.targets=score", "data.task_column=site", "data.target=s9"], r"data.target='s9' is not a task"),
    (["data.targets=score", "data.task_column=site", "regime=multitask_elasticnet"],
     r"regime=multitask_elasticnet needs tasks on the same rows .* data.task_column='site'"),
    (["data.targets=[score,passed]", "regime=multitask_elasticnet"], r"fits regression targets"),
    (["data.targets=[score,passed]", "regime=ridge_pooled"], r"pools tasks of one kind and output size, and the "
                                                            r"targets differ \(regression/1, classification/2\)"),
    (["data.targets=score", "regime=tl_full"], r"transfer needs a target and at least one source task"),
])
def test_what_the_file_shows_cannot_run_is_one_line_before_any_data_is_built(table, overrides, message, monkeypatch):
    monkeypatch.setattr("bench.data.frame.family_from_frame", lambda *a, **k: pytest.fail("built a family"))
    with pytest.raises(ConfigError, match=message) as error:
        check_table(job(table, *overrides))
    assert one_line(error).startswith(str(table))


def test_a_good_table_passes_with_no_warning_and_other_families_are_not_read(table):
    assert check_table(job(table, "data.targets=score", "data.task_column=site", "regime=mtl")) == []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        assert check_table(compose("config", overrides=["regime=multitask_elasticnet"])) == []  # synthetic


def test_a_sweep_past_the_task_count_stops_before_any_job(table, tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.run", "-m", "hydra/launcher=basic", "data=table",
                           f"data.path={table}", "data.targets=score", "data.task_column=site", "regime=tl_full",
                           "data.target_draw=range(6)", f"paths.experiments={tmp_path / 'exp'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "data.target_draw=4 is invalid" in line and "Traceback" not in done.stderr
    assert not list((tmp_path / "exp").rglob("*.json"))  # no job ran


def test_a_forgotten_task_column_is_a_warning_naming_it(table, caplog):
    warnings = check_table(job(table, "data.targets=score", "regime=mtl"))
    assert len(warnings) == 1 and "one task ('score')" in warnings[0] and "\"data.task_column='site'\"" in warnings[0]
    caplog.set_level(logging.WARNING)
    family = make_table(0, str(table), targets="score")
    assert family.descriptors["warnings"][0] == warnings[0]  # in the record, for the report's Data warnings
    assert warnings[0] in caplog.text


def test_stray_text_in_a_numeric_column_is_read_as_missing_and_named(tmp_path, caplog):
    frame = sites().astype({"x": object})
    frame.loc[7, "x"] = "abc"
    path = write(tmp_path, frame)
    with pytest.raises(ConfigError, match=r"column 'x' holds numbers but for 1 text value\(s\) 'abc' \(first in data "
                                          r"row 8\): read as missing.*data.missing=drop or impute"):
        check_table(job(path, "data.targets=score", "data.task_column=site"))
    caplog.set_level(logging.WARNING)
    family = make_table(0, str(path), targets="score", task_column="site", missing="impute", exclude=["passed"])
    assert family.input_shape == (3,)  # x, colour=blue, colour=red: not one input per value of x
    assert any("'abc'" in w for w in family.descriptors["warnings"]) and "'abc'" in caplog.text
    with pytest.raises(TableError, match=r"column 'x' has 1 missing value\(s\) \(text in a numeric column"):
        make_table(0, str(path), targets="score", task_column="site")


def test_a_text_target_of_many_values_asks_for_its_kind(tmp_path):
    frame = sites().assign(points=lambda f: (5 * f["score"]).round(0).astype(int).astype(str) + " pts")
    path = write(tmp_path, frame)
    with pytest.raises(ConfigError, match=r"target column 'points' is text with \d+ distinct values \('\d+ pts'"):
        check_table(job(path, "data.targets=points", "data.task_column=site", "data.exclude=[score,passed]"))
    with pytest.raises(TableError, match=r"Say so with 'data.kind=\{points: classification\}'"):
        make_table(0, str(path), targets="points", task_column="site", exclude=["score", "passed"])
    family = make_table(0, str(path), targets="points", exclude=["score", "passed"], kind="classification",
                        missing="drop")
    assert family.tasks[0].kind == "classification"  # said so: allowed


def test_a_folder_and_a_wrong_separator_say_what_they_are(tmp_path):
    with pytest.raises(TableError, match=r"is a folder, expected a table file") as error:
        read_table(tmp_path)
    one_line(error)
    path = write(tmp_path, sites(), sep=";")
    with pytest.raises(TableError, match=r"read with separator ',' the file has one column, 'x;colour;site;score;"
                                         r"passed'; it looks separated by ';': set \"data.sep=';'\""):
        read_table(path)
    assert list(read_table(path, sep=";").columns) == ["x", "colour", "site", "score", "passed"]


def test_tuning_scores_every_task_of_a_table_that_names_no_target(table):
    assert scored_objective(job(table, "data.targets=score", "data.task_column=site", "tuning=small")) == "every_task"
    named = job(table, "data.targets=score", "data.task_column=site", "tuning=small", "data.target=s1")
    assert scored_objective(named) == "target"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        assert scored_objective(compose("config", overrides=["tuning=small"])) == "target"  # synthetic: designed


def test_the_per_task_target_scaling_is_stated(table):
    family = make_table(0, str(table), targets="score", task_column="site")
    record = {"status": "ok", "seed": 0, "descriptors": family.descriptors, "config": {}}
    assert "standardised per task" in study_protocol([record], [])["target scaling"]
