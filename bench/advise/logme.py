"""LogME (You, Liu, Wang & Long 2021, "LogME: Practical Assessment of Pre-trained Models for Transfer
Learning"): the log marginal evidence per example of a Bayesian linear model of the labels on the features,
its prior and noise precisions set by the paper's fixed-point iteration. Higher: the features explain the
labels with a simpler linear model. Here it compares a trunk trained on the sources with the same trunk at
its initialisation, on the target's training rows.
"""

from __future__ import annotations

import numpy as np

ITERATIONS = 100
TOLERANCE = 1e-3  # relative change of alpha / beta at which the fixed point is taken as reached


def logme(features: np.ndarray, y: np.ndarray) -> float:
    """Mean over the label columns of ``y`` ``[n, k]`` of the evidence per example of ``features`` ``[n, D]``."""
    u, s, _ = np.linalg.svd(features, full_matrices=False)
    return float(np.mean([_evidence(u, s**2, features.shape[1], column) for column in y.T]))


def _evidence(u: np.ndarray, s2: np.ndarray, dims: int, y: np.ndarray) -> float:
    n = len(y)
    z2 = (u.T @ y) ** 2
    outside = max(float(y @ y - z2.sum()), 0.0)  # the part of y no feature direction reaches
    alpha, beta = 1.0, 1.0
    for _ in range(ITERATIONS):
        shrink = alpha + beta * s2
        gamma = float((beta * s2 / shrink).sum())
        weights2 = float((beta**2 * s2 * z2 / shrink**2).sum())  # |m|^2, m the posterior mean weights
        residual2 = float((alpha**2 * z2 / shrink**2).sum()) + outside  # |F m - y|^2
        new_alpha, new_beta = gamma / (weights2 + 1e-5), (n - gamma) / (residual2 + 1e-5)
        done = abs(new_alpha - alpha) <= TOLERANCE * alpha and abs(new_beta - beta) <= TOLERANCE * beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    shrink = alpha + beta * s2
    weights2 = float((beta**2 * s2 * z2 / shrink**2).sum())
    residual2 = float((alpha**2 * z2 / shrink**2).sum()) + outside
    log_det = float(np.log(shrink).sum()) + (dims - len(s2)) * np.log(alpha)
    evidence = (dims * np.log(alpha) + n * np.log(beta) - n * np.log(2 * np.pi) - beta * residual2
                - alpha * weights2 - log_det) / 2
    return float(evidence / n)
