"""Where a result came from: a content hash of every data file a run reads, and the code's git commit.

The hashes enter the run id (bench.run.defining_config), so an edited table defines new runs instead of
silently reusing the records of the old file. The commit goes into each record's versions, so the report
can flag records made by other code than the checkout it is built from.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1 << 20
FILE_KEYS = ("path", "val_path", "test_path")  # every file data=table reads, by its config key


def file_digest(path: str | Path) -> str:
    """SHA-256 of the file's bytes; ``missing`` when there is no such file (the run then fails, naming it)."""
    path = Path(path).expanduser()
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def data_file_hashes(data: Mapping) -> dict[str, str]:
    """``{config key: sha256}`` for every file a data config reads (data=table: path, val_path, test_path);
    empty for families that read no user file, so their run ids do not change."""
    if not str(data.get("_target_", "")).endswith("make_table"):
        return {}
    return {key: file_digest(data[key]) for key in FILE_KEYS if data.get(key)}


@functools.lru_cache(maxsize=1)
def code_commit() -> dict[str, str]:
    """The git commit of this checkout and whether ``bench/`` or ``conf/`` differ from it (``unknown``
    outside a git checkout, e.g. an installed wheel: the package version still says which release)."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"git_commit": "unknown"}
        dirty = git("status", "--porcelain", "--", "bench", "conf").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown"}
    return {"git_commit": head.stdout.strip(), "git_dirty": "yes" if dirty else "no"}
