"""``data=openml``: an OpenML data set as a task family, downloaded once and cached as Parquet.

The cache is one file per data set, ``<data_dir>/openml-<data_id>.parquet``, written after the first
download (atomically) and read on every later run, so runs and sweeps work offline once it exists.
With ``download=false`` the loader never touches the network and says which file it needs.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pandas as pd

from bench.data.family import TaskFamily
from bench.data.frame import TableError, family_from_frame

log = logging.getLogger(__name__)


def cache_path(data_dir: str | Path, data_id: int) -> Path:
    return Path(data_dir).expanduser() / f"openml-{data_id}.parquet"


def fetch_frame(data_id: int, data_dir: Path) -> pd.DataFrame:
    """Every column of OpenML data set ``data_id`` (scikit-learn's own download cache lives in ``data_dir``)."""
    from sklearn.datasets import fetch_openml

    return fetch_openml(data_id=data_id, as_frame=True, target_column=None, data_home=str(data_dir / "sklearn"),
                        parser="auto").frame


def load_openml_frame(data_id: int, data_dir: str | Path, download: bool = True) -> pd.DataFrame:
    """The cached frame of ``data_id``; fetched and cached first when missing and ``download`` allows it."""
    path = cache_path(data_dir, data_id)
    if path.is_file():
        log.info("OpenML data set %d: read from cache %s", data_id, path)
        return pd.read_parquet(path)
    if not download:
        raise TableError(f"OpenML data set {data_id} is not cached at {path} and data.download=false: a download "
                         "is needed (run once online with data.download=true, or put that Parquet file there)")
    log.info("OpenML data set %d: not cached at %s, downloading", data_id, path)
    try:
        frame = fetch_frame(data_id, path.parent)
    except Exception as error:  # network, HTTP and OpenML errors all mean the same thing to the user
        raise TableError(f"OpenML data set {data_id} is not cached at {path} and downloading it failed "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                         "connect to the network once, or put that Parquet file there") from error
    _write_atomically(frame, path)
    log.info("OpenML data set %d: cached %d rows x %d columns at %s", data_id, *frame.shape, path)
    return frame


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_openml(
    seed: int, data_id: int, data_dir: str = "~/.cache/mtl-transfer-bench/openml", download: bool = True, **table
) -> TaskFamily:
    """A task family from OpenML data set ``data_id``; ``table`` holds ``family_from_frame``'s arguments
    (targets, features, task_column, kind, missing, ...)."""
    frame = load_openml_frame(data_id, data_dir, download)
    return family_from_frame(frame, f"OpenML data set {data_id}", seed, name=f"openml-{data_id}", **table)
