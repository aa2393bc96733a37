"""Where records go, checked before any job trains: a study name stays one folder, the folder takes files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig


class NotWritable(OSError):
    """The study folder cannot take records; the message is one line naming the folder and why."""


def study_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a folder directly under ``paths.experiments``, or None when it can."""
    bad = (not isinstance(name, str) or name in ("", ".", "..") or ".." in name or "\0" in name
           or any(sep in name for sep in ("/", "\\", os.sep)))
    if not bad:
        return None
    return (f"study_name={name!r} is invalid, expected a folder name without '/', '\\' or '..' "
            "(records go to <paths.experiments>/<study_name>/)")


def study_folder(cfg: DictConfig) -> Path:
    return Path(cfg.paths.experiments) / cfg.study_name


def check_writable(folder: Path, key: str = "paths.experiments") -> None:
    """Create ``folder`` if needed and write and remove a hidden file there; NotWritable when that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise NotWritable(f"{key}: cannot write records in {folder} ({reason}: {error.filename or folder}); "
                          "expected a writable folder") from None
