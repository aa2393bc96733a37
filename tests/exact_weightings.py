"""Gradient matrices with hard cases, and exact references for the gradient weightings, computed here from
the definitions (no solver of bench.weighting, torchjd or LibMTL): small convex problems are solved by
enumerating their active sets, where each candidate is a linear solve and the optimum is the best feasible
candidate, so the answer is exact to rounding.

Families (float64, as the issue's review): T = 2, 3, 5 tasks, P = 10, 100, 1000 parameters, rows that are
random, conflicting (every later row leans against the first), scaled from 1e-3 to 1e3, all x1e-4, all x1e4,
and near-parallel (one direction plus 1e-3 noise).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

KINDS = ("random", "conflicting", "scaled_rows", "tiny", "huge", "near_parallel")
TASKS = (2, 3, 5)
PARAMETERS = (10, 100, 1000)


def gradient_matrix(kind: str, tasks: int, parameters: int, seed: int = 0) -> np.ndarray:
    """A ``[T, P]`` float64 matrix of task gradients of the given kind."""
    rng = np.random.default_rng([seed, tasks, parameters, KINDS.index(kind)])
    rows = rng.standard_normal((tasks, parameters))
    if kind == "conflicting":
        rows[1:] = -0.7 * rows[0] + 0.5 * rows[1:]
    elif kind == "scaled_rows":
        rows *= np.logspace(-3, 3, tasks)[:, None]
    elif kind == "tiny":
        rows *= 1e-4
    elif kind == "huge":
        rows *= 1e4
    elif kind == "near_parallel":
        rows = rows[0] + 1e-3 * rows
    return rows


def families(seed: int = 0):
    """Every (name, J) of the issue's families."""
    for kind, tasks, parameters in itertools.product(KINDS, TASKS, PARAMETERS):
        yield f"{kind}-T{tasks}-P{parameters}", gradient_matrix(kind, tasks, parameters, seed)


def relative_error(update: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(update - reference) / np.linalg.norm(reference))


def _supports(tasks: int):
    for size in range(1, tasks + 1):
        yield from (list(s) for s in itertools.combinations(range(tasks), size))


def min_norm_point(rows: np.ndarray) -> np.ndarray:
    """The point of the convex hull of ``rows`` nearest the origin (MGDA's update). On a support S the
    nearest point of the affine hull of rows S has weights ``∝ G_SS⁻¹1``, solved on unit rows
    (``G_SS = N C N``, ``N`` the norms) so that rows scaled 1e-3..1e3 lose no digits; the answer is the
    feasible candidate (weights >= 0) of least norm."""
    norms = np.linalg.norm(rows, axis=1)
    units = rows / norms[:, None]
    best, best_norm = None, math.inf
    for support in _supports(len(rows)):
        cosines = units[support] @ units[support].T
        weights = np.linalg.solve(cosines, 1 / norms[support]) / norms[support]
        weights /= weights.sum()
        if (weights < 0).any():
            continue
        point = weights @ rows[support]
        if np.linalg.norm(point) < best_norm:
            best, best_norm = point, np.linalg.norm(point)
    return best


def cagrad_update(rows: np.ndarray, c: float) -> np.ndarray:
    """CAGrad's update ``(g0 + r u/||u||) / (1 + c²)``, ``r = c ||g0||``, ``u = Jᵀw``, ``w`` minimising
    ``F(w) = g0·Jᵀw + r ||Jᵀw||`` over the simplex (the dual, Liu et al. 2021, eq. 4).

    On a support S, stationarity ``b_S + (r/s) G_SS w_S = λ1`` with ``s = ||u||`` and ``1ᵀw = 1`` has the
    closed form ``w_S = K(λ1 − b_S)/√Δ``, ``K = G_SS⁻¹``, λ the larger root of ``aλ² − 2βλ + γ = r²``
    (``a = 1ᵀK1``, ``β = 1ᵀKb``, ``γ = bᵀKb``, ``Δ = β² − a(γ − r²)``); the optimum is the feasible
    candidate of least F. Strong duality: ``min_i g_i·d`` equals that F (checked by the tests)."""
    gramian = rows @ rows.T
    mean = rows.mean(0)
    b = rows @ mean
    radius = c * np.linalg.norm(mean)
    best, best_value = None, math.inf
    for support in _supports(len(rows)):
        inverse = np.linalg.pinv(gramian[np.ix_(support, support)])
        ones, bs = np.ones(len(support)), b[support]
        a, beta, gamma = ones @ inverse @ ones, ones @ inverse @ bs, bs @ inverse @ bs
        discriminant = beta ** 2 - a * (gamma - radius ** 2)
        if discriminant <= 0:
            continue
        lam = (beta + math.sqrt(discriminant)) / a
        weights = inverse @ (lam * ones - bs) / math.sqrt(discriminant)
        if (weights < -1e-12).any() or abs(weights.sum() - 1) > 1e-6:
            continue
        u = weights @ rows[support]
        value = mean @ u + radius * np.linalg.norm(u)
        if value < best_value:
            best, best_value = u, value
    return (mean + radius * best / np.linalg.norm(best)) / (1 + c ** 2)


def dual_cone_projection(vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The projection of ``vector`` onto the cone ``{x : rows @ x >= 0}`` (UPGrad, Quinton & Rey 2024,
    eq. 3). The cone depends on the unit rows Q only; on an active set S, ``x = v + Q_Sᵀν`` with
    ``Q_S x = 0``, so ``ν = −(Q_S Q_Sᵀ)⁻¹Q_S v``; the answer is the candidate with ``ν >= 0`` and ``Qx >= 0``
    nearest ``v`` (the empty set when ``v`` is already inside)."""
    units = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    slack = 1e-12 * np.linalg.norm(vector)
    best, best_distance = None, math.inf
    for support in [[], *_supports(len(rows))]:
        x = vector.copy()
        if support:
            active = units[support]
            multipliers = -np.linalg.solve(active @ active.T, active @ vector)
            if (multipliers < 0).any():
                continue
            x = vector + multipliers @ active
        if (units @ x < -slack).any():
            continue
        if np.linalg.norm(x - vector) < best_distance:
            best, best_distance = x, np.linalg.norm(x - vector)
    return best


def upgrad_update(rows: np.ndarray) -> np.ndarray:
    """UPGrad's update: the mean of every row's projection onto the dual cone of the rows."""
    return np.mean([dual_cone_projection(row, rows) for row in rows], axis=0)


def imtl_g_update(rows: np.ndarray) -> np.ndarray:
    """IMTL-G (Liu et al. 2021, eq. 7 closed form): ``α₂..T = g₁Uᵀ(DUᵀ)⁻¹`` with ``D_t = g₁ − g_t``,
    ``U_t = u₁ − u_t`` (unit rows), ``α₁ = 1 − Σα``; the update has equal projections on every unit row."""
    units = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    differences, unit_differences = rows[0] - rows[1:], units[0] - units[1:]
    alpha = rows[0] @ unit_differences.T @ np.linalg.inv(differences @ unit_differences.T)
    return np.r_[1 - alpha.sum(), alpha] @ rows


def aligned_mtl_update(rows: np.ndarray) -> np.ndarray:
    """Aligned-MTL (Senushkin et al. 2023, Theorem 1), torchjd's convention: from the SVD ``J = UΣVᵀ``, the
    aligned matrix ``σ_min U Vᵀ`` (equal, orthogonal singular values), combined with weights 1/T."""
    u, sigma, vt = np.linalg.svd(rows, full_matrices=False)
    keep = sigma > sigma.max() * max(rows.shape) * np.finfo(float).eps
    aligned = sigma[keep].min() * u[:, keep] @ vt[keep]
    return aligned.mean(0)


def nash_residual(weights: np.ndarray, rows: np.ndarray) -> float:
    """``max_t |α_t (Gα)_t − 1|``: Nash-MTL's equation ``Gα = 1/α`` as a relative residual."""
    return float(np.abs(weights * (rows @ (rows.T @ weights)) - 1).max())


def fair_residual(weights: np.ndarray, rows: np.ndarray, alpha: float) -> float:
    """``max_t |w_t^{1/α} (Gw)_t − 1|``: FairGrad's equation ``Gw = w^{−1/α}`` as a relative residual."""
    return float(np.abs(weights ** (1 / alpha) * (rows @ (rows.T @ weights)) - 1).max())


def pcgrad_update(rows: np.ndarray, orders: list[list[int]]) -> np.ndarray:
    """PCGrad (Yu et al. 2020, Algorithm 1) in parameter space: row i projected, in ``orders[i]``, off every
    row it conflicts with; the sum of the projected rows."""
    total = np.zeros(rows.shape[1])
    for i, order in enumerate(orders):
        projected = rows[i].copy()
        for j in order:
            if j != i and projected @ rows[j] < 0:
                projected -= projected @ rows[j] / (rows[j] @ rows[j]) * rows[j]
        total += projected
    return total


def gradvac_update(rows: np.ndarray, orders: list[list[int]], targets: np.ndarray, beta: float) -> np.ndarray:
    """GradVac (Wang et al. 2021, Algorithm 1) in parameter space, without epsilons: row i raised, in
    ``orders[i]``, to cosine ``targets[i, j]`` with each ``g_j`` it falls short of; ``targets`` (the EMA of
    the cosines) is updated in place. The sum of the corrected rows."""
    total = np.zeros(rows.shape[1])
    for i, order in enumerate(orders):
        corrected = rows[i].copy()
        for j in order:
            cosine = corrected @ rows[j] / (np.linalg.norm(corrected) * np.linalg.norm(rows[j]))
            target = targets[i, j]
            if cosine < target:
                corrected += (np.linalg.norm(corrected) * (target * np.sqrt(1 - cosine ** 2) - cosine * np.sqrt(
                    1 - target ** 2)) / (np.linalg.norm(rows[j]) * np.sqrt(1 - target ** 2))) * rows[j]
            targets[i, j] = (1 - beta) * target + beta * cosine
        total += corrected
    return total


def graddrop_update(rows: np.ndarray, uniform: np.ndarray, leak: float) -> np.ndarray:
    """GradDrop (Chen et al. 2020, Algorithm 1, lines 10-15) per coordinate, given the uniform draws."""
    update = np.zeros(rows.shape[1])
    for p in range(rows.shape[1]):
        column = rows[:, p]
        purity = 0.5 * (1 + column.sum() / np.abs(column).sum())
        keep = column > 0 if purity > uniform[p] else column < 0
        update[p] = sum(g if k else leak * g for g, k in zip(column, keep, strict=True))
    return update


def simplex_projection(vector: np.ndarray) -> np.ndarray:
    """The Euclidean projection onto the simplex: on each support S the threshold ``τ = (Σ_S v − 1)/|S|``;
    the answer is the candidate whose support is exactly where ``v > τ``."""
    for support in _supports(len(vector)):
        threshold = (vector[support].sum() - 1) / len(support)
        inside = np.zeros(len(vector), dtype=bool)
        inside[support] = True
        if (vector[inside] > threshold).all() and (vector[~inside] <= threshold).all():
            return np.where(inside, vector - threshold, 0.0)
    raise AssertionError("no support fits")
