"""Run records: one JSON file per job, written atomically, named by a hash of what defines the result."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed")


def run_id(defining_config: dict[str, Any]) -> str:
    """A stable hash of the config that defines a result (data, model, regime, trainer, seed), not of paths."""
    canonical = json.dumps(defining_config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def record_path(study_dir: Path, rid: str) -> Path:
    return Path(study_dir) / f"{rid}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or None when there is none (a half-written file never exists: see write)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def is_done(study_dir: Path, rid: str) -> bool:
    record = read_record(record_path(study_dir, rid))
    return record is not None and record.get("status") == "ok"


def write_record(study_dir: Path, record: dict[str, Any]) -> Path:
    """Write via a temp file in the same folder and an atomic rename: readers see all or nothing.

    Temp files are hidden (``.<run_id>.*.tmp``) and never match ``*.json``, so readers ignore them; one
    left by a writer that was killed is removed when its run writes again.
    """
    if record.get("status") not in STATUSES:
        raise ValueError(f"record status must be one of {STATUSES}, got {record.get('status')!r}")
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    target = record_path(study_dir, record["run_id"])
    for stale in study_dir.glob(f".{record['run_id']}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=study_dir, prefix=f".{record['run_id']}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; records are results to share
        with os.fdopen(fd, "w") as handle:
            json.dump({"schema": SCHEMA_VERSION, **record}, handle, indent=1, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
