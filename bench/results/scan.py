"""Read a folder of run records into tidy pandas tables for the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from bench.metric_names import HIGHER_IS_BETTER, PRIMARY_METRIC
from bench.results.schema import record_problem

RUN_COLUMNS = ["run_id", "study", "regime", "strategy", "label", "seed", "status"]


def load_records(folder: Path) -> list[dict]:
    """All valid records under ``folder`` (recursively); any other file is skipped with a one-line warning."""
    records = []
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:  # ValueError: JSONDecodeError, UnicodeDecodeError
            print(f"warning: skipping unreadable record {path} ({type(error).__name__}: "
                  f"{str(error).splitlines()[0] if str(error) else ''})", file=sys.stderr)
            continue
        problem = record_problem(record)
        if problem:
            print(f"warning: skipping {path}: {problem}", file=sys.stderr)
            continue
        records.append(record)
    return records


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


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: identity, knobs, status and error (failed runs included)."""
    rows = [{**_run_fields(r), "error": r.get("error")} for r in records]
    return pd.DataFrame(rows)


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
    return pd.DataFrame(rows)


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
