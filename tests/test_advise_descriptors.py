"""The advisor's descriptors: they point the right way on families whose answer is known, read training rows
only, and are the same every time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bench.advise import AdviceError
from bench.advise.descriptors import DESCRIPTORS, describe
from bench.advise.rows import sample_tasks, training_rows
from bench.data import Split, TaskFamily, make_digits_tasks, make_synthetic

SMALL = dict(n_tasks=3, input_dim=6, n_val=16, n_test=16, label_noise=0.3)


@pytest.fixture(scope="module")
def identical():
    return describe(make_synthetic(0, relatedness=1.0, n_train=24, **SMALL)).values


@pytest.fixture(scope="module")
def unrelated():
    return describe(make_synthetic(0, relatedness=0.0, n_train=24, **SMALL)).values


def test_identical_tasks_look_like_mtl_and_unrelated_ones_do_not(identical, unrelated):
    assert identical["pooled_gain"] > 0 > unrelated["pooled_gain"]
    assert identical["readout_alignment"] > 0.9 > 0.5 > unrelated["readout_alignment"]
    assert identical["logme_gain"] > unrelated["logme_gain"]
    assert list(identical) == list(DESCRIPTORS)


def test_a_scarce_target_with_an_abundant_related_source_looks_like_transfer():
    scarce = describe(make_synthetic(0, relatedness=1.0, n_train=128, target_size=6, **SMALL)).values
    whole = describe(make_synthetic(0, relatedness=1.0, n_train=128, **SMALL)).values
    assert scarce["pooled_gain_target"] > whole["pooled_gain_target"] and scarce["pooled_gain_target"] > 0
    assert scarce["target_share"] < 0.05 < whole["target_share"]
    assert scarce["log_target_rows"] < whole["log_target_rows"]
    assert scarce["logme_gain"] > 0


def test_tasks_on_the_same_images_share_inputs_and_their_labels_depend():
    values = describe(make_digits_tasks(0, tasks=["ge5", "identity"], target_size=40)).values
    assert values["shared_inputs"] == 1.0 and values["input_shift"] == 0.5
    assert values["label_dependence"] > 0.3
    assert np.isnan(values["pooled_gain_target"])  # 2 classes and 10 cannot be pooled in one model


def _replace_held_out_splits(family: TaskFamily) -> TaskFamily:
    generator = torch.Generator().manual_seed(99)

    def noise(split: Split, kind: str) -> Split:
        x = torch.randn(split.x.shape, generator=generator) * 100
        y = split.y.flip(0) if kind == "classification" else torch.randn(split.y.shape, generator=generator)
        return Split(x, y)

    tasks = tuple(dataclasses.replace(t, val=noise(t.val, t.kind), test=noise(t.test, t.kind)) for t in family.tasks)
    return TaskFamily(family.name, tasks, family.knobs, family.descriptors)


def test_no_validation_or_test_row_enters_a_descriptor():
    family = make_synthetic(1, relatedness=0.5, n_train=20, **SMALL)
    np.testing.assert_array_equal(list(describe(family).values.values()),  # NaN equals NaN here
                                  list(describe(_replace_held_out_splits(family)).values.values()))


def test_descriptors_are_deterministic():
    family = make_synthetic(2, kind="classification", n_train=20, **SMALL)
    np.testing.assert_array_equal(list(describe(family, seed=3).values.values()),
                                  list(describe(family, seed=3).values.values()))


def test_a_family_of_one_task_is_refused_in_one_line():
    family = make_synthetic(0, **{**SMALL, "n_tasks": 1})
    with pytest.raises(AdviceError, match="has 1 task: there is nothing to share or transfer") as error:
        training_rows(family)
    assert "\n" not in str(error.value)


def test_many_tasks_are_sampled_with_the_target_kept():
    tasks = training_rows(make_synthetic(0, n_tasks=20, input_dim=3, n_train=4, n_val=2, n_test=2))
    sampled = sample_tasks(tasks, 5, seed=0)
    assert len(sampled) == 5 and sampled[0] is tasks[0] and len({t.name for t in sampled}) == 5
    assert [t.name for t in sample_tasks(tasks, 5, seed=0)] == [t.name for t in sampled]
