"""Input shift between tasks: how well a classifier tells one task's inputs from another's (the "domain
classifier" of Ben-David et al. 2010 and of Rabanser et al. 2019's shift detection), as a cross-validated
ROC AUC: 0.5 when the inputs are exchangeable, 1 when every row gives its task away.

The classifier is linear on the inputs and their squares, so that a change of scale is found as well as a
change of mean: a ridge fit of the side label (bench/advise/linear.py, strength by GCV), closed form and cheap
on a family of 42 tasks. Each side is subsampled to at most ``MAX_ROWS`` rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from bench.advise.linear import Moments

MAX_ROWS = 300
FOLDS = 3


def shared_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of ``a``'s rows that are also rows of ``b`` (tasks that label the same inputs share them)."""
    rows_of_b = {row.tobytes() for row in b}
    return float(np.mean([row.tobytes() in rows_of_b for row in a]))


def domain_auc(a: np.ndarray, b: np.ndarray, seed: int) -> float:
    """Cross-validated AUC of telling ``a``'s rows from ``b``'s; 0.5 when one's rows are among the other's (a
    scarce target labelling some of its sources' inputs), NaN with too few rows."""
    if shared_fraction(a, b) == 1.0 or shared_fraction(b, a) == 1.0:
        return 0.5
    rng = np.random.default_rng([seed, 13])
    a, b = (side[rng.permutation(len(side))[:MAX_ROWS]] for side in (a, b))
    folds = min(FOLDS, len(a), len(b))
    if folds < 2:
        return float("nan")
    x = np.vstack([a, b])
    x = np.hstack([x, x**2])
    side = np.r_[np.zeros(len(a)), np.ones(len(b))]
    aucs = []
    for train, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, side):
        model = Moments.of(x[train], side[train, None]).fit()
        aucs.append(roc_auc_score(side[held], model.predict(x[held])[:, 0]))
    return float(np.mean(aucs))
