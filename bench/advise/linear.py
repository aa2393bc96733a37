"""Descriptors from ridge fits on the training rows: how well each task is fit alone, how fast it learns,
whether pooling the other tasks' rows helps it, and how aligned the tasks' linear readouts are.

The pooled-vs-separate comparison is the suite's oracle (bench/data/oracle.py) moved to real data: no test
split is known, so both sides are scored by K-fold cross-validation on the task's own training rows, the
pooled side fitting the fold's rows plus every compatible task's rows (same kind and outputs). Every fit is
ridge regression with an unpenalised intercept, its strength chosen by generalised cross-validation (Golub,
Heath & Wahba 1979) on the fit's own rows. Fits are computed from sufficient statistics (``Moments``), so a
pooled fit over 41 other tasks costs one d x d solve per fold, not a pass over their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold

from bench.advise.rows import TrainingRows

STRENGTHS = np.logspace(-3, 3, 13)
FOLDS = 5
CURVE = (0.25, 0.5, 1.0)  # fractions of a fold's training rows: the learning curve's points


@dataclass(frozen=True)
class LinearModel:
    coef: np.ndarray  # [k, d]
    intercept: np.ndarray  # [k]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef.T + self.intercept


@dataclass(frozen=True)
class Moments:
    """A ridge fit's sufficient statistics: rows, sums, cross-products and label sums of squares. Rows add."""

    n: int
    sum_x: np.ndarray
    sum_y: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> Moments:
        return cls(len(x), x.sum(axis=0), y.sum(axis=0), x.T @ x, x.T @ y, float((y**2).sum()))

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.sum_x + other.sum_x, self.sum_y + other.sum_y, self.xx + other.xx,
                       self.xy + other.xy, self.yy + other.yy)

    def fit(self, strength: float | None = None) -> LinearModel:
        """The ridge model of these rows at ``strength``; None: the strength GCV chooses on them."""
        strength = self.gcv_strength() if strength is None else strength
        mean_x, mean_y, xx, xy, _ = self._centred()
        coef = np.linalg.solve(xx + strength * np.eye(len(xx)), xy).T
        return LinearModel(coef, mean_y - coef @ mean_x)

    def gcv_strength(self) -> float:
        """argmin over ``STRENGTHS`` of n RSS / (n - df)^2, df the fit's effective parameters (intercept included);
        the largest strength when no smaller one leaves a residual degree of freedom (a handful of rows)."""
        _, _, xx, xy, yy = self._centred()
        eigen, vectors = np.linalg.eigh(xx)
        eigen = np.clip(eigen, 0, None)[:, None]
        projected2 = (vectors.T @ xy) ** 2
        best, best_score = STRENGTHS[-1], np.inf
        for strength in STRENGTHS:
            shrink = eigen + strength
            rss = yy - 2 * (projected2 / shrink).sum() + (eigen * projected2 / shrink**2).sum()
            freedom = self.n - 1 - float((eigen / shrink).sum())
            if freedom >= 1 and (score := self.n * max(rss, 0.0) / freedom**2) < best_score:
                best, best_score = float(strength), score
        return best

    def _centred(self):
        mean_x, mean_y = self.sum_x / self.n, self.sum_y / self.n
        return (mean_x, mean_y, self.xx - self.n * np.outer(mean_x, mean_x),
                self.xy - self.n * np.outer(mean_x, mean_y), self.yy - self.n * float(mean_y @ mean_y))


def _score(model: LinearModel, x: np.ndarray, y: np.ndarray, null: np.ndarray) -> float:
    """1 - risk / the risk of predicting ``null`` (the fold's training mean): an R² that every label kind has,
    floored at -1 (twice the null's risk: on a handful of rows one wild fold would otherwise swamp the mean)."""
    baseline = np.mean((y - null) ** 2)
    return max(-1.0, float(1 - np.mean((model.predict(x) - y) ** 2) / baseline)) if baseline > 0 else float("nan")


def cross_validated(task: TrainingRows, others: list[TrainingRows], seed: int) -> dict[str, float]:
    """The task's ``fit`` (separate ridge, all of a fold's rows), learning-curve ``slope`` (score gained per
    doubling of rows, from 25% to 100%) and ``pooled_gain`` (pooled minus separate score; NaN without a
    compatible task), each a mean over the folds of its training rows."""
    pool = [other for other in others if other.compatible(task)]
    if pool:  # its strength: GCV on the other tasks' rows, once
        pool_moments = sum((Moments.of(o.x, o.y) for o in pool[1:]), Moments.of(pool[0].x, pool[0].y))
        pool_strength = pool_moments.gcv_strength()
    curves, pooled = [], []
    for fold, (train, held) in enumerate(KFold(min(FOLDS, len(task)), shuffle=True, random_state=seed).split(task.x)):
        order = np.random.default_rng([seed, fold]).permutation(train)
        null = task.y[train].mean(axis=0)
        curve = []
        for fraction in CURVE:
            rows = order[:max(2, round(fraction * len(order)))]
            curve.append(_score(Moments.of(task.x[rows], task.y[rows]).fit(), task.x[held], task.y[held], null))
        curves.append(curve)
        if pool:
            joint = (pool_moments + Moments.of(task.x[train], task.y[train])).fit(pool_strength)
            pooled.append(_score(joint, task.x[held], task.y[held], null) - curve[-1])
    curves = np.array(curves)
    doublings = np.log2(CURVE[-1] / CURVE[0])
    return {"fit": float(np.nanmean(curves[:, -1])),
            "slope": float(np.nanmean((curves[:, -1] - curves[:, 0]) / doublings)),
            "pooled_gain": float(np.nanmean(pooled)) if pooled else float("nan")}


def readout_basis(task: TrainingRows) -> np.ndarray:
    """An orthonormal basis ``[d, r]`` of the span of the task's ridge coefficients (one column per output)."""
    u, s, _ = np.linalg.svd(Moments.of(task.x, task.y).fit().coef.T, full_matrices=False)
    return u[:, s > 1e-8 * max(float(s.max()), 1e-300)]


def readout_alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Overlap of two readout subspaces, ``|A^T B|_F^2 / min(rank)`` in [0, 1]: the squared cosine of two
    single-output tasks' coefficients. Sign-free, as a task head can flip a shared feature's sign."""
    rank = min(a.shape[1], b.shape[1])
    return float(np.sum((a.T @ b) ** 2) / rank) if rank else float("nan")
