"""Tuning choices as their readers get them: checked against the choice schema (bench/results/schema.py).

The tuning stage reads the choice of one (condition, arm): a corrupt one (truncated, emptied, ``{}``, another
choice's, or chosen values that are not its space's keys) counts as missing, so the stage makes it again
and replaces it; its trials are stored apart, so that costs no training. The report reads a study's choices
and skips a bad file with a one-line warning, as it does a bad record.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.results.records import BadFile, read_checked, warn
from bench.results.scan import scan_files
from bench.results.schema import choice_problem


def _within(dimension: Any, value: Any) -> bool:
    """Whether ``value`` lies in a tuning dimension (bench/tuning/space.py): one of its grid values, or a
    number in its range."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if dimension.values is not None:
        return any(value == option and isinstance(option, bool) == isinstance(value, bool)
                   for option in dimension.values)
    return number and dimension.low <= value <= dimension.high


def read_choice(path: Path, space: Iterable[Any]) -> dict | None:
    """The stored choice at ``path`` whose chosen values are one setting of ``space`` (the arm's dimensions), or
    None: there is none, or it is not a valid choice of this condition (with a warning; tuning runs again)."""
    try:
        choice = read_checked(path, choice_problem)
    except BadFile as error:
        warn(f"{error}; tuning again to replace it")
        return None
    if choice is None:
        return None
    if choice["run_id"] != Path(path).stem:
        warn(f"{path}: run_id={choice['run_id']!r} is another choice's; tuning again to replace it")
        return None
    dimensions = {dimension.key: dimension for dimension in space}
    chosen = choice["chosen"]
    if set(chosen) != set(dimensions) or not all(_within(dimensions[k], v) for k, v in chosen.items()):
        warn(f"{path}: chosen={chosen} is not a setting of its space ({', '.join(dimensions)}); tuning again "
             "to replace it")
        return None
    return choice


def load_choices(experiments: Path, study: str) -> list[dict]:
    """The stored choices of a study (bench/tuning/stage.py writes them beside its trial runs); a file that is
    not a valid choice is skipped with a one-line warning."""
    folder = Path(experiments) / ".tuning" / study
    return scan_files(sorted(folder.glob("*.json")), choice_problem)[0] if folder.is_dir() else []
