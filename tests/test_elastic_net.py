"""The MultiTaskElasticNet arm: regularised on validation, fit jointly over tasks that share rows (issue 9)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bench.data import FamilyError, Split, family_from_frame, make_digits_tasks, make_synthetic
from bench.regimes import Classical
from bench.regimes.population import grid


def _shared_support(seed: int, n: int = 150, d: int = 40) -> pd.DataFrame:
    """Three targets that read the same three of 40 inputs, with noise: where a joint sparse fit helps."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    weights = rng.standard_normal((3, 3))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(d)])
    for k, name in enumerate("abc"):
        frame[name] = x[:, :3] @ weights[k] + 0.5 * rng.standard_normal(n)
    return frame


def _run(estimator: str, family) -> dict:
    (outcome,) = Classical(estimator).run([family], None, None, grid([0], [1e-3], [0.0]))
    return outcome


def test_it_beats_ridge_per_task_where_tasks_share_a_sparse_support():
    gaps = []
    for seed in range(3):
        family = family_from_frame(_shared_support(seed), "shared", seed, targets=["a", "b", "c"],
                                   val_fraction=0.25, test_fraction=0.4)
        net, ridge = _run("multitask_elasticnet", family), _run("ridge", family)
        assert [t["task"] for t in net.tasks] == ["a", "b", "c"]
        gaps.append(np.mean([r["test"]["mse"] - n["test"]["mse"] for n, r in zip(net.tasks, ridge.tasks, strict=True)]))
    assert np.mean(gaps) > 0, gaps


def test_its_setting_is_chosen_on_validation_and_matches_scikit_learn():
    from sklearn.linear_model import MultiTaskElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    family = family_from_frame(_shared_support(0), "shared", 0, targets=["a", "b", "c"])
    outcome = _run("multitask_elasticnet", family)
    chosen = outcome.fit["chosen"]["a"]
    assert set(chosen) == {"alpha", "l1_ratio"} and chosen == outcome.fit["chosen"]["c"]
    x = family.tasks[0].train.x.numpy().astype(np.float64)
    y = np.hstack([t.train.y.numpy() for t in family.tasks]).astype(np.float64)
    reference = make_pipeline(StandardScaler(), MultiTaskElasticNet(**chosen, max_iter=5000)).fit(x, y)
    predicted = reference.predict(family.tasks[0].test.x.numpy().astype(np.float64))[:, 1]
    mse = float(np.mean((predicted - family.tasks[1].test.y.numpy()[:, 0]) ** 2)) * family.tasks[1].target_std[0] ** 2
    assert outcome.tasks[1]["test"]["mse"] == pytest.approx(mse, rel=1e-5)

    rng = np.random.default_rng(1)
    scrambled = [replace(t, test=Split(t.test.x, t.test.y[rng.permutation(len(t.test))])) for t in family.tasks]
    again = _run("multitask_elasticnet", family.subset(tuple(scrambled)))
    assert again.fit["chosen"] == outcome.fit["chosen"]  # the test split plays no part in the choice


@pytest.mark.parametrize(("family", "message"), [
    (make_synthetic(0, n_tasks=2), "multitask_elasticnet needs tasks on the same rows"),
    (make_digits_tasks(0, tasks=["parity", "ge5"]), "multitask_elasticnet fits regression tasks, 'parity'"),
])
def test_families_it_cannot_fit_say_why_in_one_line(family, message):
    with pytest.raises(FamilyError, match=message) as error:
        _run("multitask_elasticnet", family)
    assert "\n" not in str(error.value)
