"""Seeded, stratified splits and target subsets shared by the digits and table families."""

import numpy as np
import pytest

from bench.data.family import FamilyError
from bench.data.splits import allocate, split_rows, stratified_subset


def test_allocate_is_proportional_and_exact():
    shares = allocate(np.array([50, 30, 20]), 11)
    assert shares.sum() == 11
    assert shares.tolist() == [6, 3, 2]
    assert allocate(np.array([3, 3]), 0).tolist() == [0, 0]


def test_split_rows_partitions_and_keeps_class_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    splits = split_rows(100, 0.2, 0.3, np.random.default_rng(0), labels)
    together = np.concatenate(list(splits.values()))
    assert sorted(together.tolist()) == list(range(100))  # disjoint and complete
    assert {k: len(v) for k, v in splits.items()} == {"train": 50, "val": 20, "test": 30}
    assert (labels[splits["test"]] == 1).sum() == 6 and (labels[splits["val"]] == 1).sum() == 4


def test_split_rows_depends_on_the_seed_only():
    a = split_rows(60, 0.2, 0.2, np.random.default_rng(3))
    b = split_rows(60, 0.2, 0.2, np.random.default_rng(3))
    c = split_rows(60, 0.2, 0.2, np.random.default_rng(4))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_split_rows_refuses_too_few_rows_naming_where():
    with pytest.raises(FamilyError, match=r"my.csv, task 'a': 3 rows are too few for the splits"):
        split_rows(3, 0.2, 0.2, np.random.default_rng(0), where="my.csv, task 'a'")


def test_stratified_subset_is_balanced_and_nested():
    rows = np.arange(100, 200)
    labels = np.repeat(np.arange(5), 20)
    small = stratified_subset(rows, 10, np.random.default_rng(1), labels)
    large = stratified_subset(rows, 40, np.random.default_rng(1), labels)
    assert np.bincount(labels[small - 100]).tolist() == [2] * 5
    assert set(small) <= set(large)
    assert len(stratified_subset(rows, 500, np.random.default_rng(1), labels)) == 100
