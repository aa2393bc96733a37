"""Closed forms the laboratory and the training pipeline must reproduce (issue 9's positive controls).

With linear features and Gaussian inputs, ordinary least squares on n rows of d inputs has expected test
risk sigma^2 (1 + d / (n - d - 1)); pooling T identical tasks gives the same with T n rows. If the generator
or the pipeline were off, no verdict built on them could be trusted.
"""

import functools

import numpy as np
import pytest
import torch

from bench.data import make_synthetic
from bench.models import MLPBackbone
from bench.regimes import Classical, SingleTask
from bench.regimes.population import grid
from bench.regimes.training import Training

D, N, SIGMA = 20, 32, 0.1


def _ols_risk(train_tasks, test_task) -> float:
    x = np.vstack([t.train.x.double().numpy() for t in train_tasks])
    y = np.vstack([t.train.y.double().numpy() for t in train_tasks])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return float(np.mean((test_task.test.x.double().numpy() @ beta - test_task.test.y.double().numpy()) ** 2))


def _family(seed: int, **knobs):
    return make_synthetic(seed, input_dim=D, n_train=N, n_val=64, n_test=2000, label_noise=SIGMA, **knobs)


def test_the_generators_ols_risk_is_the_closed_form():
    risks = [_ols_risk(f.tasks[:1], f.tasks[0]) for f in (_family(seed, n_tasks=1) for seed in range(30))]
    error = np.std(risks) / np.sqrt(len(risks))
    assert np.mean(risks) == pytest.approx(SIGMA**2 * (1 + D / (N - D - 1)), abs=3 * error)


def test_pooled_ols_is_the_closed_form_for_identical_tasks_and_biased_for_unrelated_ones():
    tasks = 4
    draws = (_family(seed, n_tasks=tasks, relatedness=1.0) for seed in range(30))
    identical = [_ols_risk(f.tasks, f.tasks[0]) for f in draws]
    error = np.std(identical) / np.sqrt(len(identical))
    assert np.mean(identical) == pytest.approx(SIGMA**2 * (1 + D / (tasks * N - D - 1)), abs=3 * error)
    unrelated = [_family(s, n_tasks=tasks, relatedness=0.0) for s in range(10)]
    pooled = np.mean([_ols_risk(f.tasks, f.tasks[0]) for f in unrelated])
    separate = np.mean([_ols_risk(f.tasks[:1], f.tasks[0]) for f in unrelated])
    assert pooled > 10 * separate  # the sources' readouts are orthogonal to the target's in expectation


def test_the_suites_linear_stl_reaches_the_tuned_ridge_risk():
    """Trained by the suite's optimiser with its early stopping, not solved: within 5% of ridge on validation."""
    torch.set_num_threads(1)
    seeds = list(range(10))
    families = [_family(seed, n_tasks=1) for seed in seeds]
    linear = functools.partial(MLPBackbone, width=None, depth=1, activation="none")
    training = Training()
    suite = SingleTask().run(families, linear, training, grid(seeds, [training.lr], [0.0]))
    ridge = Classical("ridge").run(families, None, None, grid(seeds, [training.lr], [0.0]))
    suite_risk = np.mean([o.tasks[0]["test"]["mse"] for o in suite])
    ridge_risk = np.mean([o.tasks[0]["test"]["mse"] for o in ridge])
    assert suite_risk <= 1.05 * ridge_risk, (suite_risk, ridge_risk)


def test_ridge_picks_its_strength_on_validation_only():
    family = _family(0, n_tasks=2)
    (outcome,) = Classical("ridge").run([family], None, None, grid([0], [1e-3], [0.0]))
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bench.regimes.classical import STRENGTHS

    task = family.tasks[0]
    val_losses = [np.mean((make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(task.train.x.numpy(), task.train.y[:, 0]
                                                                               .numpy()).predict(task.val.x.numpy())
                           - task.val.y[:, 0].numpy()) ** 2) for a in STRENGTHS]
    assert outcome.fit["chosen"][task.name]["alpha"] == pytest.approx(STRENGTHS[int(np.argmin(val_losses))])


def test_a_linear_backbone_is_linear_and_keeps_the_input_width_by_default():
    model = MLPBackbone((5,), copies=2, width=None, depth=1, activation="none")
    assert model.width == 5
    x = torch.randn(2, 7, 5)
    torch.testing.assert_close(model(2 * x), 2 * model(x) - model(torch.zeros_like(x)))
