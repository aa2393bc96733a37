"""Read a folder of run records into tidy pandas tables for the report."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from bench.metric_names import HIGHER_IS_BETTER, PRIMARY_METRIC
from bench.results.records import BadFile, read_checked, warn
from bench.results.schema import record_problem

RUN_COLUMNS = ["run_id", "study", "regime", "strategy", "label", "seed", "status"]


def scan_files(paths: Iterable[Path], problem_of: Callable[[Any], str | None]) -> tuple[list[dict], list[str]]:
    """The files among ``paths`` that fit their schema, and one line for each that does not (also printed as a
    warning): a bad file is skipped, never fatal."""
    found, skipped = [], []
    for path in paths:
        try:
            content = read_checked(path, problem_of)
        except BadFile as error:
            warn(f"skipping {error}")
            skipped.append(str(error))
            continue
        if content is not None:
            found.append(content)
    return found, skipped


def scan_records(folder: Path) -> tuple[list[dict], list[str]]:
    """Every valid run record under ``folder`` (recursively), and a line for each file skipped."""
    return scan_files(sorted(Path(folder).rglob("*.json")), record_problem)


def load_records(folder: Path) -> list[dict]:
    """Every valid run record under ``folder``; any other file is skipped with a one-line warning."""
    return scan_records(folder)[0]


def regime_label(regime: str, strategy: str | None, variant: dict | None = None) -> str:
    """``tl-full``; a variant (settings off their defaults, e.g. ``trunk_lr``, ``pretrain``) is an arm of its
    own: ``tl-full[pretrain=single, trunk_lr=0.1]``. Records without one keep the plain label."""
    label = f"{regime}-{strategy}" if strategy else regime
    if not isinstance(variant, dict) or not variant:
        return label
    return f"{label}[{', '.join(f'{key}={value}' for key, value in sorted(variant.items()))}]"


def _run_fields(record: dict) -> dict:
    return {
        "run_id": record["run_id"],
        "study": record.get("study"),
        "regime": record["regime"],
        "strategy": record.get("strategy"),
        "label": regime_label(record["regime"], record.get("strategy"), record.get("variant")),
        "seed": record["seed"],
        "status": record["status"],
        **{k: v for k, v in record.get("knobs", {}).items()},
    }


def _one_type_per_knob(frame: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    """A knob whose records disagree on its type (a number in one, text or true/false in another) is text in
    every row, so that its values stay apart, sort and plot; numbers may mix integers and floats."""
    knobs = {key for record in records for key in record.get("knobs", {})} & set(frame.columns)
    for knob in sorted(knobs):
        kinds = {type(value) for value in frame[knob] if value is not None and not pd.isna(value)}
        if len(kinds) > 1 and not kinds <= {int, float}:
            frame[knob] = frame[knob].map(lambda value: value if value is None or pd.isna(value) else str(value))
    return frame


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: identity, knobs, status and error (failed runs included)."""
    rows = [{**_run_fields(r), "error": r.get("error")} for r in records]
    return _one_type_per_knob(pd.DataFrame(rows), records)


def primary_metric(record: dict, task: dict) -> str:
    """The metric a task is compared on: as its family named it (descriptors), else the kind's default."""
    chosen = (record.get("descriptors") or {}).get("primary_metric") or {}
    return chosen.get(task["task"]) or PRIMARY_METRIC[task["kind"]]


def tidy(records: list[dict]) -> pd.DataFrame:
    """One row per run x task x split x metric, for the runs that finished; ``primary`` names the task's
    primary metric. Metrics this code does not know are kept, with ``higher_is_better`` missing."""
    rows = []
    for record in records:
        if record["status"] != "ok":
            continue
        run = _run_fields(record)
        for task in record["tasks"]:
            primary = primary_metric(record, task)
            for split in ("val", "test"):
                for metric, value in task[split].items():
                    rows.append({
                        **run, "task": task["task"], "role": task["role"], "kind": task["kind"],
                        "split": split, "metric": metric, "value": value, "primary": primary,
                        "higher_is_better": HIGHER_IS_BETTER.get(metric),
                    })
    return _one_type_per_knob(pd.DataFrame(rows), records)


def deduplicate(records: list[dict]) -> list[dict]:
    """One record per run id (a run that two studies hold counts once): an ``ok`` record over a failed
    one, else the first seen."""
    chosen: dict[str, dict] = {}
    for record in records:
        rid = record.get("run_id") or id(record)
        kept = chosen.get(rid)
        if kept is None or (kept.get("status") != "ok" and record.get("status") == "ok"):
            chosen[rid] = record
    return list(chosen.values())
