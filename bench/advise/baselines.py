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
    """The threshold on one descriptor with the best training accuracy (the lowest on ties)."""
    column = x[:, descriptor]
    fill = float(np.nanmedian(column)) if (~np.isnan(column)).any() else 0.0
    column = np.where(np.isnan(column), fill, column)
    values = np.unique(column)
    cuts = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values
    best, best_correct = None, -1
    for cut in cuts:
        below = column <= cut
        rates = [(y[side].sum() + 1) / (side.sum() + 2) for side in (below, ~below)]
        correct = int(((rates[0] >= 0.5) == y[below]).sum() + ((rates[1] >= 0.5) == y[~below]).sum())
        if correct > best_correct:
            best, best_correct = Stump(descriptor, float(cut), float(rates[0]), float(rates[1]), fill), correct
    return best


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
