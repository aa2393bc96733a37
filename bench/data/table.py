"""``data=table``: the user's own CSV or Parquet file as a task family (see bench/data/frame.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.family import TaskFamily
from bench.data.frame import TableError, family_from_frame
from bench.provenance import FILE_KEYS

log = logging.getLogger(__name__)
PARQUET_SUFFIXES = (".parquet", ".pq")
TAB_SUFFIXES = (".tsv", ".tab")


def read_table(
    path: str | Path, sep: str | None = None, column_names: Sequence[str] | None = None,
    na_values: Sequence[str] = (), skip_rows: int = 0, comment: str | None = None, strip: str | None = None,
) -> pd.DataFrame:
    """The file as a DataFrame; delimited text (``sep``: tab for .tsv/.tab, else comma) or Parquet.

    ``column_names`` is for text files without a header row; ``na_values`` are extra strings that mean
    a missing value (e.g. ``?``). Spaces after a separator are skipped. ``skip_rows`` junk lines at the top
    and lines starting with ``comment`` are ignored; ``strip`` characters are removed from both ends of
    every text value (adult.test's labels end in a period: ``strip='.'``).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise TableError(f"{path} is a folder, expected a table file (CSV, TSV or Parquet) in data.path")
    if not path.is_file():
        raise TableError(f"table file not found: {path}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _strip(_read_parquet(path), strip)
    sep = sep or ("\t" if path.suffix.lower() in TAB_SUFFIXES else ",")
    options = dict(sep=sep, skipinitialspace=True, na_values=list(na_values), skiprows=skip_rows, comment=comment)
    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, **options).iloc[0].tolist()
        if column_names is not None:
            column_names = list(column_names)
            if len(column_names) != len(first):
                raise TableError(f"{path}: its first line read has {len(first)} field(s) but data.column_names "
                                 f"names {len(column_names)} columns (separator {sep!r}); if that line is not data, "
                                 "skip it with data.skip_rows or data.comment")
            _check_unique(column_names, f"{path}: data.column_names")
            return _strip(pd.read_csv(path, header=None, names=column_names, **options), strip)
        _check_unique([str(c).strip() for c in first], f"{path}: header")
        return _one_column_check(_strip(pd.read_csv(path, **options), strip), path, sep)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TableError(f"{path}: cannot be read as a table with separator {sep!r} (data.sep): "
                         f"{str(error).splitlines()[0]} (junk lines at the top: data.skip_rows or data.comment)"
                         ) from error


def _one_column_check(frame: pd.DataFrame, path: Path, sep: str) -> pd.DataFrame:
    """A file that reads as one column whose name holds another separator was read with the wrong one."""
    if len(frame.columns) == 1:
        name = str(frame.columns[0])
        found = next((s for s in (";", "\t", "|", ",", " ") if s != sep and s in name.strip()), None)
        if found:
            raise TableError(f"{path}: read with separator {sep!r} the file has one column, {name[:60]!r}; it looks "
                             f"separated by {found!r}: set \"data.sep='{found}'\"")
    return frame


def _strip(frame: pd.DataFrame, chars: str | None) -> pd.DataFrame:
    if not chars:
        return frame
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: v.strip(chars) if isinstance(v, str) else v)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise TableError(f"{path}: cannot be read as Parquet: {str(error).splitlines()[0]}") from error
    _check_unique(names, f"{path}: columns")
    return pd.read_parquet(path)


def _check_unique(names: list[str], where: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise TableError(f"{where}: column {name!r} appears more than once")
        seen.add(name)


def make_table(
    seed: int, path: str, sep: str | None = None, column_names: Sequence[str] | None = None,
    na_values: Sequence[str] = (), test_path: str | None = None, val_path: str | None = None,
    skip_rows: int | Mapping[str, int] = 0, comment: str | None = None, strip: str | None = None, **table,
) -> TaskFamily:
    """A task family from the file at ``path`` (read by ``read_table``); ``table`` holds
    ``family_from_frame``'s arguments (targets, features, task_column, kind, missing, metric, ...).

    ``test_path`` / ``val_path``: files whose rows are the test / validation split of every task (same
    columns as ``path``); then ``data.test_fraction`` is unused. ``skip_rows``: a number of lines for every
    file, or one per file key, e.g. ``{test_path: 1}`` for adult.test's junk first line.
    """
    files = {key: value for key, value in (("path", path), ("val_path", val_path), ("test_path", test_path)) if value}
    skips = table_skips(skip_rows, files)
    frames = {key: read_table(file, sep, column_names, na_values, skips[key], comment, strip)
              for key, file in files.items()}
    for key, frame in frames.items():
        if frame.empty:
            raise TableError(f"{files[key]}: the file (data.{key}) has no rows (a header only?)")
        if key != "path" and list(frame.columns) != list(frames["path"].columns):
            missing = [c for c in frames["path"].columns if c not in frame.columns]
            extra = [c for c in frame.columns if c not in frames["path"].columns]
            raise TableError(f"{files[key]}: data.{key} must have the columns of {path}, in order; missing "
                             f"{missing}, extra {extra}")
    if len(files) == 1:
        return family_from_frame(frames["path"], str(path), seed, name=f"table-{Path(path).stem}", **table)
    split_of = {"path": "train", "val_path": "val", "test_path": "test"}
    given = np.concatenate([np.full(len(frame), split_of[key]) for key, frame in frames.items()])
    frame = pd.concat(list(frames.values()), ignore_index=True)
    source = " + ".join(str(f) for f in files.values())
    log.info("%s: given splits: %s", source, ", ".join(f"{split_of[k]} {len(f)} rows" for k, f in frames.items()))
    return family_from_frame(frame, source, seed, name=f"table-{Path(path).stem}", given_split=given, **table)


def table_skips(skip_rows: int | Mapping[str, int], files: dict[str, str]) -> dict[str, int]:
    if not isinstance(skip_rows, Mapping):
        return dict.fromkeys(files, int(skip_rows))
    for key in skip_rows:
        if key not in FILE_KEYS:
            raise TableError(f"{files['path']}: data.skip_rows names {key!r}, expected a number or a mapping with "
                             f"keys among {FILE_KEYS}")
    return {key: int(skip_rows.get(key, 0)) for key in files}
