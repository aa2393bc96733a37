"""Run records: one JSON file per job, written atomically, named by a hash of what defines the result."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results.schema import SCHEMA_VERSION, record_problem

STATUSES = ("ok", "failed")


def run_id(defining_config: dict[str, Any]) -> str:
    """A stable hash of the config that defines a result (data, model, regime, trainer, seed), not of paths."""
    canonical = json.dumps(defining_config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def target_task(record: dict[str, Any]) -> dict[str, Any]:
    """A record's target task: the one with role ``target``, else the first (as ``TaskFamily.target``)."""
    return next((t for t in record["tasks"] if t["role"] == "target"), record["tasks"][0])


def record_path(study_dir: Path, rid: str) -> Path:
    return Path(study_dir) / f"{rid}.json"


class BadFile(ValueError):
    """A file that exists but is not what its kind must be; the message names the file and the field."""


def read_checked(path: Path, problem_of: Callable[[Any], str | None]) -> dict[str, Any] | None:
    """The JSON file at ``path`` when it fits its schema (``problem_of`` finds nothing), None when there is no
    such file; BadFile when it cannot be read (truncated, not JSON, a folder) or does not fit."""
    try:
        content = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise BadFile(f"{path}: unreadable ({type(error).__name__}: {first_line(error)})") from None
    problem = problem_of(content)
    if problem:
        raise BadFile(f"{path}: {problem}")
    return content


def read_record(path: Path) -> dict[str, Any] | None:
    """The run record at ``path`` (bench/results/schema.py), None when there is none; BadFile otherwise."""
    return read_checked(path, record_problem)


def warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


def is_done(study_dir: Path, rid: str) -> bool:
    """Whether run ``rid`` has an ``ok`` record. One that is not a valid record of this run (truncated, the
    wrong shape, another run's) counts as missing, with a one-line warning: the job runs again and its new
    record replaces it. Resume reads records through the report's schema, so it never skips a run the
    report would refuse."""
    path = record_path(study_dir, rid)
    try:
        record = read_record(path)
    except BadFile as error:
        warn(f"{error}; running the job again to replace it")
        return False
    if record is not None and record["run_id"] != rid:
        warn(f"{path}: run_id={record['run_id']!r} is another run's; running the job again to replace it")
        return False
    return record is not None and record["status"] == "ok"


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else ""


class RecordWriteError(OSError):
    """A record could not be written; the message is one line naming the file and why."""


def write_record(study_dir: Path, record: dict[str, Any]) -> Path:
    """Write via a temp file in the same folder and an atomic rename: readers see all or nothing.

    Temp files are hidden (``.<run_id>.<pid>@<host>.*.tmp``) and never match ``*.json``, so readers ignore
    them. One left by a writer that was killed is removed when its run writes again; a live writer's
    (another sweep, a job run by hand) is left alone. Raises RecordWriteError, naming the file, when the
    folder cannot take the record (missing, read-only, full, not a folder).
    """
    if record.get("status") not in STATUSES:
        raise ValueError(f"record status must be one of {STATUSES}, got {record.get('status')!r}")
    study_dir = Path(study_dir)
    target = record_path(study_dir, record["run_id"])
    tmp = None
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(study_dir, record["run_id"])
        fd, tmp = tempfile.mkstemp(dir=study_dir, prefix=f".{record['run_id']}.{_writer()}.", suffix=".tmp")
        os.fchmod(fd, 0o644)  # mkstemp makes it private; records are results to share
        with os.fdopen(fd, "w") as handle:
            json.dump({"schema": SCHEMA_VERSION, **record}, handle, indent=1, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as error:
        _discard(tmp)
        raise RecordWriteError(f"cannot write record {target} ({type(error).__name__}: "
                               f"{error.strerror or error})") from error
    except BaseException:
        _discard(tmp)
        raise
    return target


_STALE_AFTER_S = 24 * 3600  # a temp file from another host: its writer cannot be asked, only aged out


def _writer() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        Path(tmp).unlink(missing_ok=True)


def _writer_alive(name: str, rid: str) -> bool | None:
    """Whether the writer named in temp file ``name`` still runs; None when that cannot be told here."""
    pid, _, rest = name[len(rid) + 2:].partition("@")
    host = rest.rsplit(".", 2)[0]
    if not pid.isdigit() or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _remove_stale_temps(study_dir: Path, rid: str) -> None:
    """Remove temp files of run ``rid`` whose writer is dead (this host) or that are a day old (any host)."""
    for temp in study_dir.glob(f".{rid}.*.tmp"):
        alive = _writer_alive(temp.name, rid)
        try:
            if alive is False or (alive is None and time.time() - temp.stat().st_mtime > _STALE_AFTER_S):
                temp.unlink(missing_ok=True)
        except FileNotFoundError:  # its writer renamed it meanwhile
            continue
