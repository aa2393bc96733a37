"""A converged linear probe: a ridge or logistic-regression head fit on frozen features.

Linear-probe evaluations fit the head to convergence with its regularisation tuned, not by a fixed SGD
budget (Kornblith et al. 2019; Radford et al. 2021 use L-BFGS logistic regression with the strength chosen
on validation). Here scikit-learn fits it on each member's training features as they are: ``Ridge`` for
regression, ``LogisticRegression`` (L-BFGS, multinomial) for classification, with the task's class weights.
The strength is the grid value whose head has the lowest validation loss, the loss every other selection in
the suite minimises. Features are not standardised: measured on the target_size and digits studies,
standardising (which inflates nearly dead ReLU units) lowered the probe's test score by 0.01 to 0.05.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from bench.data.family import Task
from bench.metrics import task_metrics
from bench.regimes.losses import selection_loss

# Inverse strengths for logistic regression (scikit-learn's C) and strengths for ridge (alpha): 1e-4 .. 1e4.
C_GRID = tuple(10.0 ** k for k in range(-4, 5))
ALPHA_GRID = tuple(10.0 ** k for k in range(-4, 5))
MAX_ITER = 1000
# A class absent from the training rows gets this logit margin below every fitted class: never predicted.
ABSENT_MARGIN = 30.0


def fit_probe(task: Task, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Head ``(weight [n_outputs, d], bias [n_outputs])`` fit on ``train`` features and labels, its strength
    chosen on ``val``; returns the head and the chosen strength (``C`` or ``alpha``) and whether its fit
    converged (L-BFGS within ``MAX_ITER`` iterations; a strength that did not is still scored on validation)."""
    features, labels = train[0].double().cpu().numpy(), train[1].cpu().numpy()
    best: tuple[float, torch.Tensor, torch.Tensor, dict[str, float]] | None = None
    key, grid = ("alpha", ALPHA_GRID) if task.kind == "regression" else ("C", C_GRID)
    for strength in grid:
        # One BLAS thread, as the jobs run one torch thread: on fits this small more threads only spin
        # (measured on 2 busy cores: 65 s against 11 s for 270 logistic fits on digits).
        with threadpool_limits(limits=1):
            coef, intercept, converged = (_ridge(features, labels, strength) if task.kind == "regression"
                                          else _logistic(task, features, labels, strength))
        weight, bias = torch.from_numpy(coef), torch.from_numpy(intercept)
        loss = selection_loss(task, val[0].double().cpu() @ weight.T + bias, val[1].cpu())
        if best is None or loss < best[0]:
            best = (loss, weight, bias, {key: strength, "converged": converged})
    _, weight, bias, chosen = best
    return weight.float(), bias.float(), chosen


def probe_metrics(task: Task, features: dict[str, torch.Tensor]) -> dict[str, float]:
    """Test metrics of the probe fit on ``features['train']``, its strength chosen on ``features['val']``
    (``features`` maps each split to the task's rows as features: a diagnostic, never a choice)."""
    weight, bias, _ = fit_probe(task, (features["train"], task.train.y), (features["val"], task.val.y))
    return task_metrics(task, features["test"].float().cpu() @ weight.T + bias, task.test.y)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, bool]:
    model = Ridge(alpha=alpha).fit(x, y)
    return model.coef_.reshape(y.shape[1], -1), np.asarray(model.intercept_).reshape(-1), True


def _logistic(task: Task, x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Multinomial logistic regression over every class of ``task``, in the head's layout ``[K, d]``."""
    classes = np.unique(y)
    coef, intercept = np.zeros((task.n_outputs, x.shape[1])), np.zeros(task.n_outputs)
    if len(classes) == 1:  # one class seen: predict it
        intercept[:] = -ABSENT_MARGIN
        intercept[classes[0]] = 0.0
        return coef, intercept, True
    weights = None if task.class_weights is None else {int(k): float(task.class_weights[k]) for k in classes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded instead: n_iter_ reaches MAX_ITER
        model = LogisticRegression(C=c, max_iter=MAX_ITER, class_weight=weights).fit(x, y)
    if len(classes) == 2:  # scikit-learn fits one vector: logit(classes[1]) - logit(classes[0])
        coef[classes[1]], intercept[classes[1]] = model.coef_[0], model.intercept_[0]
    else:
        coef[classes], intercept[classes] = model.coef_, model.intercept_
    absent = np.setdiff1d(np.arange(task.n_outputs), classes)
    if len(absent):
        intercept[absent] = (x @ coef[classes].T + intercept[classes]).min() - ABSENT_MARGIN
    return coef, intercept, bool(model.n_iter_.max() < MAX_ITER)
