"""What the report needs from a run record, checked file by file so that one bad file never stops it.

Only what the report reads is required (run id, regime, status, an integer seed, the schema version;
for ``ok`` records, tasks with known metric names); any other key is allowed, so records can grow.
Metric names are checked against bench.metrics.HIGHER_IS_BETTER when a record is checked, so new
metrics need no change here.
"""

from __future__ import annotations

from typing import Any

from bench.metric_names import HIGHER_IS_BETTER
from bench.results.records import SCHEMA_VERSION, STATUSES


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _task_problem(index: int, task: Any) -> str | None:
    if not isinstance(task, dict):
        return f"tasks[{index}] is not an object"
    for key in ("task", "role", "kind"):
        if not isinstance(task.get(key), str):
            return f"tasks[{index}].{key}={task.get(key)!r} is invalid, expected a string"
    for split in ("val", "test"):
        metrics = task.get(split)
        if not isinstance(metrics, dict) or not metrics:
            return f"tasks[{index}].{split} is missing or empty, expected metric values"
        for name, value in metrics.items():
            if name not in HIGHER_IS_BETTER:
                return (f"tasks[{index}].{split} has unknown metric {name!r}, expected one of "
                        f"{', '.join(sorted(HIGHER_IS_BETTER))}")
            if value is not None and not _is_number(value):
                return f"tasks[{index}].{split}.{name}={value!r} is invalid, expected a number or null"
    return None


def record_problem(record: Any) -> str | None:
    """Why ``record`` cannot enter the report (one line), or None when it can."""
    if not isinstance(record, dict):
        return f"not a run record (a JSON {type(record).__name__}, expected an object)"
    version = record.get("schema")
    if not _is_int(version):
        return f"not a run record (schema={version!r}, expected a version number)"
    if not 1 <= version <= SCHEMA_VERSION:
        return f"schema version {version} is not one this version reads (1 to {SCHEMA_VERSION}); update bench"
    for key in ("run_id", "regime"):
        if not isinstance(record.get(key), str) or not record[key]:
            return f"{key}={record.get(key)!r} is invalid, expected a non-empty string"
    if record.get("status") not in STATUSES:
        return f"status={record.get('status')!r} is invalid, expected one of {', '.join(STATUSES)}"
    if not _is_int(record.get("seed")):
        return f"seed={record.get('seed')!r} is invalid, expected an integer"
    for key, kind in (("strategy", str), ("study", str), ("knobs", dict)):
        if record.get(key) is not None and not isinstance(record[key], kind):
            return f"{key}={record[key]!r} is invalid, expected {kind.__name__} or null"
    if record["status"] == "ok":
        tasks = record.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            return "an ok record without tasks (expected a non-empty list)"
        return next((problem for i, task in enumerate(tasks) if (problem := _task_problem(i, task))), None)
    return None
