import numpy as np
import pytest
import torch

from bench.data import FamilyError, make_synthetic

SMALL = dict(n_val=8, n_test=8)


@pytest.mark.parametrize("rho", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_measured_cosine_follows_relatedness(rho):
    cosines = [make_synthetic(s, relatedness=rho, input_dim=8, feature_dim=400, n_train=4, **SMALL)
               .descriptors["readout_cosine"] for s in range(5)]
    assert abs(np.mean(cosines) - rho) < 0.06


def test_the_target_is_the_same_at_every_relatedness():
    draws = [make_synthetic(3, relatedness=rho, n_train=16, **SMALL) for rho in (0.0, 0.5, 1.0)]
    for split in ("train", "val", "test"):
        for family in draws[1:]:
            ours, first = family.tasks[0].split(split), draws[0].tasks[0].split(split)
            assert torch.equal(ours.x, first.x) and torch.equal(ours.y, first.y)
    assert not torch.equal(draws[0].tasks[1].train.y, draws[2].tasks[1].train.y)  # the sources move


def test_relatedness_one_gives_identical_labelling_functions():
    family = make_synthetic(0, relatedness=1.0, label_noise=0.0, n_train=64, **SMALL)
    x = family.tasks[0].train.x
    # Same inputs are not shared across tasks, so compare the noiseless functions through a least-squares fit.
    betas = [torch.linalg.lstsq(t.train.x, t.train.y).solution for t in family.tasks]
    for beta in betas[1:]:
        assert torch.allclose(x @ beta, x @ betas[0], atol=1e-3)


def test_imbalance_follows_geometric_ladder():
    family = make_synthetic(0, n_tasks=4, n_train=800, imbalance=8.0, **SMALL)
    sizes = [len(t.train) for t in family.tasks]
    assert sizes == [800, 400, 200, 100]
    assert family.descriptors["train_sizes"] == sizes
    assert [len(t.train) for t in make_synthetic(0, n_tasks=4, n_train=800, **SMALL).tasks] == [800] * 4


def test_target_size_sets_task0_and_is_a_prefix_of_larger_draws():
    small = make_synthetic(3, n_train=64, target_size=8, **SMALL)
    large = make_synthetic(3, n_train=64, target_size=32, **SMALL)
    assert len(small.target.train) == 8 and small.knobs["target_size"] == 8
    assert all(len(t.train) == 64 for t in small.sources)
    assert torch.equal(small.target.train.x, large.target.train.x[:8])
    assert torch.equal(small.target.train.y, large.target.train.y[:8])
    assert torch.equal(small.target.test.x, large.target.test.x)


def test_covariate_shift_moves_the_inputs_of_the_sources_only():
    still = make_synthetic(0, covariate_shift=0.0, n_train=2000, **SMALL)
    moved = make_synthetic(0, covariate_shift=3.0, n_train=2000, **SMALL)
    assert still.descriptors["mean_shift"] < 0.5
    assert moved.descriptors["mean_shift"] > 2.5
    assert torch.equal(still.target.train.x, moved.target.train.x)
    distance = (moved.tasks[1].train.x.mean(0) - moved.tasks[0].train.x.mean(0)).norm()
    assert 2.5 < distance < 3.5


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_same_seed_is_bit_identical_and_other_seed_differs(kind):
    a, b, c = (make_synthetic(s, kind=kind, n_train=32, **SMALL) for s in (5, 5, 6))
    for ta, tb, tc in zip(a.tasks, b.tasks, c.tasks, strict=True):
        for split in ("train", "val", "test"):
            assert torch.equal(ta.split(split).x, tb.split(split).x)
            assert torch.equal(ta.split(split).y, tb.split(split).y)
        assert not torch.equal(ta.train.x, tc.train.x)


def test_classification_labels_and_noise():
    family = make_synthetic(0, kind="classification", n_classes=3, n_train=600, label_noise=0.0, **SMALL)
    counts = torch.bincount(family.target.train.y, minlength=3)
    assert family.target.n_outputs == 3 and (counts > 60).all()
    regression = make_synthetic(0, n_train=4000, label_noise=0.0, **SMALL).target.train.y
    assert 0.8 < float(regression.std()) < 1.2  # unit-variance signal: label_noise is a noise-to-signal ratio


@pytest.mark.parametrize(
    "knob, value", [("relatedness", 1.5), ("relatedness", -0.1), ("imbalance", 0.5), ("n_tasks", 0),
                    ("covariate_shift", -1.0), ("target_size", 1), ("kind", "ranking"), ("relatedness", "high")]
)
def test_invalid_knob_names_it(knob, value):
    with pytest.raises(FamilyError, match=f"{knob}={value!r} is invalid"):
        make_synthetic(0, **{knob: value})
