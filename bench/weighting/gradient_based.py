"""Gradient weightings defined by a problem on the task gradients, solved exactly or to a stated tolerance.

Each maps a member's ``T x T`` Gramian ``G = J Jᵀ`` (float64) to the weights of its update ``wᵀJ``; the
problems are solved in ``bench.weighting.solvers`` on unit rows, so rows of any scale keep their digits. A
step whose solver missed its tolerance is counted in the run's record (``fit.unconverged_steps``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.weighting.base import GradientWeighting
from bench.weighting.solvers import cagrad_dual, dual_cone_weights, fair_allocation, min_norm, unit_rows

MGDA_NORMALISATIONS = ("none", "l2", "loss", "loss+")
ALIGNED_SCALES = ("min", "median", "rmse")


class MGDA(GradientWeighting):
    """MGDA-UB (Sener & Koltun, NeurIPS 2018): the min-norm point of the convex hull of the task gradients,
    solved exactly (``solvers.min_norm``: a QP by quadprog, certified within 1e-6 of the exact point).

    ``normalisation`` divides each gradient before the solver, as their code's ``gradient_normalizers``
    and LibMTL's ``mgda_gn``: ``none`` (raw gradients: the default of torchjd and of LibMTL), ``l2`` (unit
    norm), ``loss`` (by the loss), ``loss+`` (by loss x norm). The update combines the normalised gradients,
    as both codes do, so the weights on the raw gradients are ``α_t / n_t``.

    .. note:: The paper's code and LibMTL solve the QP by Frank-Wolfe, stopped after a change below 1e-5 or
       250 iterations (within 2e-4 of the exact point on the issue's matrices); torchjd's defaults (1e-3, 100)
       stopped up to 0.37 away. All are exact for two tasks.
    """

    name = "mgda"
    solves = True

    def __init__(self, normalisation: str = "none") -> None:
        super().__init__()
        if normalisation not in MGDA_NORMALISATIONS:
            raise ValueError(f"weighting.normalisation={normalisation!r} is invalid, expected one of "
                             f"{', '.join(MGDA_NORMALISATIONS)}")
        self.normalisation = normalisation
        self.name = "mgda" if normalisation == "none" else f"mgda_{normalisation}"

    def weigh(self, member, gramian, losses):
        norms = np.sqrt(np.clip(np.diag(gramian), 0.0, None))
        divisor = {"none": np.ones_like(norms), "l2": norms, "loss": losses,
                   "loss+": losses * norms}[self.normalisation]
        divisor = np.maximum(divisor, 1e-30)  # a zero loss or gradient: its squares stay finite in float64
        return self.solved(member, min_norm(gramian / np.outer(divisor, divisor))) / divisor


class CAGrad(GradientWeighting):
    """CAGrad (Liu et al., NeurIPS 2021): the update that maximises the worst task's improvement within a
    ball of radius ``c ||g0||`` around the mean gradient ``g0``: ``d = g0 + r u/||u||``, ``u = Σ w_t g_t``
    with ``w`` the dual's solution (``solvers.cagrad_dual``: certified to a duality gap of 1e-10).

    Convention: the update is divided by ``1 + c²``, as the official code (``rescale=1``) and LibMTL; torchjd
    does not rescale. ``c = 0.4``, the paper's value for multi-task benchmarks (LibMTL's default: 0.5).

    .. note:: The official code and LibMTL solve the dual with SLSQP at its default tolerance on the raw
       Gramian (within 2e-5 of the exact update on random matrices; their 1e-8 guards bend it on gradients
       of order 1e-4); the suite's earlier SLSQP on the trace-normalised Gramian stopped 3e-3 away, and on
       rows scaled 1e-3..1e3 returned an update that harmed a task.
    """

    name = "cagrad"
    solves = True

    def __init__(self, c: float = 0.4) -> None:
        super().__init__()
        if c < 0:
            raise ValueError(f"weighting.c={c!r} is invalid, expected a number >= 0")
        self.c = c

    def weigh(self, member, gramian, losses):
        mean = np.full(len(gramian), 1.0 / len(gramian))
        dual = self.solved(member, cagrad_dual(gramian, self.c))
        radius = self.c * math.sqrt(max(float(mean @ gramian @ mean), 0.0))
        length = math.sqrt(max(float(dual @ gramian @ dual), 0.0))
        return (mean + (radius / length if length > 0 else 0.0) * dual) / (1.0 + self.c ** 2)


class IMTL(GradientWeighting):
    """IMTL-G (Liu et al., ICLR 2021): the weights (summing to 1) whose update has equal projections on every
    unit task gradient. Closed form: with ``G = N C N``, the weights are ``∝ N⁻¹ C⁺ 1`` (torchjd's
    ``pinv(G) n``, computed on the cosines so that rows of any scale keep their digits; the paper's
    ``g₁Uᵀ(DUᵀ)⁻¹`` when the gradients are independent). Only the gradient half of IMTL; its loss half is
    ``weighting=imtl_l`` (``IMTLL``).

    .. note:: As in the paper, LibMTL and torchjd, the weights are normalised to sum to 1, so where
       ``Σ_t (C⁻¹1)_t / n_t < 0`` (near-parallel gradients of very different norms) the update has equal
       *negative* projections: it ascends every task. Kept as defined.
    """

    name = "imtl"

    def weigh(self, member, gramian, losses):
        cosines, norms = unit_rows(gramian)
        raw = np.linalg.pinv(cosines, hermitian=True) @ np.ones(len(norms)) / norms
        total = raw.sum()
        return raw / total if abs(total) * norms.max() > 1e-12 else np.zeros(len(norms))


class NashMTL(GradientWeighting):
    """Nash-MTL (Navon et al., ICML 2022): the Nash bargaining update ``Σ α_t g_t`` with ``G α = 1/α``, solved
    to a relative residual ``max_t |α_t (Gα)_t − 1| <= 1e-10`` (``solvers.fair_allocation`` at α = 1: Newton
    on the convex ``½αᵀGα − Σ log α_t``). The update's norm is ``√T`` whatever the gradients' scale, and it is
    unchanged when one task's gradient is rescaled (the paper's scale invariance).

    .. note:: The official code and LibMTL solve a sequence of convex programs with cvxpy (ECOS), stopped
       at a residual norm of 1e-3 or after 20 of them, and clip the shared gradient's norm to 1 (``max_norm``);
       here the equation is solved to tolerance, re-solved every step (``update_weights_every=1``), and no
       clipping is applied.
    """

    name = "nash_mtl"
    solves = True

    def weigh(self, member, gramian, losses):
        return self.solved(member, fair_allocation(gramian, 1.0))


class FairGrad(GradientWeighting):
    """FairGrad (Ban & Ji, ICML 2024, "Fair resource allocation in multi-task learning"): the α-fair update
    ``Σ w_t g_t`` with ``G w = w^(−1/α)`` (each task's improvement ``g_t·d`` is its weight to the power
    −1/α), solved to a relative residual of 1e-10 (``solvers.fair_allocation``). α = 1 is Nash-MTL's
    equation; larger α favours the worst-off task (α → ∞: max-min fairness).

    Convention: ``alpha = 2``, the official experiments' value (LibMTL's default is 1, Nash-MTL). The
    equation is on the raw Gramian, as the paper: for α ≠ 1 the weights depend on the gradients' scale.

    .. note:: The official code and LibMTL call scipy's ``least_squares`` from ``1/T`` at its default
       tolerances; here Newton's method on the convex potential whose stationarity is the equation.
    """

    name = "fairgrad"
    solves = True

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"weighting.alpha={alpha!r} is invalid, expected a number > 0")
        self.alpha = alpha

    def weigh(self, member, gramian, losses):
        return self.solved(member, fair_allocation(gramian, self.alpha))


class UPGrad(GradientWeighting):
    """UPGrad (Quinton & Rey, 2024, "Jacobian descent"): project each gradient, weighted 1/T, onto the dual
    cone of all of them and sum; each projection is a QP solved by quadprog on unit rows, certified by its
    KKT conditions to 1e-10 (``solvers.dual_cone_weights``).

    .. note:: torchjd and LibMTL add ``1e-4 I`` to the trace-normalised Gramian before the QP (``reg_eps``),
       which moves the update by 2e-4 on random matrices and by half its norm on rows scaled 1e-3..1e3;
       here only 1e-13 on the cosines' diagonal (for parallel rows).
    """

    name = "upgrad"
    solves = True

    def weigh(self, member, gramian, losses):
        return self.solved(member, dual_cone_weights(gramian, np.full(len(gramian), 1.0 / len(gramian))))


class AlignedMTL(GradientWeighting):
    """Aligned-MTL (Senushkin et al., CVPR 2023): condition the task gradients to equal, orthogonal ones and
    combine them with weights 1/T. From the SVD ``J = UΣVᵀ`` (float64), the aligned matrix is
    ``σ U Vᵀ`` and its weights on ``J`` are ``σ U Σ⁻¹ Uᵀ 1/T``, over the singular values above torchjd's rank
    tolerance. The SVD of J, not the eigenvalues of G, so that a small singular value keeps its digits.

    Convention: torchjd's (``scale_mode='min'``: σ the smallest non-zero singular value; ``median`` and
    ``rmse`` as torchjd's); the official code and LibMTL combine with weights 1, an update T times larger.
    """

    name = "aligned_mtl"

    def __init__(self, scale_mode: str = "min") -> None:
        super().__init__()
        if scale_mode not in ALIGNED_SCALES:
            raise ValueError(f"weighting.scale_mode={scale_mode!r} is invalid, expected one of "
                             f"{', '.join(ALIGNED_SCALES)}")
        self.scale_mode = scale_mode

    def aggregate(self, member, jacobian, losses):
        tasks = len(jacobian)
        u, sigma, _ = torch.linalg.svd(jacobian.double(), full_matrices=False)
        keep = sigma ** 2 > sigma.max() ** 2 * tasks * torch.finfo(torch.float64).eps
        if not keep.any():
            return torch.zeros_like(jacobian[0]), torch.zeros(tasks, dtype=torch.float64)
        u, sigma = u[:, keep], sigma[keep]
        squares = sigma ** 2
        scale = {"min": squares.min(), "median": torch.median(squares), "rmse": squares.mean()}[self.scale_mode]
        weights = (scale.sqrt() * (u / sigma) @ u.T @ torch.full((tasks,), 1.0 / tasks, dtype=torch.float64)).cpu()
        return weights.to(jacobian) @ jacobian, weights
