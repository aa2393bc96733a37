"""The small problems that define gradient weightings, solved to a stated tolerance on a ``T x T`` Gramian.

Each solver returns a ``Solution``: the weights and whether its certificate met the tolerance, so that a
method counts the steps where it did not (``fit.unconverged_steps`` in the run's record), never silently.

Every problem is posed on **unit rows**. With ``G = N C N`` (``N`` the gradient norms, ``C`` their cosines)
the change of variables ``w = z / n`` gives a problem on ``C``, whose entries are at most one in size whatever
the gradients' scales: rows scaled 1e-3..1e3 make G's entries span 1e-6..1e6, where a solver on G itself
loses the small rows (SLSQP returned a CAGrad update that harmed a task there). Weights are mapped back to the
raw gradients.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import quadprog
from scipy.optimize import brentq

# Added to the cosines' diagonal, only when quadprog finds them singular (parallel rows), so that its Cholesky
# factor exists; it moves a min-norm point by at most sqrt(RIDGE) of the gradients' scale.
RIDGE = 1e-13
# A gradient this many times smaller than the largest is treated as zero (its weight has no effect).
NEGLIGIBLE = 1e-12


class Solution(NamedTuple):
    weights: np.ndarray
    converged: bool


def unit_rows(gramian: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(C, n)`` with ``G = diag(n) C diag(n)``: the cosines of the task gradients and their norms."""
    norms = np.sqrt(np.clip(np.diag(gramian), 0.0, None))
    norms = np.maximum(norms, NEGLIGIBLE * norms.max())
    return gramian / np.outer(norms, norms), norms


def _qp(cosines: np.ndarray, linear: np.ndarray, constraints: np.ndarray, bounds: np.ndarray, equalities: int
        ) -> np.ndarray:
    """``argmin ½zᵀCz − linearᵀz`` subject to ``constraintsᵀz >= bounds`` (the first ``equalities`` with =);
    ``C + RIDGE I`` where C is singular to working precision (parallel rows)."""
    try:
        return quadprog.solve_qp(cosines, linear, constraints, bounds, equalities)[0]
    except ValueError:  # "matrix G is not positive definite"
        regularised = cosines + RIDGE * np.eye(len(cosines))
        return quadprog.solve_qp(regularised, linear, constraints, bounds, equalities)[0]


def _simplex_constraints(norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Σ z_t / n_t = 1`` (as ``Σ (n_min / n_t) z_t = n_min``, coefficients at most 1) and ``z >= 0``."""
    smallest = norms.min()
    return np.column_stack([smallest / norms, np.eye(len(norms))]), np.r_[smallest, np.zeros(len(norms))]


def _on_simplex(z: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """The weights ``z_t / n_t`` normalised. Where a gradient is zero the simplex constraint's scale is its
    norm's floor (NEGLIGIBLE of the largest) and quadprog may return ``z = 0``: the zero gradient is then the
    hull's point nearest the origin, and it takes the whole weight."""
    weights = np.clip(z / norms, 0.0, None)
    if not weights.sum() > 0:
        weights = (norms == norms.min()).astype(float)
    return weights / weights.sum()


def min_norm(gramian: np.ndarray, tolerance: float = 1e-12) -> Solution:
    """The weights on the simplex of the point of the convex hull of the gradients nearest the origin (MGDA):
    ``min wᵀGw``, by quadprog (Goldfarb & Idnani's dual active-set method, exact in finitely many steps) on
    unit rows. The certificate is the Frank-Wolfe gap ``||d||² − min_t g_t·d``, which bounds
    ``||d − d*||²`` (``d*`` the exact point): converged when it is at most ``tolerance ||d||²``, so the update
    is within ``√tolerance`` = 1e-6 of the exact one, relatively (of 10% of the largest gradient's norm where
    ``d`` is shorter: the origin may be in the hull).

    >>> min_norm(np.array([[1.0, -1.0], [-1.0, 2.0]])).weights.round(6)  # g1 = (1, 0), g2 = (-1, 1)
    array([0.6, 0.4])
    """
    cosines, norms = unit_rows(gramian)
    constraints, bounds = _simplex_constraints(norms)
    weights = _on_simplex(_qp(cosines, np.zeros(len(norms)), constraints, bounds, 1), norms)
    products = gramian @ weights
    squared_norm = max(float(weights @ products), 0.0)
    return Solution(weights, squared_norm - products.min() <= tolerance * max(squared_norm, 1e-2 * norms.max() ** 2))


def cagrad_dual(gramian: np.ndarray, c: float, tolerance: float = 1e-10) -> Solution:
    """The dual of CAGrad (Liu et al. 2021, eq. 4): ``w`` on the simplex minimising
    ``F(w) = g0·u + r||u||``, ``u = Σ w_t g_t``, ``g0`` the mean gradient, ``r = c ||g0||``.

    Since ``r||u|| = min_s r(||u||²/(2s) + s/2)``, F is minimised jointly over ``w`` and ``s > 0``: for a fixed
    ``s`` a QP in ``w`` (quadprog, on unit rows), and ``s`` the root of ``s² = ||u(s)||²`` (the derivative in
    ``s``, monotone since the partial minimum of a jointly convex function is convex), found by Brent's
    method between the smallest ``||u||`` and the largest gradient norm. The certificate is the duality gap
    ``F(w) − min_i g_i·d``, ``d = g0 + r u/||u||`` the primal update (weak duality bounds F's error by it):
    converged when it is at most ``tolerance (||g0|| + r) max_t ||g_t||``.
    """
    tasks = len(gramian)
    cosines, norms = unit_rows(gramian)
    mean = np.full(tasks, 1.0 / tasks)
    alignment = gramian @ mean  # g_t · g0
    radius = c * math.sqrt(max(float(mean @ alignment), 0.0))
    if radius == 0.0:
        return Solution(mean, True)
    constraints, bounds = _simplex_constraints(norms)

    def weights_at(s: float) -> np.ndarray:  # min_w g0·u + r||u||²/(2s), scaled by s/r
        return _on_simplex(_qp(cosines, -(s / radius) * alignment / norms, constraints, bounds, 1), norms)

    def slope(s: float) -> float:  # the sign of dF/ds
        weights = weights_at(s)
        return s * s - float(weights @ gramian @ weights)

    high = norms.max()
    low = NEGLIGIBLE * high
    if slope(low) >= 0:  # the hull nearly holds the origin
        root = low
    elif slope(high) <= 0:  # the hull is nearly one point of the largest norm (parallel rows), up to rounding
        root = high
    else:
        root = brentq(slope, low, high, xtol=1e-15 * high, rtol=1e-15, maxiter=200)
    weights = weights_at(root)
    products = gramian @ weights
    length = math.sqrt(max(float(weights @ products), 0.0))
    if length == 0.0:
        return Solution(weights, False)
    value = float(alignment @ weights) + radius * length
    worst = float((alignment + radius / length * products).min())
    scale = (math.sqrt(float(mean @ alignment)) + radius) * high
    return Solution(weights, value - worst <= tolerance * scale)


def fair_allocation(gramian: np.ndarray, alpha: float = 1.0, tolerance: float = 1e-10, iterations: int = 100
                    ) -> Solution:
    """``w > 0`` with ``Gw = w^(−1/α)`` (FairGrad's α-fair allocation, Ban & Ji 2024, eq. 4; α = 1 is
    Nash-MTL's ``Gα = 1/α``, Navon et al. 2022): the minimiser of the strictly convex
    ``½wᵀGw − Σ h(w_t)``, ``h' = w^(−1/α)``, by Newton's method with backtracking, from the answer for
    orthogonal gradients (``w_t = G_tt^(−α/(1+α))``). Newton's steps do not depend on the variables' scale;
    each linear system is solved in the scaled variables ``w_t x_t``. Converged when the relative residual
    ``max_t |w_t^(1/α)(Gw)_t − 1|`` is at most ``tolerance``. A zero gradient gets weight 0 (the equation
    has no solution for it); where none exists at all (the origin is in the gradients' convex hull: the
    potential falls without end as ``w`` grows), the last finite iterate is returned, unconverged.

    >>> fair_allocation(np.diag([4.0, 1.0])).weights  # orthogonal: w_t = 1 / ||g_t||
    array([0.5, 1. ])
    """
    weights = np.zeros(len(gramian))
    live = np.diag(gramian) > (NEGLIGIBLE ** 2) * np.diag(gramian).max()
    g = gramian[np.ix_(live, live)]
    w = np.diag(g) ** (-alpha / (1 + alpha))
    power = 1.0 - 1.0 / alpha

    def potential(x: np.ndarray) -> float:
        barrier = np.log(x).sum() if alpha == 1 else (x ** power).sum() / power
        return 0.5 * float(x @ g @ x) - barrier

    def residual(x: np.ndarray) -> float:
        return float(np.abs(x ** (1 / alpha) * (g @ x) - 1).max())

    for _ in range(iterations):
        if residual(w) <= tolerance:
            break
        scaled_gradient = w * (g @ w) - w ** power
        scaled_hessian = w[:, None] * g * w[None, :] + np.diag(w ** power / alpha)
        try:
            solution = np.linalg.solve(scaled_hessian, scaled_gradient)
        except np.linalg.LinAlgError:  # w ran off to infinity: no solution (the hull holds the origin)
            break
        step, decrement = w * solution, float(scaled_gradient @ solution)
        if not np.isfinite(step).all():
            break
        size = 1.0
        while (w - size * step <= 0).any():
            size /= 2
        if decrement > 1e-6:  # far from the answer: Armijo backtracking; near it, full (quadratic) steps
            while size > 1e-12 and potential(w - size * step) > potential(w) - 1e-4 * size * decrement:
                size /= 2
        w = w - size * step
    weights[live] = w
    return Solution(weights, residual(w) <= tolerance)


def dual_cone_weights(gramian: np.ndarray, preference: np.ndarray, tolerance: float = 1e-10) -> Solution:
    """UPGrad's weights (Quinton & Rey 2024, Proposition 1): ``Σ_i v_i``, ``v_i = argmin vᵀGv`` subject to
    ``v >= preference_i e_i``, so that ``Σ_t v_it g_t`` is the projection of ``preference_i g_i`` onto the
    dual cone ``{x : g_t·x >= 0 for every t}``. Each QP is solved by quadprog on unit rows (the cone depends
    on them only). Certificate, per projection of a unit row: the KKT conditions ``(Cz)_t >= 0`` and
    ``(Cz)_t (z_t − l_t) = 0`` to ``tolerance``."""
    cosines, norms = unit_rows(gramian)
    tasks = len(norms)
    weights, converged = np.zeros(tasks), True
    for i in range(tasks):
        lower = np.eye(tasks)[i]
        z = np.clip(_qp(cosines, np.zeros(tasks), np.eye(tasks), lower, 0), lower, None)
        products = cosines @ z
        converged &= bool(products.min() >= -tolerance and np.abs(products * (z - lower)).max() <= tolerance)
        weights += preference[i] * norms[i] * z / norms
    return Solution(weights, converged)


def project_onto_simplex(vector: np.ndarray) -> np.ndarray:
    """The Euclidean projection onto ``{w >= 0, Σ w = 1}`` (sort-based, Held et al. 1974).

    >>> project_onto_simplex(np.array([0.5, 1.5, -1.0]))
    array([0., 1., 0.])
    """
    ordered = np.sort(vector)[::-1]
    cumulative = np.cumsum(ordered) - 1.0
    last = np.nonzero(ordered * np.arange(1, len(vector) + 1) > cumulative)[0][-1]
    return np.clip(vector - cumulative[last] / (last + 1), 0.0, None)
