"""Tables that ship inside the scikit-learn wheel (no download) as task families, through the table adapter."""

from __future__ import annotations

from collections.abc import Mapping

from bench.data.family import TaskFamily
from bench.data.frame import TableError, family_from_frame

# scikit-learn's load_* functions whose data is in the wheel; the fetch_* ones download and are not here.
BUNDLED = ("breast_cancer", "diabetes", "iris", "linnerud", "wine")


def make_bundled_table(seed: int, dataset: str, load_options: Mapping | None = None, **table) -> TaskFamily:
    """``sklearn.datasets.load_<dataset>(as_frame=True, **load_options)``, features and targets in one frame;
    ``table`` holds ``family_from_frame``'s arguments (targets, task_column, ...)."""
    if dataset not in BUNDLED:
        raise TableError(f"data.dataset={dataset!r} is invalid, expected one of {BUNDLED}")
    import sklearn.datasets

    frame = getattr(sklearn.datasets, f"load_{dataset}")(as_frame=True, **dict(load_options or {})).frame
    return family_from_frame(frame, f"scikit-learn {dataset}", seed, name=dataset, **table)
