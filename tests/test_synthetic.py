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


TEACHER = dict(family="teacher", label_noise=0.3, **SMALL)


@pytest.mark.parametrize("knob, values", [("relatedness", [0.0, 0.5, 1.0]), ("feature_relatedness", [0.0, 1.0]),
                                          ("covariate_shift", [0.0, 2.0]), ("concept_shift", [0.0, 1.0]),
                                          ("target", ["task0", "task2"])])
def test_the_teachers_anchor_is_the_same_along_every_knob_that_moves_the_others(knob, values):
    draws = [make_synthetic(4, n_train=16, **{**TEACHER, "covariate_shift": 1.0, knob: v}) for v in values]
    for split in ("train", "val", "test"):
        for family in draws[1:]:
            ours, first = family.tasks[0].split(split), draws[0].tasks[0].split(split)
            assert torch.equal(ours.x, first.x) and torch.equal(ours.y, first.y)
    if knob != "target":
        assert not torch.equal(draws[0].tasks[1].train.y, draws[-1].tasks[1].train.y)  # the sources move


def test_feature_relatedness_moves_the_latent_features_apart_from_the_readouts():
    shared = make_synthetic(0, n_train=4, feature_relatedness=1.0, relatedness=0.0, **TEACHER).descriptors
    apart = make_synthetic(0, n_train=4, feature_relatedness=0.0, relatedness=1.0, **TEACHER).descriptors
    assert shared["feature_overlap"] == pytest.approx(1.0) and apart["feature_overlap"] < 0.5
    assert apart["readout_cosine"] == pytest.approx(1.0) and abs(shared["readout_cosine"]) < 0.9


def test_the_teacher_has_no_linear_part_and_its_own_features_reach_the_bayes_risk():
    """Least squares on x explains nothing; on the teacher's features (fitted readouts) it reaches sigma^2."""
    from bench.data.synthetic import check_knobs, synthetic_teacher

    knobs = check_knobs(n_tasks=1, n_train=4000, **{**TEACHER, "n_test": 4000})
    family, teacher = make_synthetic(1, **knobs), synthetic_teacher(1, knobs)
    task = family.tasks[0]
    x, y, tx, ty = (a.double().numpy() for a in (task.train.x, task.train.y, task.test.x, task.test.y))

    def held_out_mse(train, test):
        train, test = np.hstack([train, np.ones((len(train), 1))]), np.hstack([test, np.ones((len(test), 1))])
        return float(np.mean((test @ np.linalg.lstsq(train, y, rcond=None)[0] - ty) ** 2))

    assert held_out_mse(x, tx) > 0.95 * float(ty.var())  # R^2 <= 0.05
    assert held_out_mse(teacher.features(0, x), teacher.features(0, tx)) == pytest.approx(0.09, rel=0.1)
    assert family.descriptors["bayes_risk"]["task0"] == pytest.approx(0.09)


@pytest.mark.parametrize("concept", [0.0, 1.0])
def test_a_shift_keeps_every_tasks_signal_to_noise_ratio(concept):
    from bench.data.synthetic import check_knobs, synthetic_teacher

    knobs = check_knobs(family="teacher", covariate_shift=3.0, concept_shift=concept, label_noise=0.5)
    teacher = synthetic_teacher(2, knobs)
    for t in range(teacher.n_tasks):
        signal = teacher.signal(t, teacher.inputs(t, np.random.default_rng(t), 20_000))
        assert float(signal.std()) * 0.5 == pytest.approx(teacher.noise[t], rel=0.05)


def test_a_concept_shift_moves_the_function_with_the_inputs():
    """At concept_shift 1 a source is its unshifted task in moved coordinates: f(mu + s g) = f_unshifted(g)."""
    from bench.data.synthetic import check_knobs, synthetic_teacher

    moved = synthetic_teacher(3, check_knobs(family="teacher", covariate_shift=2.0, concept_shift=1.0))
    still = synthetic_teacher(3, check_knobs(family="teacher"))
    g = np.random.default_rng(0).standard_normal((50, 20))
    assert np.allclose(moved.signal(1, moved.means[1] + moved.stds[1] * g), still.signal(1, g))
    covariate = synthetic_teacher(3, check_knobs(family="teacher", covariate_shift=2.0))
    assert np.allclose(covariate.signal(1, g), still.signal(1, g))  # a covariate shift keeps the function


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_classification_bayes_error_agrees_with_a_monte_carlo_of_the_labels(n_classes):
    """The Bayes classifier (sign / arg-max of the clean signal) errs on fresh noisy labels at the stated rate."""
    from bench.data.synthetic import check_knobs, synthetic_teacher

    knobs = check_knobs(family="teacher", kind="classification", n_classes=n_classes, label_noise=0.5)
    family, teacher = make_synthetic(5, **knobs), synthetic_teacher(5, knobs)
    rng = np.random.default_rng(9)
    x = teacher.inputs(1, rng, 200_000)
    clean = teacher.signal(1, x)
    noisy = clean + teacher.noise[1] * rng.standard_normal(clean.shape)
    choose = (lambda s: s[:, 0] > 0) if n_classes == 2 else (lambda s: s.argmax(axis=1))
    measured = float(np.mean(choose(clean) != choose(noisy)))
    stated, error = family.descriptors["bayes_risk"]["task1"], family.descriptors["bayes_risk_se"]["task1"]
    assert 0 < error < 0.005 and family.descriptors["risk_metric"] == "error"
    assert abs(measured - stated) < 4 * error + 4 * np.sqrt(measured * (1 - measured) / len(x))


@pytest.mark.parametrize(
    "knobs, culprit", [({"family": "convex"}, "family='convex'"), ({"feature_relatedness": 0.5},
                                                                   "feature_relatedness=0.5"),
                       ({"family": "teacher", "feature_dim": 21}, "feature_dim=21"),
                       ({"concept_shift": 2.0}, "concept_shift=2.0"), ({"feature_map": "relu"}, "feature_map='relu'")])
def test_check_knobs_names_the_culprit(knobs, culprit):
    from bench.data.synthetic import check_knobs

    with pytest.raises(FamilyError, match=f"{culprit} is invalid"):
        check_knobs(**knobs)


def test_check_knobs_covers_unknown_knobs_and_the_target():
    from bench.data.synthetic import check_knobs

    with pytest.raises(FamilyError, match="synthetic data: got an unexpected keyword argument 'relatednes'"):
        check_knobs(relatednes=0.5)
    with pytest.raises(FamilyError, match="data.target='task9' is not a task"):
        check_knobs(target="task9")
    assert check_knobs(family="teacher")["n_train"] == 64  # the defaults filled in
