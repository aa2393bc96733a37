"""The baselines the advisor must beat (issue 24; TabZilla and its follow-ups found dataset meta-features rarely
beat simple baselines in leave-one-dataset-out tests): the majority answer and the single best descriptor.

Both are trained on the same rows as the advisor and give probabilities, so Brier score and regret compare
alike. The third baseline, the pilot, is measured, not trained (bench/advise/pilot.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def majority(y: np.ndarray) -> float:
    """The training rows' base rate: its answer is the majority's, its probability the rate itself."""
    return float(np.mean(y))


@dataclass(frozen=True)
class Stump:
    """One descriptor against one threshold; each side answers with its training rows' rate, smoothed (Laplace)."""

    descriptor: int
    threshold: float
    below: float
    above: float
    fill: float  # the training median, for a family where this descriptor does not apply (NaN)

    def probability(self, x: np.ndarray) -> np.ndarray:
        column = np.atleast_2d(x)[:, self.descriptor]
        column = np.where(np.isnan(column), self.fill, column)
        return np.where(column <= self.threshold, self.below, self.above)


def _stump_on(x: np.ndarray, y: np.ndarray, descriptor: int) -> Stump:
    """The threshold on one descriptor with the best training accuracy (the lowest on ties): every cut between
    two sorted values at once, each side answering with its smoothed rate."""
    column = x[:, descriptor]
    fill = float(np.nanmedian(column)) if (~np.isnan(column)).any() else 0.0
    column = np.where(np.isnan(column), fill, column)
    order = np.argsort(column, kind="stable")
    values, labels = column[order], y[order].astype(float)
    cut_after = np.flatnonzero(np.diff(values) > 0)  # the last row below each cut
    if not len(cut_after):
        rate = (labels.sum() + 1) / (len(labels) + 2)
        return Stump(descriptor, float(values[0]), float(rate), float(rate), fill)
    below_n, below_yes = cut_after + 1, np.cumsum(labels)[cut_after]
    above_n, above_yes = len(labels) - below_n, labels.sum() - below_yes
    below, above = (below_yes + 1) / (below_n + 2), (above_yes + 1) / (above_n + 2)
    correct = (np.where(below >= 0.5, below_yes, below_n - below_yes)
               + np.where(above >= 0.5, above_yes, above_n - above_yes))
    best = int(np.argmax(correct))
    threshold = (values[cut_after[best]] + values[cut_after[best] + 1]) / 2
    return Stump(descriptor, float(threshold), float(below[best]), float(above[best]), fill)


def fit_stump(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Stump:
    """The single best descriptor, chosen by leave-one-family-out Brier score on these rows (each inner fold
    fits its own threshold), then fit with its threshold on them all."""
    y = np.asarray(y, dtype=bool)
    families = np.unique(groups)

    def inner_brier(descriptor: int) -> float:
        errors = []
        for family in families:
            held = groups == family
            errors.append(((_stump_on(x[~held], y[~held], descriptor).probability(x[held]) - y[held]) ** 2).sum())
        return float(np.sum(errors) / len(y))

    best = min(range(x.shape[1]), key=inner_brier) if len(families) > 1 else 0
    return _stump_on(x, y, best)
