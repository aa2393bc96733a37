"""``data=table``: the user's own CSV or Parquet file as a task family (see bench/data/frame.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.data.family import TaskFamily
from bench.data.frame import TableError, family_from_frame

PARQUET_SUFFIXES = (".parquet", ".pq")
TAB_SUFFIXES = (".tsv", ".tab")


def read_table(
    path: str | Path, sep: str | None = None, column_names: Sequence[str] | None = None,
    na_values: Sequence[str] = (),
) -> pd.DataFrame:
    """The file as a DataFrame; delimited text (``sep``: tab for .tsv/.tab, else comma) or Parquet.

    ``column_names`` is for text files without a header row; ``na_values`` are extra strings that mean
    a missing value (e.g. ``?``). Spaces after a separator are skipped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise TableError(f"table file not found: {path}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet(path)
    sep = sep or ("\t" if path.suffix.lower() in TAB_SUFFIXES else ",")
    options = dict(sep=sep, skipinitialspace=True, na_values=list(na_values))
    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, **options).iloc[0].tolist()
        if column_names is not None:
            column_names = list(column_names)
            if len(column_names) != len(first):
                raise TableError(f"{path}: data.column_names names {len(column_names)} columns, the file has "
                                 f"{len(first)} (separator {sep!r})")
            _check_unique(column_names, f"{path}: data.column_names")
            return pd.read_csv(path, header=None, names=column_names, **options)
        _check_unique([str(c).strip() for c in first], f"{path}: header")
        return pd.read_csv(path, **options)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TableError(f"{path}: cannot be read as a table with separator {sep!r}: "
                         f"{str(error).splitlines()[0]}") from error


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
    na_values: Sequence[str] = (), **table,
) -> TaskFamily:
    """A task family from the file at ``path`` (read by ``read_table``); ``table`` holds
    ``family_from_frame``'s arguments (targets, features, task_column, kind, missing, ...)."""
    frame = read_table(path, sep, column_names, na_values)
    return family_from_frame(frame, str(path), seed, name=f"table-{Path(path).stem}", **table)
