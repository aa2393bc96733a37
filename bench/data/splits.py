"""Seeded train/val/test splits and target subsets, stratified by class where labels are given.

Quotas are allocated across strata by largest remainder, so a split keeps the class proportions and
its total size is exactly ``round(n * fraction)`` even when every class is small. Each stratum is
permuted once from the seed, so a smaller subset of the same rows is (nearly always) a prefix of a
larger one.
"""

from __future__ import annotations

import numpy as np

from bench.data.family import FamilyError


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``counts`` (largest remainder, ties to the first)."""
    counts = np.asarray(counts, dtype=float)
    if total == 0:
        return np.zeros(len(counts), dtype=np.int64)
    quotas = counts * total / counts.sum()
    shares = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - shares), kind="stable")
    shares[order[: total - shares.sum()]] += 1
    return shares


def _strata(n: int, labels: np.ndarray | None) -> list[np.ndarray]:
    """Row positions of each stratum (a single stratum when there are no labels)."""
    if labels is None:
        return [np.arange(n)]
    _, inverse = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return [np.flatnonzero(inverse == s) for s in range(inverse.max() + 1)]


def split_rows(
    n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator,
    labels: np.ndarray | None = None, where: str = "data",
) -> dict[str, np.ndarray]:
    """Positions ``0..n-1`` cut into sorted train/val/test index arrays, stratified by ``labels``."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise FamilyError(f"{where}: val_fraction={val_fraction} and test_fraction={test_fraction} must lie in "
                          "(0, 1) and sum to less than 1")
    strata = _strata(n, labels)
    counts = np.array([len(s) for s in strata])
    held = allocate(counts, round(n * (val_fraction + test_fraction)))
    test = allocate(held, round(n * test_fraction))
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for rows, n_held, n_test in zip(strata, held, test, strict=True):
        order = rows[rng.permutation(len(rows))]
        parts["test"].append(order[:n_test])
        parts["val"].append(order[n_test:n_held])
        parts["train"].append(order[n_held:])
    splits = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    if min(len(rows) for rows in splits.values()) < 1 or len(splits["train"]) < 2:
        sizes = ", ".join(f"{name}={len(rows)}" for name, rows in splits.items())
        raise FamilyError(f"{where}: {n} rows are too few for the splits (val_fraction={val_fraction}, "
                          f"test_fraction={test_fraction} give {sizes}; train needs >= 2, val and test >= 1)")
    return splits


def stratified_subset(
    rows: np.ndarray, size: int, rng: np.random.Generator, labels: np.ndarray | None = None
) -> np.ndarray:
    """``size`` of ``rows`` (sorted), keeping the class proportions of ``labels`` (one per row)."""
    rows = np.asarray(rows)
    if size >= len(rows):
        return rows
    strata = _strata(len(rows), labels)
    shares = allocate(np.array([len(s) for s in strata]), size)
    chosen = [stratum[rng.permutation(len(stratum))][:k] for stratum, k in zip(strata, shares, strict=True)]
    return np.sort(rows[np.concatenate(chosen)])


def given_rows(
    rows: np.ndarray, given: np.ndarray, val_fraction: float, rng: np.random.Generator,
    labels: np.ndarray | None = None, where: str = "data",
) -> dict[str, np.ndarray]:
    """Splits that come with the data: ``given[row]`` is ``train``, ``val`` or ``test``. Without ``val`` rows,
    ``val_fraction`` of the training rows become validation rows (stratified by ``labels``, one per row)."""
    own = given[rows]
    splits = {name: rows[own == name] for name in ("train", "val", "test")}
    if not len(splits["val"]):
        train_labels = None if labels is None else np.asarray(labels)[own == "train"]
        strata = _strata(len(splits["train"]), train_labels)
        n_val = allocate(np.array([len(s) for s in strata]), round(len(splits["train"]) * val_fraction))
        chosen = [s[rng.permutation(len(s))][:k] for s, k in zip(strata, n_val, strict=True)]
        held = np.zeros(len(splits["train"]), dtype=bool)
        held[np.concatenate(chosen)] = True
        splits["train"], splits["val"] = splits["train"][~held], splits["train"][held]
    if min(len(r) for r in splits.values()) < 1 or len(splits["train"]) < 2:
        sizes = ", ".join(f"{name}={len(r)}" for name, r in splits.items())
        raise FamilyError(f"{where}: the given splits leave too few rows ({sizes}; train needs >= 2, val and "
                          f"test >= 1; data.val_fraction={val_fraction} of the training rows become val rows when "
                          "no data.val_path is given)")
    return {name: np.sort(r) for name, r in splits.items()}
