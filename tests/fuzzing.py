"""What the fuzz tests share: one fixed Hypothesis profile and the strategies that break a JSON document.

The profile is derandomised (the same examples on every run and machine), keeps no example database and
bounds the examples per test, so that CI is deterministic and the fuzz suite stays within its minute.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Any JSON value, nested a little: the type-valid-but-wrong values a file can hold.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5)


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``document``: the root, each key of each object and each item of each list."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one place replaced by any JSON value, or removed (a key of an object)."""
    document = copy.deepcopy(document)
    place = draw(st.sampled_from(paths(document)))
    if not place:
        return draw(JSON)
    *parent_path, last = place
    parent = document
    for step in parent_path:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[last]
    else:
        parent[last] = draw(JSON)
    return document


def stub_figures(monkeypatch) -> None:
    """Figures are drawn from tables the report has already computed; an empty file stands for each, so that a
    report takes a fraction of a second (the page still embeds every figure file)."""
    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, name, *args, **kwargs: Path(name).touch())
