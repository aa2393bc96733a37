"""A task family from a pandas table: the adapter behind ``data=table``, ``data=openml`` and bundled tables.

Two ways to make tasks from one table:

- ``targets=[a, b, ...]``: one task per target column, all on the same rows (several labels per row);
- ``targets=[y]`` with ``task_column=g``: one task per value of ``g`` (one per school, patient, ...),
  each on its own rows.

Feature statistics (standardisation, one-hot categories, imputation medians) are fitted on the training
rows of every task together, so all tasks share one input space. Regression targets are standardised
per task on its training rows (R^2 does not change). Every row that is left out is counted in the log.
Bad tables stop with a one-line :class:`TableError` that names the source and the column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from bench.data.encoding import FeatureEncoder, is_numeric
from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.misreads import one_task_warning, read_stray_text_as_missing, text_target_problem
from bench.data.rotation import choose_target, sample_note
from bench.data.scoring import Scoring, unseen_classes
from bench.data.splits import given_rows, split_rows, stratified_subset

log = logging.getLogger(__name__)
KINDS = ("classification", "regression")
MISSING_POLICIES = ("error", "drop", "impute")
MAX_INFERRED_CLASSES = 10  # an integer target with at most this many values is inferred to be classification
WIDE_CATEGORICAL = 50  # a categorical feature with more categories than this is worth a warning (an identifier?)
_SPLIT, _SUBSET = 11, 12  # random stream ids
_GIVEN = "\x00split"  # where a given split travels with the rows (no file can have this column name)


class TableError(FamilyError):
    """A table cannot make a task family; the message names the source and the column."""


@dataclass(frozen=True)
class _Target:
    """One target column, encoded: class codes (or floats), NaN where missing."""

    column: str
    kind: str
    values: np.ndarray
    classes: list


def family_from_frame(
    frame: pd.DataFrame,
    source: str,
    seed: int,
    targets: str | Sequence[str],
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    task_column: str | None = None,
    categorical: Sequence[str] = (),
    kind: str | Mapping[str, str] = "auto",
    missing: str = "error",
    target: str | None = None,
    target_size: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    metric: str | Mapping[str, str] | None = None,
    class_weight: str | None = None,
    positive: Mapping[str, object] | None = None,
    given_split: Sequence[str] | None = None,
    name: str = "table",
    target_draw: int | None = None,
) -> TaskFamily:
    """Tasks from ``frame`` (see the module docstring); ``source`` names it in messages (e.g. the file).

    ``metric``, ``class_weight``: how tasks are scored and weighted (bench/data/scoring.py). ``positive``
    maps a target column to the class (or list of classes) that becomes class 1 of a binary task, every
    other value class 0. ``given_split`` holds ``train``, ``val`` or ``test`` per row, for splits that come
    with the data (data.test_path, data.val_path); validation rows are drawn from training rows if none.
    ``target`` or ``target_draw`` chooses the transfer target (bench/data/rotation.py).
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    features = check_columns(frame, source, targets, features, list(exclude), task_column, list(categorical))
    if missing not in MISSING_POLICIES:
        raise TableError(f"{source}: data.missing={missing!r} is invalid, expected one of {MISSING_POLICIES}")
    if target_size is not None and target_size < 2:
        raise TableError(f"{source}: data.target_size={target_size!r} is invalid, expected null or an integer >= 2")
    if frame.empty:
        raise TableError(f"{source}: the table has no rows (a header only?)")
    used = features + targets + ([task_column] if task_column else [])
    frame = frame[used].reset_index(drop=True)
    kinds = target_kinds(kind, targets, source)
    numeric_like = [c for c in features if c not in categorical] + [
        t for t in targets if kinds[t] != "classification" and t not in (positive or {})]
    frame, stray = read_stray_text_as_missing(frame, numeric_like, source)
    for warning in stray.values():
        log.warning(warning)
    if given_split is not None:
        frame[_GIVEN] = np.asarray(given_split)
    for column in used:
        if frame[column].isna().all():
            raise TableError(f"{source}: column {column!r} is entirely missing")
    _check_finite(frame, used, source)
    dropped: dict[str, int] = {}
    frame = _handle_missing(frame, source, features, targets, task_column, missing, dropped, set(stray))
    given = frame.pop(_GIVEN).to_numpy() if given_split is not None else None

    for column, classes in dict(positive or {}).items():
        frame[column] = _binarise(frame[column], classes, source, targets)
        kinds[column] = "classification"
    encoded = {t: _encode_target(frame[t], source, kinds[t]) for t in targets}
    groups = _task_rows(frame, source, targets, task_column, encoded)
    plans = _split_tasks(groups, encoded, len(frame), shared=task_column is None, seed=seed,
                         fractions=(val_fraction, test_fraction), source=source, dropped=dropped, given=given)
    names = [p[0] for p in plans]
    target_name = choose_target(names, target, target_draw, source, aliases=(f"{task_column}=",) if task_column else ())
    plans.sort(key=lambda plan: plan[0] != target_name)  # the target first, as in every family
    if target_size is not None:
        plans[0] = _shrink_target(plans[0], target_size, seed, source)

    numeric = [c for c in features if is_numeric(frame[c]) and c not in categorical]
    categories = [c for c in features if c not in numeric]
    train_rows = np.unique(np.concatenate([splits["train"] for _, _, splits in plans]))
    encoder = FeatureEncoder(numeric, categories).fit(frame.iloc[train_rows])
    _warn_wide(encoder, source)
    scoring = Scoring(metric, class_weight, targets, [p[0] for p in plans], source)
    warnings = [*stray.values()] + [w for task_name, target_values, splits in plans
                                    if (w := unseen_classes(task_name, target_values.column, target_values.values,
                                                            splits, target_values.classes, source))]
    if len(plans) == 1 and task_column is None:
        warnings.insert(0, one_task_warning(frame, features, source, plans[0][0]))
        log.warning(warnings[0])
    tasks = tuple(
        _task(frame, encoder, task_name, target_values, splits, source, "target" if i == 0 else "source", scoring)
        for i, (task_name, target_values, splits) in enumerate(plans)
    )
    scoring.check_used()
    shown = ", ".join(f"{t.name}: {t.kind}" + (f"/{t.n_outputs}" if t.kind == "classification" else "")
                      for t in tasks[:6]) + (f", ... ({len(tasks) - 6} more)" if len(tasks) > 6 else "")
    log.info("%s: %d task(s) [%s] on %d rows, %d feature column(s) encoded as %d inputs", source, len(tasks),
             shown, len(frame), len(features), len(encoder.names))
    knobs = dict(n_tasks=len(tasks), target=tasks[0].name, target_size=target_size)
    descriptors = dict(source=source, n_rows=len(frame), n_inputs=len(encoder.names),
                       train_sizes=[len(t.train) for t in tasks], target_train_size=len(tasks[0].train),
                       dropped=dropped)
    descriptors.update({"target_sample": sample} if (sample := sample_note(names, target_draw)) else {})
    if any(task.kind == "regression" for task in tasks):
        descriptors["target_scaling"] = "per task"  # stated in the report's protocol (bench/report/protocol.py)
        log.info("%s: regression targets are standardised per task on its training rows for training; errors are "
                 "reported in the column's units, and pooled scikit-learn arms pool the targets in those units",
                 source)
    if warnings:
        descriptors["warnings"] = warnings
    return TaskFamily(name, tasks, knobs, descriptors)


def check_columns(frame: pd.DataFrame, source: str, targets: list[str], features: Sequence[str] | None,
                  exclude: list[str], task_column: str | None, categorical: list[str]) -> list[str]:
    """The feature columns, once every named column is known to exist exactly once."""
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise TableError(f"{source}: column {duplicated[0]!r} appears more than once")
    if not targets:
        raise TableError(f"{source}: data.targets is empty, expected at least one target column")
    if task_column is not None and len(targets) != 1:
        raise TableError(f"{source}: data.task_column={task_column!r} needs exactly one target column, "
                         f"got data.targets={targets}")
    named = {"data.targets": targets, "data.exclude": exclude, "data.categorical": categorical,
             "data.task_column": [task_column] if task_column is not None else []}
    if features is not None:
        named["data.features"] = list(features)
    available = ", ".join(map(str, frame.columns[:30])) + (", ..." if len(frame.columns) > 30 else "")
    for key, columns in named.items():
        for column in columns:
            if column not in frame.columns:
                raise TableError(f"{source}: column {column!r} (in {key}) not found; columns: {available}")
        repeated = {c for c in columns if columns.count(c) > 1}
        if repeated:
            raise TableError(f"{source}: column {sorted(repeated)[0]!r} is listed twice in {key}")
    roles = targets + named["data.task_column"]
    if len(set(roles)) != len(roles):
        raise TableError(f"{source}: column {task_column!r} is both data.task_column and a target")
    if features is None:
        features = [c for c in frame.columns if c not in roles and c not in exclude]
    features = list(features)
    for column in features:
        if column in roles:
            raise TableError(f"{source}: column {column!r} is both a feature and "
                             f"{'the task column' if column == task_column else 'a target'}")
    if not features:
        raise TableError(f"{source}: no feature columns left (data.features, data.exclude)")
    return features


def _handle_missing(frame: pd.DataFrame, source: str, features: list[str], targets: list[str],
                    task_column: str | None, missing: str, dropped: dict[str, int], stray: set[str]) -> pd.DataFrame:
    """Apply the declared policy to missing features; rows without a task value cannot be used at all.
    ``stray``: columns whose stray text was read as missing (bench/data/misreads.py)."""
    counts = frame.isna().sum()
    if missing == "error":
        for column in features + targets + ([task_column] if task_column else []):
            if counts[column]:
                cause = " (text in a numeric column, read as missing)" if column in stray else ""
                raise TableError(f"{source}: column {column!r} has {counts[column]} missing value(s){cause}; "
                                 "choose data.missing=drop (drop those rows) or impute (median / own category)")
    keep = frame[task_column].notna() if task_column else pd.Series(True, index=frame.index)
    if task_column and counts[task_column]:
        log.warning("%s: dropped %d row(s) with no value in task column %r", source, counts[task_column], task_column)
        dropped[f"no {task_column}"] = int(counts[task_column])
    if missing == "drop":
        incomplete = frame[features].isna().any(axis=1) & keep
        if incomplete.any():
            worst = ", ".join(f"{c}: {n}" for c, n in counts[features][counts[features] > 0].items())
            log.warning("%s: dropped %d row(s) with missing features (data.missing=drop; missing per column: %s)",
                        source, int(incomplete.sum()), worst)
            dropped["missing features"] = int(incomplete.sum())
            keep &= ~incomplete
    elif missing == "impute":
        for column in features:
            if counts[column]:
                how = "the training median" if is_numeric(frame[column]) else "a '(missing)' category"
                log.info("%s: imputed %d missing value(s) of column %r with %s", source, counts[column], column, how)
    return frame[keep].reset_index(drop=True)


def target_kinds(kind: str | Mapping[str, str], targets: list[str], source: str) -> dict[str, str]:
    chosen = dict(kind) if isinstance(kind, Mapping) else {t: kind for t in targets}
    for column, value in chosen.items():
        if column not in targets:
            raise TableError(f"{source}: data.kind names {column!r}, which is not a target {targets}")
        if value not in (*KINDS, "auto"):
            raise TableError(f"{source}: data.kind={value!r} for {column!r} is invalid, expected auto, "
                             "classification or regression")
    return {t: chosen.get(t, "auto") for t in targets}


def inferred_kind(present: pd.Series, source: str) -> str:
    """``data.kind=auto``: numbers are a regression unless they are at most ``MAX_INFERRED_CLASSES`` integers;
    text is a classification, unless it has too many values to be classes (bench/data/misreads.py)."""
    numbers = is_numeric(present) and present.dtype != bool
    if not numbers and (problem := text_target_problem(present, source)):
        raise TableError(problem)
    few_integers = numbers and bool((present.astype(float) % 1 == 0).all()) and (
        present.nunique() <= MAX_INFERRED_CLASSES)
    return "regression" if numbers and not few_integers else "classification"


def _encode_target(column: pd.Series, source: str, kind: str) -> _Target:
    present = column.dropna()
    if kind == "auto":
        kind = inferred_kind(present, source)
        log.info("%s: target %r inferred to be %s (%d distinct values); set data.kind to override",
                 source, column.name, kind, present.nunique())
    if kind == "regression":
        numbers = pd.to_numeric(column, errors="coerce")
        bad = column.notna() & numbers.isna()
        if bad.any():
            raise TableError(f"{source}: target column {column.name!r} is not numeric (value "
                             f"{column[bad].iloc[0]!r}), so it cannot be a regression target; "
                             "set data.kind=classification")
        return _Target(str(column.name), kind, numbers.to_numpy(dtype=float), [])
    try:
        classes = sorted(present.unique())
    except TypeError:
        classes = sorted(present.unique(), key=str)
    if len(classes) < 2:
        raise TableError(f"{source}: target column {column.name!r} has a single class {classes[0]!r}")
    codes = column.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=float)
    return _Target(str(column.name), kind, codes, classes)


def _check_finite(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    """Infinite numbers (``inf`` in a CSV) would reach the model; name the column instead."""
    for column in columns:
        if is_numeric(frame[column]) and frame[column].dtype != bool:
            infinite = np.isinf(frame[column].to_numpy(dtype=float))
            if infinite.any():
                raise TableError(f"{source}: column {column!r} has {int(infinite.sum())} infinite value(s) (first in "
                                 f"data row {int(np.argmax(infinite)) + 1}); fix them, or treat them as missing with "
                                 "data.na_values=[inf,-inf]")


def _binarise(column: pd.Series, classes: object, source: str, targets: list[str]) -> pd.Series:
    """1 where the value is one of ``classes`` (data.positive), 0 elsewhere, NaN where missing."""
    if column.name not in targets:
        raise TableError(f"{source}: data.positive names column {column.name!r}, which is not a target {targets}")
    several = isinstance(classes, Sequence) and not isinstance(classes, str)
    chosen = [task_label(c) for c in (classes if several else [classes])]
    text = column.map(task_label)
    absent = [c for c in chosen if not (text == c).any()]
    if absent:
        seen = ", ".join(map(repr, sorted(text[column.notna()].unique())[:12]))
        raise TableError(f"{source}: data.positive: column {column.name!r} has no value {absent[0]!r}; values: {seen}")
    return text.isin(chosen).astype(float).where(column.notna())


def _task_rows(frame: pd.DataFrame, source: str, targets: list[str], task_column: str | None,
               encoded: dict[str, _Target]) -> list[tuple[str, str, np.ndarray]]:
    """(task name, target column, row positions) for each task."""
    if task_column is None:
        return [(t, t, np.arange(len(frame))) for t in targets]
    (column,) = targets
    groups = []
    for value, rows in frame.groupby(task_column, sort=True).indices.items():
        name = f"{task_column}={task_label(value)}"
        if encoded[column].kind == "classification":
            present = np.unique(encoded[column].values[rows][~np.isnan(encoded[column].values[rows])])
            if len(present) < 2:
                only = encoded[column].classes[int(present[0])] if len(present) else None
                raise TableError(f"{source}: task {name!r} has a single class {only!r} in target column {column!r}")
        groups.append((name, column, np.asarray(rows)))
    return groups


def task_label(value: object) -> str:
    """A task column's value as a task name: ``1``, not ``1.0``, when a float column holds whole numbers."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _drop_missing_targets(splits: dict[str, np.ndarray], target: _Target, source: str, task_name: str,
                          dropped: dict[str, int]) -> dict[str, np.ndarray]:
    missing = {split: int(np.isnan(target.values[rows]).sum()) for split, rows in splits.items()}
    if not sum(missing.values()):
        return splits
    log.warning("%s: task %r dropped %d row(s) with a missing target %r (%s)", source, task_name,
                sum(missing.values()), target.column, ", ".join(f"{s}: {n}" for s, n in missing.items()))
    dropped[f"{task_name}: missing target"] = sum(missing.values())
    kept = {split: rows[~np.isnan(target.values[rows])] for split, rows in splits.items()}
    for split, rows in kept.items():
        if len(rows) < 1:
            raise TableError(f"{source}: task {task_name!r} has no {split} rows with a value in target column "
                             f"{target.column!r}")
    return kept


def _split_tasks(groups: list[tuple[str, str, np.ndarray]], encoded: dict[str, _Target], n_rows: int, shared: bool,
                 seed: int, fractions: tuple[float, float], source: str, dropped: dict[str, int],
                 given: np.ndarray | None = None) -> list[tuple]:
    """(task name, target, row positions per split) for each task; tasks on shared rows share one split,
    stratified by the first classification target, others are split apart, each by its own classes."""
    rng = np.random.default_rng([seed, _SPLIT])

    def split(rows: np.ndarray, labels: np.ndarray | None, where: str) -> dict[str, np.ndarray]:
        if given is not None:
            return given_rows(rows, given, fractions[0], rng, labels, where)
        positions = split_rows(len(rows), *fractions, rng, labels, where=where)
        return {name: rows[p] for name, p in positions.items()}

    if shared:
        strata = next((e.values for e in encoded.values() if e.kind == "classification"), None)
        shared_split = split(np.arange(n_rows), strata, source)
    plans = []
    for task_name, column, rows in groups:
        target = encoded[column]
        if shared:
            splits = shared_split
        else:
            labels = target.values[rows] if target.kind == "classification" else None
            splits = split(rows, labels, f"{source}, task {task_name!r}")
        plans.append((task_name, target, _drop_missing_targets(splits, target, source, task_name, dropped)))
    return plans


def _shrink_target(plan: tuple, target_size: int, seed: int, source: str) -> tuple:
    """The target task keeps ``target_size`` of its training rows (class-stratified); val and test stay whole."""
    task_name, target, splits = plan
    train = splits["train"]
    labels = target.values[train] if target.kind == "classification" else None
    subset = stratified_subset(train, target_size, np.random.default_rng([seed, _SUBSET]), labels)
    log.info("%s: target task %r keeps %d of its %d training rows (data.target_size=%d)",
             source, task_name, len(subset), len(train), target_size)
    return task_name, target, {**splits, "train": subset}


def _warn_wide(encoder: FeatureEncoder, source: str) -> None:
    for column, categories in encoder.categories.items():
        if len(categories) > WIDE_CATEGORICAL:
            log.warning("%s: categorical column %r has %d categories (one input each); if its values are tasks, "
                        "name it as data.task_column; if it is an identifier, list it in data.exclude", source, column,
                        len(categories))


def _task(frame: pd.DataFrame, encoder: FeatureEncoder, name: str, target: _Target, splits: dict[str, np.ndarray],
          source: str, role: str, scoring: Scoring) -> Task:
    values = {split: target.values[rows] for split, rows in splits.items()}
    if target.kind == "regression":
        mean, std = values["train"].mean(), values["train"].std()
        std = std if std > 0 else 1.0
        labels = {s: torch.tensor((v - mean) / std, dtype=torch.float32)[:, None] for s, v in values.items()}
        scale = dict(target_mean=(float(mean),), target_std=(float(std),))
    else:
        labels = {s: torch.tensor(v, dtype=torch.long) for s, v in values.items()}
        scale = dict(class_weights=scoring.class_weights(labels["train"], len(target.classes)))
    parts = {
        split: Split(torch.from_numpy(encoder.transform(frame.iloc[rows], f"{source}, task {name!r}, {split}")),
                     labels[split])
        for split, rows in splits.items()
    }
    n_outputs = len(target.classes) if target.kind == "classification" else 1
    return Task(name=name, kind=target.kind, n_outputs=n_outputs, role=role,
                metric=scoring.metric(name, target.column, target.kind), **scale, **parts)
