"""Tables that read without an error, but not as their user meant: each is caught and said in one line.

- **Stray text in a numeric column**: one ``abc`` among numbers makes pandas read the whole column as text,
  which would then be one-hot encoded (4 inputs became 85). A column whose values are numbers but for a
  few (``STRAY_SHARE`` of them, at most ``STRAY_VALUES`` distinct) is read as numeric, those values as
  missing, with a warning that names the column and the values; ``data.missing`` then decides.
- **A text target with many distinct values**: ``17 pts``, ``23 pts``, ... would become a classification
  with one class per value; above ``MAX_TEXT_CLASSES`` the table stops and asks for ``data.kind``.
- **Tasks nobody named**: a table of one task (one target, no ``data.task_column``) gives MTL and transfer
  nothing to share; a warning names the column that looks like the tasks (text or whole numbers, several
  rows per value, preferably named like ``subject`` or ``site``) and the override to type.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bench.data.encoding import is_numeric

STRAY_SHARE = 0.05  # at most this share of a column's values may be text for it to be read as numeric
STRAY_VALUES = 3  # ... and at most this many distinct text values
MAX_TEXT_CLASSES = 20  # a text target with more distinct values than this needs data.kind
MIN_TASK_ROWS = 10  # a column that looks like tasks holds at least this many rows per value (median)
TASK_WORDS = ("subject", "patient", "participant", "person", "user", "client", "customer", "site", "school",
              "hospital", "clinic", "store", "shop", "city", "country", "region", "station", "sensor", "device",
              "group", "task", "domain", "unit", "id")


def stray_text(column: pd.Series) -> list | None:
    """The text values of a column that is numeric but for them, or None when the column is not such."""
    if is_numeric(column) or column.dtype == bool:
        return None
    present = column.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    bad = present[numbers.isna()]
    if bad.empty or len(bad) > STRAY_SHARE * len(present) or bad.nunique() > STRAY_VALUES:
        return None
    return sorted(bad.astype(str).unique())


def read_stray_text_as_missing(frame: pd.DataFrame, columns: Sequence[str], source: str,
                               ) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with the stray text of ``columns`` read as missing and those columns made numeric, and one
    warning per column (by column name), for the caller to log."""
    warnings = {}
    for name in columns:
        values = stray_text(frame[name])
        if values is None:
            continue
        bad = frame[name].notna() & pd.to_numeric(frame[name], errors="coerce").isna()
        first = int(bad.to_numpy().argmax()) + 1
        warnings[name] = (f"{source}: column {name!r} holds numbers but for {int(bad.sum())} text value(s) "
                          f"{', '.join(map(repr, values))} (first in data row {first}): read as missing; say so with "
                          f"data.na_values={[*values]} or fix the file")
        frame = frame.assign(**{name: pd.to_numeric(frame[name], errors="coerce")})
    return frame, warnings


def text_target_problem(present: pd.Series, source: str) -> str | None:
    """Why a target's values should not be inferred to be classes: text with more than ``MAX_TEXT_CLASSES``
    distinct values is more likely a number with a unit, or an identifier, than that many classes."""
    distinct = present.nunique()
    if is_numeric(present) or distinct <= MAX_TEXT_CLASSES:
        return None
    shown = ", ".join(map(repr, sorted(present.astype(str).unique())[:3]))
    return (f"{source}: target column {present.name!r} is text with {distinct} distinct values ({shown}, ...): as a "
            f"classification each would be a class. Say so with 'data.kind={{{present.name}: classification}}', "
            "or make the column numbers (e.g. strip a unit) for a regression")


def task_column_hint(frame: pd.DataFrame, features: Sequence[str]) -> str | None:
    """The feature column that most looks like the tasks of a one-task table: text or whole numbers, from 2
    values up to one per ``MIN_TASK_ROWS`` rows; a name like ``subject`` or ``site`` first, then the most values."""
    candidates = []
    for name in features:
        values = frame[name].dropna()
        if is_numeric(values) and not (values.dtype != bool and bool((values.astype(float) % 1 == 0).all())):
            continue  # a measurement, not a label
        distinct = values.nunique()
        if 2 <= distinct <= len(values) / MIN_TASK_ROWS:
            named = any(word in str(name).lower() for word in TASK_WORDS)
            candidates.append((named, distinct, str(name)))
    return max(candidates)[2] if candidates else None


def one_task_warning(frame: pd.DataFrame, features: Sequence[str], source: str, target: str) -> str:
    """The warning of a table that makes one task: what MTL and transfer lack, and the column to name."""
    hint = task_column_hint(frame, features)
    fix = (f"if the values of column {hint!r} are your tasks (one per subject, site, ...), name it: "
           f"\"data.task_column='{hint}'\" (or list it in data.exclude if it is an identifier)" if hint else
           "name the column whose values are your tasks with data.task_column, or several data.targets")
    return (f"{source}: one task ({target!r}): MTL and transfer have nothing to share with one task and every "
            f"regime trains the same model; {fix}")
