"""What a ``data=table`` job implies, read from its file before any job trains: the checks that need only that.

Building a family (encoding, splits, 100+ tasks) takes seconds to a minute, once per job; these checks read
the table file once per sweep (cached) and stop it before any job starts, each with one line naming the key:
an unknown column or metric (``data.metric``), a ``data.target`` or ``data.target_draw`` that is no task
(``data.target_draw=range(200)`` on 42 tasks), a text target with too many values to be classes, and an arm
that cannot run on the table's layout (``multitask_elasticnet`` on tasks with their own rows, pooled arms over
tasks of different kinds, transfer with one task). A table of one task is a warning that names the column
that looks like its tasks (bench/data/misreads.py).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from bench.checks import ConfigError
from bench.data.family import FamilyError
from bench.data.frame import TableError, check_columns, inferred_kind, target_kinds, task_label
from bench.data.misreads import one_task_warning, read_stray_text_as_missing
from bench.data.rotation import choose_target
from bench.data.scoring import Scoring
from bench.data.table import read_table, table_skips

READING_KEYS = ("sep", "column_names", "na_values", "comment", "strip")


@dataclass(frozen=True)
class Layout:
    """A table's tasks as its family would name them, their kinds and output sizes, and its warnings."""

    source: str
    tasks: tuple[str, ...]
    task_column: str | None
    outputs: tuple[tuple[str, int], ...]  # (kind, outputs) per target column
    warnings: tuple[str, ...]


def table_layout(data: Mapping) -> Layout | None:
    """The layout of a ``data=table`` config (None for other families); raises FamilyError or TableError (one
    line) on what the file alone shows cannot run."""
    if not str(data.get("_target_", "")).endswith("make_table"):
        return None
    path = str(data["path"])
    skip = table_skips(data.get("skip_rows", 0), {"path": path})["path"]
    options = {key: _hashable(data.get(key)) for key in READING_KEYS}
    options["na_values"] = options["na_values"] or ()
    frame = _read(path, _modified(path), skip, **options)
    targets = [data["targets"]] if isinstance(data["targets"], str) else list(data["targets"])
    task_column = data.get("task_column")
    categorical, positive = list(data.get("categorical") or []), dict(data.get("positive") or {})
    features = check_columns(frame, path, targets, data.get("features"), list(data.get("exclude") or []),
                             task_column, categorical)
    kinds = target_kinds(data.get("kind", "auto"), targets, path)
    numeric_like = [c for c in features if c not in categorical] + [
        t for t in targets if kinds[t] != "classification" and t not in positive]
    frame, stray = read_stray_text_as_missing(frame, numeric_like, path)
    if stray and data.get("missing", "error") == "error":
        raise TableError(f"{next(iter(stray.values()))}; data.missing=error stops at a missing value: choose "
                         "data.missing=drop or impute")
    outputs = tuple(_outputs(frame[t].dropna(), "classification" if t in positive else kinds[t], path)
                    for t in targets)
    if task_column is None:
        tasks = targets
    else:
        tasks = [f"{task_column}={task_label(v)}" for v in sorted(frame[task_column].dropna().unique(), key=str)]
    scoring = Scoring(data.get("metric"), data.get("class_weight"), targets, tasks, path)
    kind_of = {t: kind for t, (kind, _) in zip(targets, outputs, strict=True)}
    for task in tasks:
        column = task if task_column is None else targets[0]
        scoring.metric(task, column, kind_of[column])
    scoring.check_used()
    choose_target(tasks, data.get("target"), data.get("target_draw"), path,
                  aliases=(f"{task_column}=",) if task_column else ())
    warnings = [*stray.values()]
    if len(tasks) == 1:
        warnings.insert(0, one_task_warning(frame, features, path, tasks[0]))
    return Layout(path, tuple(tasks), task_column, outputs, tuple(warnings))


def check_table(cfg: DictConfig) -> list[str]:
    """Raise ConfigError (one line, as every pre-sweep check) when this job's table or its arm cannot run;
    return the table's warnings. Needs only the file: nothing is encoded, split or trained."""
    try:
        layout = table_layout(OmegaConf.to_container(cfg.data, resolve=True))
    except FamilyError as error:  # TableError is one
        raise ConfigError(str(error)) from None
    if layout is None:
        return []
    regime = cfg.regime
    arm = f"regime.estimator={regime.get('estimator')}" if "estimator" in regime else "this regime"
    if regime.get("estimator") == "multitask_elasticnet":
        if layout.task_column is not None:
            raise ConfigError(f"{layout.source}: regime=multitask_elasticnet needs tasks on the same rows (several "
                             f"data.targets), but data.task_column={layout.task_column!r} gives each task rows of its "
                             "own; drop it from this sweep's regimes")
        if any(kind != "regression" for kind, _ in layout.outputs):
            raise ConfigError(f"{layout.source}: regime=multitask_elasticnet fits regression targets; data.targets "
                             "has a classification one; drop it from this sweep's regimes")
    if str(regime.get("estimator", "")).startswith("ridge_pooled") and len(set(layout.outputs)) > 1:
        raise ConfigError(f"{layout.source}: {arm} pools tasks of one kind and output size, and the targets differ "
                         f"({', '.join(f'{k}/{n}' for k, n in layout.outputs)}); drop it from this sweep's regimes")
    if str(regime.get("_target_", "")).endswith("Transfer") and len(layout.tasks) < 2:
        raise ConfigError(f"{layout.source}: transfer needs a target and at least one source task, and the table "
                         f"makes one task ({layout.tasks[0]!r}); name its tasks with data.task_column or several "
                         "data.targets")
    return list(layout.warnings)


def _outputs(present: pd.Series, kind: str, source: str) -> tuple[str, int]:
    kind = inferred_kind(present, source) if kind == "auto" else kind
    return kind, present.nunique() if kind == "classification" else 1


@functools.lru_cache(maxsize=4)
def _read(path: str, modified: float, skip: int, **options) -> pd.DataFrame:
    """The file as ``read_table`` reads it, once per sweep (``modified`` makes an edited file a new entry)."""
    return read_table(path, skip_rows=skip, **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()})


def _modified(path: str) -> float:
    try:
        return Path(path).expanduser().stat().st_mtime
    except OSError:
        return 0.0  # read_table says what is wrong with the path


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value
