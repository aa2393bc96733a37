"""The advisor's closed-form pieces against references: ridge from moments, GCV, readout alignment, LogME."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from bench.advise.linear import STRENGTHS, Moments, readout_alignment
from bench.advise.logme import logme


def _rows(n: int = 60, d: int = 5, k: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) + 3
    return x, x @ rng.standard_normal((d, k)) + 0.5 * rng.standard_normal((n, k)) - 1


def test_a_fit_from_moments_is_scikit_learns_ridge():
    x, y = _rows()
    mine = Moments.of(x[:30], y[:30]) + Moments.of(x[30:], y[30:])
    reference = Ridge(alpha=2.0).fit(x, y)
    model = mine.fit(2.0)
    np.testing.assert_allclose(model.coef, reference.coef_, atol=1e-10)
    np.testing.assert_allclose(model.predict(x), reference.predict(x), atol=1e-10)


def test_gcv_is_the_closed_form_criterion_over_the_grid():
    """n RSS / (n - 1 - tr H)^2 with H the hat matrix of the centred inputs, computed directly."""
    x, y = _rows(n=25, d=8, k=1, seed=3)
    xc, yc = x - x.mean(0), y - y.mean(0)

    def gcv(strength: float) -> float:
        hat = xc @ np.linalg.solve(xc.T @ xc + strength * np.eye(8), xc.T)
        return len(x) * float(((yc - hat @ yc) ** 2).sum()) / (len(x) - 1 - np.trace(hat)) ** 2

    assert Moments.of(x, y).gcv_strength() == pytest.approx(min(STRENGTHS, key=gcv))


def test_two_rows_fall_back_to_the_strongest_strength():
    x, y = _rows(n=2, d=8, k=1)
    assert Moments.of(x, y).gcv_strength() == STRENGTHS[-1]


def test_readout_alignment_is_a_squared_cosine_of_subspaces():
    a = np.array([[1.0], [0.0], [0.0]])
    b = np.array([[np.cos(0.3)], [np.sin(0.3)], [0.0]])
    assert readout_alignment(a, b) == pytest.approx(np.cos(0.3) ** 2)
    assert readout_alignment(np.eye(3)[:, :2], np.eye(3)[:, 1:]) == pytest.approx(0.5)


def test_logme_prefers_features_that_explain_the_labels():
    rng = np.random.default_rng(0)
    informative = rng.standard_normal((200, 8))
    y = (informative @ rng.standard_normal(8))[:, None] + 0.1 * rng.standard_normal((200, 1))
    assert logme(informative, y) > logme(rng.standard_normal((200, 8)), y) + 1
