"""Random malformed tables through data=table (issue 22): each ends in a clear line or a sound family, never a
traceback. Files are written as text, so that what breaks is what a user's file can hold: odd headers (empty,
duplicated, quoted, non-ASCII), ragged rows, stray text among numbers, missing markers, infinities, one class,
too few rows, separators inside values; targets and task columns that may not exist."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data import FamilyError, TaskFamily, make_table
from bench.data.layout import table_layout

NAMES = ["x", "y", "g", "score", "", "x", "subject#", "total UPDRS", "ü", "a;b", '"q"']
CELLS = st.one_of(
    st.integers(-5, 5).map(str), st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.3g}"),
    st.sampled_from(["", "?", "NA", "nan", "inf", "-inf", "abc", "17 pts", "1,5", '"x,y"', "yes", "no", " ", "é"]),
)


@st.composite
def tables(draw) -> tuple[str, dict]:
    """A CSV text and the data.* keys a user might pass with it: junk from scratch, or a sound table of three
    groups with a few cells, header names or row lengths broken (so that deep paths run too)."""
    if draw(st.booleans()):
        header = [draw(st.sampled_from(NAMES)) for _ in range(draw(st.integers(1, 5)))]
        rows = [[draw(CELLS) for _ in range(len(header) + draw(st.sampled_from([0, 0, 0, -1, 1])))]
                for _ in range(draw(st.integers(0, 40)))]
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        header = ["x", "c", "g", "y", "z"]
        rows = [[f"{rng.normal():.3f}", str(rng.choice(["red", "blue"])), f"g{i % 3}", f"{rng.normal(50, 5):.1f}",
                 str(rng.choice(["yes", "no"]))] for i in range(60)]
        for _ in range(draw(st.integers(0, 4))):
            row = draw(st.integers(0, len(rows) - 1))
            how = draw(st.sampled_from(["cell", "cell", "header", "short", "long"]))
            if how == "cell":
                rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(CELLS)
            elif how == "header":
                header[draw(st.integers(0, 4))] = draw(st.sampled_from(NAMES))
            else:
                rows[row] = rows[row][:-1] if how == "short" and len(rows[row]) > 1 else [*rows[row], draw(CELLS)]
    text = "\n".join(",".join(row) for row in [header, *rows]) + "\n"
    columns = [name for name in header if name] + ["missing_column"]
    options = {"targets": draw(st.one_of(st.sampled_from(columns), st.lists(st.sampled_from(columns), max_size=3))),
               "task_column": draw(st.one_of(st.none(), st.sampled_from(columns))),
               "missing": draw(st.sampled_from(["error", "drop", "impute"])),
               "kind": draw(st.sampled_from(["auto", "auto", "regression", "classification"]))}
    return text, options


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(0, 3))
def test_a_malformed_table_is_one_clear_line_or_a_sound_family(table, seed):
    text, options = table
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text(text)
        for build in (lambda: make_table(seed, str(path), **options),
                      lambda: table_layout({"_target_": "bench.data.make_table", "path": str(path), **options})):
            try:
                result = build()
            except FamilyError as error:  # TableError is one: the clear line
                message = str(error)
                assert message and "\n" not in message, message
                continue
            if isinstance(result, TaskFamily):
                for task in result.tasks:
                    assert np.isfinite(task.train.x.numpy()).all() and len(task.test) > 0
