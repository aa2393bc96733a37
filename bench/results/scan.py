"""Read a folder of run records into tidy pandas tables for the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.metrics import HIGHER_IS_BETTER

RUN_COLUMNS = ["run_id", "study", "regime", "strategy", "label", "seed", "status"]


def load_records(folder: Path) -> list[dict]:
    """All records under ``folder`` (recursively), skipping unreadable files with a warning."""
    records = []
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            print(f"warning: skipping unreadable record {path}: {error}")
    return records


def regime_label(regime: str, strategy: str | None) -> str:
    return f"{regime}-{strategy}" if strategy else regime


def _run_fields(record: dict) -> dict:
    return {
        "run_id": record["run_id"],
        "study": record.get("study"),
        "regime": record["regime"],
        "strategy": record.get("strategy"),
        "label": regime_label(record["regime"], record.get("strategy")),
        "seed": record["seed"],
        "status": record["status"],
        **{k: v for k, v in record.get("knobs", {}).items()},
    }


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: identity, knobs, status and error (failed runs included)."""
    rows = [{**_run_fields(r), "error": r.get("error")} for r in records]
    return pd.DataFrame(rows)


def tidy(records: list[dict]) -> pd.DataFrame:
    """One row per run x task x split x metric, for the runs that finished."""
    rows = []
    for record in records:
        if record["status"] != "ok":
            continue
        run = _run_fields(record)
        for task in record["tasks"]:
            for split in ("val", "test"):
                for metric, value in task[split].items():
                    rows.append({
                        **run, "task": task["task"], "role": task["role"], "kind": task["kind"],
                        "split": split, "metric": metric, "value": value,
                        "higher_is_better": HIGHER_IS_BETTER[metric],
                    })
    return pd.DataFrame(rows)
