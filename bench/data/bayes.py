"""The Bayes risk of a synthetic task: the least risk any learner can reach, so an arm's excess risk is known.

Regression, scored by MSE: the Bayes predictor is the clean signal, so the risk is the noise variance ``σ_t²``
exactly (bench/data/teacher.py). Classification, scored by error rate (1 − accuracy): the label is the sign
(or the arg-max) of ``signal + σ_t ε``, so the teacher's own probability that the Bayes choice, the sign (or
arg-max) of the clean signal, is right at ``x`` is ``Φ(|s(x)| / σ_t)`` for two classes and, for ``K``,
``E_u Π_{j≠k*} Φ((s_k* − s_j) / σ_t + u)``, ``u ~ N(0, 1)`` (Gauss–Hermite quadrature). The Bayes error is
the mean over ``x`` of one minus that, estimated by Monte Carlo on draws of the task's own inputs, with its
standard error.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from bench.data.teacher import Teacher

DRAWS = 16_384  # Monte Carlo inputs per task: a standard error of 1e-3 to 3e-3 (it is stored beside the estimate)
NODES = 32  # Gauss-Hermite nodes over the noise of the winning score
BAYES_STREAM = 1_000_003
RISK_METRIC = {"regression": "mse", "classification": "error"}  # error = 1 - accuracy


def bayes_risk(teacher: Teacher, task: int, kind: str, seed: int, draws: int = DRAWS) -> tuple[float, float]:
    """``(risk, standard error)`` of the Bayes predictor of ``task``, in ``RISK_METRIC[kind]``."""
    sigma = teacher.noise[task]
    if kind == "regression":
        return sigma**2, 0.0
    if sigma == 0:
        return 0.0, 0.0  # noiseless labels: the clean signal's sign (arg-max) is always right
    x = teacher.inputs(task, np.random.default_rng([seed, BAYES_STREAM, task]), draws)
    correct = correct_probability(teacher.signal(task, x) / sigma)
    errors = 1.0 - correct
    return float(errors.mean()), float(errors.std(ddof=1) / math.sqrt(draws))


def correct_probability(scores: np.ndarray) -> np.ndarray:
    """Per row of clean scores in noise units (``n x 1``: the sign decides; ``n x K``: the arg-max), the
    probability that the noisy label equals the clean signal's choice."""
    if scores.shape[1] == 1:
        return ndtr(np.abs(scores[:, 0]))
    nodes, weights = np.polynomial.hermite_e.hermegauss(NODES)  # ∫ f(u) exp(-u²/2) du
    weights = weights / math.sqrt(2 * math.pi)
    best = scores.argmax(axis=1)
    margins = scores[np.arange(len(scores)), best][:, None] - scores  # n x K, zero at the winner
    losers = np.arange(scores.shape[1])[None, :] != best[:, None]
    # Π over the losers of Φ(margin + u), one node u at a time (n x K in memory)
    return sum(w * np.where(losers, ndtr(margins + u), 1.0).prod(axis=1) for u, w in zip(nodes, weights, strict=True))
