"""Where records go, checked before any job trains: a study name is one plain folder, the folder takes files.

A study name is also printed into the report (a folder name, a link), and the suite keeps its own folders
beside the studies (``.tuning``, ``.pretrained``), so a name uses a safe alphabet and cannot start with a
dot; the study folder cannot be a link, which would send records outside ``paths.experiments``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from omegaconf import DictConfig


class NotWritable(OSError):
    """The study folder cannot take records; the message is one line naming the folder and why."""


STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def study_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a study folder directly under ``paths.experiments``, or None when it can."""
    if isinstance(name, str) and STUDY_NAME.fullmatch(name):
        return None
    return (f"study_name={name!r} is invalid, expected up to 100 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit (records go to <paths.experiments>/<study_name>/; names starting with '.' are the "
            "suite's own folders)")


def study_folder(cfg: DictConfig) -> Path:
    return Path(cfg.paths.experiments) / cfg.study_name


def check_study_folder(cfg: DictConfig) -> None:
    """The study folder is a real folder under ``paths.experiments`` (not a link out of it) that takes files."""
    folder = study_folder(cfg)
    if folder.is_symlink():
        raise NotWritable(f"study folder {folder} is a link to {folder.resolve()}: records would leave "
                          "paths.experiments; remove the link, or choose another study_name")
    check_writable(folder)


_PROBE_BYTES = 64 * 1024  # room for a few records and the sweep's files: a full disk fails here, not mid-sweep


def check_writable(folder: Path, key: str = "paths.experiments") -> None:
    """Create ``folder`` if needed and write and remove a hidden file there; NotWritable when that fails."""
    folder = Path(folder)
    probe = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(_PROBE_BYTES))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise NotWritable(f"{key}: cannot write records in {folder} ({reason}: {error.filename or folder}); "
                          "expected a writable folder with free space") from None
    finally:
        if probe is not None:
            Path(probe).unlink(missing_ok=True)
