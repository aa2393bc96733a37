"""The table adapter (data=table): encoding fitted on train rows, task layouts, policies, named errors."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.data import FamilyError, TableError, make_bundled_table, make_table, read_table
from bench.data.encoding import FeatureEncoder
from bench.regimes import MultiTask, SingleTask, Transfer
from bench.regimes.training import Training
from bench.run import run_job
from tests.conftest import run_alone

ROOT = Path(__file__).resolve().parents[1]


def school_table(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Three schools, two numeric features, one categorical; a regression and a classification target."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(10, 3, n), rng.normal(-5, 0.5, n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = 2 * x1 - 4 * x2 + (colour == "red") + rng.normal(0, 1, n)
    return pd.DataFrame({
        "x1": x1, "x2": x2, "colour": colour, "school": np.repeat(["A", "B", "C"], n // 3),
        "score": score, "passed": np.where(score > np.median(score), "yes", "no"),
    })


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "schools.csv"
    school_table().to_csv(path, index=False)
    return path


def test_one_task_per_target_column_on_shared_rows(csv):
    family = make_table(0, str(csv), targets=["score", "passed"], exclude=["school"])
    score, passed = family.tasks
    assert (score.name, score.kind, score.role) == ("score", "regression", "target")
    assert (passed.name, passed.kind, passed.n_outputs, passed.role) == ("passed", "classification", 2, "source")
    assert torch.equal(score.test.x, passed.test.x)
    assert score.input_shape == (5,)  # x1, x2, then colour one-hot (blue, green, red)
    assert (len(score.train), len(score.val), len(score.test)) == (90, 30, 30)
    train = score.train.x
    torch.testing.assert_close(train[:, :2].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(train[:, :2].std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    assert torch.equal(train[:, 2:].sum(1), torch.ones(len(train)))
    assert abs(float(score.train.y.mean())) < 1e-5  # regression targets standardised on train
    assert family.knobs == {"n_tasks": 2, "target": "score", "target_size": None}  # as requested
    assert family.descriptors["target_train_size"] == 90  # as realised


def test_encoder_statistics_come_from_training_rows_only():
    train = pd.DataFrame({"a": [1.0, 3.0], "c": ["x", "y"]})
    other = pd.DataFrame({"a": [5.0, np.nan], "c": ["z", "y"]})
    encoder = FeatureEncoder(["a"], ["c"]).fit(train)
    assert encoder.names == ["a", "c=x", "c=y"]
    np.testing.assert_allclose(encoder.transform(other, "test"), [[3.0, 0, 0], [0.0, 0, 1]])  # NaN -> median


def test_one_task_per_value_of_the_task_column(csv):
    family = make_table(0, str(csv), targets="passed", task_column="school", exclude=["score"], target="B",
                        target_size=12)
    assert [t.name for t in family.tasks] == ["school=B", "school=A", "school=C"]
    assert [t.role for t in family.tasks] == ["target", "source", "source"]
    assert [len(t.train) + len(t.val) + len(t.test) for t in family.tasks[1:]] == [50, 50]
    assert len(family.target.train) == 12 and torch.bincount(family.target.train.y).min() >= 5  # stratified
    assert family.input_shape == (5,)  # school is the task, not a feature


def test_parquet_reads_as_the_csv(csv, tmp_path):
    parquet = tmp_path / "schools.parquet"
    school_table().to_parquet(parquet)
    a = make_table(1, str(csv), targets="score", task_column="school")
    b = make_table(1, str(parquet), targets="score", task_column="school")
    for s, t in zip(a.tasks, b.tasks, strict=True):
        assert torch.equal(s.train.x, t.train.x) and torch.equal(s.test.y, t.test.y)


def test_kind_is_inferred_and_can_be_overridden(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=90), "grade": rng.integers(1, 4, 90), "age": rng.integers(20, 80, 90)})
    path = tmp_path / "kinds.csv"
    frame.to_csv(path, index=False)
    inferred = make_table(0, str(path), targets=["grade", "age"])
    assert [t.kind for t in inferred.tasks] == ["classification", "regression"]
    assert inferred.tasks[0].n_outputs == 3
    overridden = make_table(0, str(path), targets=["grade", "age"], kind={"grade": "regression"})
    assert [t.kind for t in overridden.tasks] == ["regression", "regression"]


def test_missing_value_policies_count_what_they_do(tmp_path, caplog):
    frame = school_table()
    frame.loc[[3, 50, 51], "x1"] = np.nan
    frame.loc[100:119, "colour"] = np.nan
    frame.loc[[9, 10], "score"] = np.nan
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(TableError, match=rf"{path}: column 'x1' has 3 missing value\(s\); choose data.missing"):
        make_table(0, str(path), targets="score", exclude=["passed", "school"])
    caplog.set_level(logging.INFO)
    dropped = make_table(0, str(path), targets="score", exclude=["passed", "school"], missing="drop")
    assert sum(len(s) for s in (dropped.target.train, dropped.target.val, dropped.target.test)) == 150 - 23 - 2
    assert "dropped 23 row(s) with missing features" in caplog.text
    assert "dropped 2 row(s) with a missing target 'score'" in caplog.text
    imputed = make_table(0, str(path), targets="score", exclude=["passed", "school"], missing="impute")
    assert sum(len(s) for s in (imputed.target.train, imputed.target.val, imputed.target.test)) == 150 - 2
    assert imputed.input_shape == (6,)  # colour gains a "(missing)" category
    assert "imputed 3 missing value(s) of column 'x1'" in caplog.text


def test_headerless_file_with_missing_markers(tmp_path):
    lines = [f"{i % 7}, {'?' if i % 5 == 4 else ['a', 'b'][i % 2]}, {'>50K' if i % 3 else '<=50K'}" for i in range(40)]
    path = tmp_path / "adult_like.data"
    path.write_text("\n".join(lines) + "\n")
    frame = read_table(path, column_names=["age", "work", "income"], na_values=["?"])
    assert frame["work"].isna().sum() == 8 and set(frame["income"]) == {">50K", "<=50K"}
    family = make_table(0, str(path), targets="income", missing="impute", column_names=["age", "work", "income"],
                        na_values=["?"])
    assert family.target.kind == "classification" and family.input_shape == (4,)  # age, a, b, (missing)


def _bad(tmp_path, frame: pd.DataFrame | str, **config) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(frame) if isinstance(frame, str) else frame.to_csv(path, index=False)
    with pytest.raises(FamilyError) as error:  # TableError, or FamilyError from the shared split helper
        make_table(0, str(path), **config)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_tables_fail_with_one_line_naming_file_and_column(tmp_path):
    table = school_table()
    with pytest.raises(TableError, match=r"table file not found: .*nowhere.csv"):
        make_table(0, str(tmp_path / "nowhere.csv"), targets="score")
    assert "column 'scor' (in data.targets) not found" in _bad(tmp_path, table, targets="scor")
    assert "column 'x1' appears more than once" in _bad(tmp_path, "x1,x1,y\n1,2,3\n", targets="y")
    assert "column 'x1' is listed twice in data.features" in _bad(tmp_path, table, targets="score",
                                                                  features=["x1", "x1"])
    assert "column 'passed' is both a feature and a target" in _bad(tmp_path, table, targets="passed",
                                                                    features=["x1", "passed"])
    assert "target column 'passed' is not numeric (value 'yes')" in _bad(tmp_path, table, targets="passed",
                                                                       kind="regression")
    assert "task 'school=A': 3 rows are too few" in _bad(tmp_path, table.iloc[[0, 1, 2, 60, 61, 62, 63, 64]],
                                                         targets="score", task_column="school")
    assert "column 'x2' is entirely missing" in _bad(tmp_path, table.assign(x2=np.nan), targets="score")
    assert "target column 'passed' has a single class 'no'" in _bad(tmp_path, table.assign(passed="no"),
                                                                     targets="passed")
    single = table.assign(passed=np.where(table["school"] == "C", "yes", table["passed"]))
    assert "task 'school=C' has a single class 'yes'" in _bad(tmp_path, single, targets="passed",
                                                              task_column="school")
    assert "data.target='D' is not a task" in _bad(tmp_path, table, targets="score", task_column="school",
                                                   target="D")


def test_same_seed_same_family(csv):
    a, b = (make_table(4, str(csv), targets="passed", task_column="school") for _ in range(2))
    c = make_table(5, str(csv), targets="passed", task_column="school")
    assert all(torch.equal(s.train.x, t.train.x) for s, t in zip(a.tasks, b.tasks, strict=True))
    assert not torch.equal(a.target.test.y, c.target.test.y) or not torch.equal(a.target.test.x, c.target.test.x)


def test_bundled_diabetes_by_sex():
    family = make_bundled_table(0, "diabetes", {"scaled": False}, targets="target", task_column="sex", target=2)
    assert [t.name for t in family.tasks] == ["sex=2", "sex=1"]
    assert sum(len(t.train) + len(t.val) + len(t.test) for t in family.tasks) == 442
    assert family.input_shape == (9,) and family.target.kind == "regression"
    with pytest.raises(TableError, match="data.dataset='california_housing' is invalid"):
        make_bundled_table(0, "california_housing", targets="target")


TINY_TRAINING = Training(max_steps=50, eval_every=25, patience=2, batch_size=16)


@pytest.mark.parametrize("regime", [SingleTask(), MultiTask(), Transfer("full"), Transfer("linear_probe"),
                                    Transfer("full", "multi_task")], ids=lambda r: f"{r.name}-{r.strategy}")
def test_every_regime_runs_on_a_table(regime, csv, small_backbone):
    family = make_table(0, str(csv), targets="passed", task_column="school")
    results, _ = run_alone(regime, family, small_backbone, TINY_TRAINING, seed=0)
    assert results[0]["task"] == "school=A" and results[0]["role"] == "target"
    assert all(math.isfinite(v) for r in results for v in r["test"].values())


@pytest.mark.parametrize("name", ["table", "diabetes"])
def test_data_configs_build_their_family(name, csv):
    overrides = [f"data={name}"]
    if name == "table":
        overrides += [f"data.path={csv}", "data.targets=[score,passed]", "data.exclude=[school]"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    family = instantiate(cfg.data, seed=0)
    assert len(family.tasks) == 2


def test_a_job_on_a_table_records_its_result_or_a_one_line_error(csv, tmp_path):
    def job(*overrides):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=["data=table", f"paths.experiments={tmp_path}", "trainer.max_steps=40",
                                               "trainer.eval_every=20", f"data.path={csv}", *overrides])
        return run_job(cfg)

    summary = job("data.targets=passed", "data.task_column=school", "regime=mtl")
    assert summary["status"] == "ok"
    record = json.loads((tmp_path / "adhoc" / f"{summary['run_id']}.json").read_text())
    assert record["status"] == "ok" and record["knobs"]["n_tasks"] == 3
    assert [t["task"] for t in record["tasks"]] == ["school=A", "school=B", "school=C"]
    failed = job("data.targets=pased")
    assert failed["status"] == "failed" and "\n" not in failed["error"]
    assert failed["error"].startswith(f"TableError: {csv}: column 'pased' (in data.targets) not found")


ADULT_COLUMNS = ["age", "work", "marital", "income"]


def _adult_like(tmp_path, n_train: int = 200, n_test: int = 80) -> tuple[Path, Path]:
    """Like UCI Adult: no header, ', ' separators, '?' for missing; the test file has a junk first line and
    labels that end in a period."""
    rng = np.random.default_rng(0)

    def lines(n, period):
        age = rng.integers(18, 80, n)
        marital = rng.choice(["Never-married", "Married-civ-spouse", "Divorced"], n)
        income = np.where(age + rng.normal(0, 10, n) > 45, ">50K", "<=50K")
        work = rng.choice(["Private", "?", "State-gov"], n)
        return [f"{a}, {w}, {m}, {i}{period}" for a, w, m, i in zip(age, work, marital, income, strict=True)]

    train, test = tmp_path / "adult.data", tmp_path / "adult.test"
    train.write_text("\n".join(lines(n_train, "")) + "\n")
    test.write_text("|1x3 Cross validator\n" + "\n".join(lines(n_test, ".")) + "\n")
    return train, test


def test_a_given_test_file_with_a_junk_line_and_trailing_periods(tmp_path):
    train, test = _adult_like(tmp_path)
    options = dict(column_names=ADULT_COLUMNS, na_values=["?"], missing="impute", targets=["income", "marital"])
    with pytest.raises(TableError, match=r"adult.test: its first line read has 1 field\(s\).*data.skip_rows"):
        make_table(0, str(train), test_path=str(test), **options)
    family = make_table(0, str(train), test_path=str(test), skip_rows={"test_path": 1}, strip=".",
                        positive={"marital": "Never-married"}, **options)
    income, marital = family.tasks
    assert len(income.test) == 80 and len(income.train) + len(income.val) == 200  # val drawn from the train file
    assert len(income.val) == 40 and income.n_outputs == 2  # '>50K.' became '>50K': still two classes
    assert (marital.kind, marital.n_outputs) == ("classification", 2)
    rows = pd.read_csv(test, skiprows=1, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    assert int(marital.test.y.sum()) == int((rows["marital"] == "Never-married").sum())  # class 1 = the named one
    same = make_table(0, str(train), test_path=str(test), comment="|", strip=".", **options)
    assert torch.equal(same.tasks[0].test.y, income.test.y)  # a comment character does the same here


def test_given_val_file_and_per_task_test_rows(tmp_path):
    table = school_table(180)
    parts = {"train": table.iloc[:120], "val": table.iloc[120:150], "test": table.iloc[150:]}
    paths = {}
    for name, part in parts.items():
        paths[name] = tmp_path / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    family = make_table(0, str(paths["train"]), val_path=str(paths["val"]), test_path=str(paths["test"]),
                        targets="score", exclude=["passed", "school"])
    assert (len(family.target.train), len(family.target.val), len(family.target.test)) == (120, 30, 30)
    parts["test"].drop(columns="colour").to_csv(paths["test"], index=False)
    with pytest.raises(TableError, match=r"test.csv: data.test_path must have the columns of .*missing \['colour'\]"):
        make_table(0, str(paths["train"]), test_path=str(paths["test"]), targets="score")


def test_primary_metric_per_kind_column_or_task(csv):
    family = make_table(0, str(csv), targets=["score", "passed"], exclude=["school"], metric="auc")
    assert [t.primary_metric for t in family.tasks] == ["r2", "auc"]
    assert family.descriptors["primary_metric"] == {"score": "r2", "passed": "auc"}
    family = make_table(0, str(csv), targets=["score", "passed"], exclude=["school"],
                        metric={"regression": "rmse", "passed": "f1_macro"})
    assert [t.metric for t in family.tasks] == ["rmse", "f1_macro"]
    by_task = make_table(0, str(csv), targets="score", task_column="school", metric={"school=B": "mae"})
    assert [t.primary_metric for t in by_task.tasks] == ["r2", "mae", "r2"]
    assert "data.metric='rmse' fits none of the tasks" in _bad(csv.parent, school_table(), targets="passed",
                                                              metric="rmse")
    assert "data.metric='auc' (for 'score') does not fit task 'score'" in _bad(csv.parent, school_table(),
                                                                               targets="score", metric={"score": "auc"})
    assert "data.metric names 'grade'" in _bad(csv.parent, school_table(), targets="score", metric={"grade": "mae"})
    assert "data.metric='precision' (for '*') is not a metric" in _bad(csv.parent, school_table(), targets="score",
                                                                       metric="precision")


def test_balanced_class_weights_and_original_target_scale(csv):
    family = make_table(0, str(csv), targets=["score", "passed"], exclude=["school"], class_weight="balanced")
    score, passed = family.tasks
    counts = torch.bincount(passed.train.y).float()
    torch.testing.assert_close(passed.class_weights, len(passed.train.y) / (2 * counts))
    assert score.class_weights is None and score.target_std[0] > 1  # the score's own units, not standardised
    assert make_table(0, str(csv), targets="passed").target.class_weights is None
    assert "data.class_weight='equal' is invalid" in _bad(csv.parent, school_table(), targets="passed",
                                                          class_weight="equal")


def test_table_edge_cases_name_the_file_and_the_column(tmp_path, caplog):
    assert "bad.csv: the file (data.path) has no rows" in _bad(tmp_path, "hours,passed\n", targets="passed")
    table = school_table()
    table.loc[7, "x2"] = np.inf
    message = _bad(tmp_path, table, targets="score")
    assert "column 'x2' has 1 infinite value(s) (first in data row 8)" in message
    table = school_table()
    table.loc[3, "score"] = -np.inf
    assert "column 'score' has 1 infinite value(s)" in _bad(tmp_path, table, targets="score")


def test_a_class_never_seen_in_training_is_a_warning(tmp_path, caplog):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame = school_table()
    frame.to_csv(train, index=False)
    frame.iloc[:10].assign(passed="maybe").to_csv(test, index=False)
    caplog.set_level(logging.WARNING)
    family = make_table(0, str(train), test_path=str(test), targets="passed", exclude=["score"])
    one_task, warning = family.descriptors["warnings"]  # one task: bench/data/misreads.py says so first
    assert "one task ('passed')" in one_task
    assert warning.startswith(f"{train} + {test}: task 'passed', target column 'passed': class(es) never seen in "
                              "training appear in test: ['maybe'] (10 rows)")
    assert warning in caplog.text and "\n" not in warning
