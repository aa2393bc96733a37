"""The classical arms' regularisation paths (issue 21): the same models as scikit-learn fit one strength at a
time, for a fraction of the time, and pooled arms that see no task identity through the target scaling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from bench.data import family_from_frame
from bench.regimes import Classical
from bench.regimes.classical import STRENGTHS, _logistic_path, _RidgePath
from bench.regimes.population import grid


def _run(estimator: str, family) -> dict:
    (outcome,) = Classical(estimator).run([family], None, None, grid([0], [1e-3], [0.0]))
    return outcome


def test_the_closed_form_ridge_path_is_scikit_learns_ridge_at_every_strength():
    rng = np.random.default_rng(0)
    x = np.hstack([rng.normal(3, 2, (40, 5)), np.ones((40, 1))])  # a constant column, as an unseen category
    y = x[:, :2] @ [[1.0, -2.0], [0.5, 0.0]] + rng.normal(0, 0.3, (40, 2))
    new = rng.normal(3, 2, (7, 6))
    path = _RidgePath(x, y)
    for index, alpha in enumerate(STRENGTHS):
        reference = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x, y).predict(new)
        np.testing.assert_allclose(path.predictor(index)(new), reference, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_warm_started_logistic_path_is_scikit_learns_logistic_regression(n_classes):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 4))
    y = np.digitize(x[:, 0] - x[:, 1] + rng.normal(0, 1.0, 120), [0.8] if n_classes == 2 else [-0.5, 0.8])
    path = _logistic_path(x, y, n_classes=n_classes + 1)  # one class that training never saw: log(1e-12)
    scaler = StandardScaler().fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index in (0, 8, 16):
            cold = LogisticRegression(C=1 / STRENGTHS[index], max_iter=2000).fit(scaler.transform(x), y)
            probabilities = np.exp(path[index](x))
            np.testing.assert_allclose(probabilities[:, :n_classes], cold.predict_proba(scaler.transform(x)),
                                       atol=1e-3)  # both stop at L-BFGS's tolerance (1e-4), from different starts
            assert probabilities[:, n_classes].max() < 1e-11


def _offset_tasks(seed: int = 0) -> pd.DataFrame:
    """Four sites, one slope, offsets far apart: what pooling without the site can and cannot learn."""
    rng = np.random.default_rng(seed)
    frames = []
    for site, offset in zip("abcd", (0.0, 40.0, 80.0, 120.0), strict=True):
        x = rng.normal(size=80)
        frames.append(pd.DataFrame({"x": x, "site": site, "y": offset + 2 * x + rng.normal(0, 0.5, 80)}))
    return pd.concat(frames, ignore_index=True)


def test_pooled_ridge_gets_no_task_identity_from_the_per_task_scaling():
    family = family_from_frame(_offset_tasks(), "sites", 0, targets="y", task_column="site")
    pooled, indicators = _run("ridge_pooled", family), _run("ridge_pooled_tasks", family)
    pooled_rmse = np.mean([t["test"]["rmse"] for t in pooled.tasks])
    indicator_rmse = np.mean([t["test"]["rmse"] for t in indicators.tasks])
    assert pooled_rmse > 20  # one intercept for offsets 0..120: per-task standardisation would have handed it theirs
    assert indicator_rmse < 1  # the task indicator is how a pooled arm may know the task


def test_scikit_learn_takes_the_jobs_thread_count(monkeypatch):
    seen = []
    monkeypatch.setattr(Classical, "fit_family", lambda self, family, seed: seen.append(
        max(pool["num_threads"] for pool in threadpool_info())))
    Classical("ridge").run([None], None, None, grid([0], [1e-3], [0.0]))
    assert seen == [1]  # conftest sets torch to one thread, as bench.run does with threads=1


@pytest.mark.parametrize("estimator", ["ridge", "ridge_pooled_tasks"])
def test_a_classification_table_still_chooses_on_validation_only(estimator):
    frame = _offset_tasks().assign(y=lambda f: (f["y"] % 40 > 20).astype(int))
    family = family_from_frame(frame, "sites", 0, targets="y", task_column="site")
    outcome = _run(estimator, family)
    assert {t["task"] for t in outcome.tasks} == {"site=a", "site=b", "site=c", "site=d"}
    assert all(setting["alpha"] in STRENGTHS for setting in outcome.fit["chosen"].values())
