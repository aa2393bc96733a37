"""Gradient weightings: each member's update of the shared parameters from its per-task gradients ``J``.

Every solver works on a normalised Gramian (``normalised``: ``G / tr G``), so the weights do not depend on
the gradients' scale (tested from 1e-6 to 1e6); where torchjd implements a method with conventions that
fit, its ``Weighting`` (a function of the Gramian) is called per member.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize
from torchjd.aggregation import (
    AlignedMTLWeighting,
    GradVacWeighting,
    IMTLGWeighting,
    MGDAWeighting,
    PCGradWeighting,
    UPGradWeighting,
)

from bench.weighting.base import ZERO_TRACE, GradientWeighting, member_generator, normalised

MGDA_NORMALISATIONS = ("none", "l2", "loss", "loss+")


class _SeededTorchjd(GradientWeighting):
    """A torchjd weighting per member; those that draw random orders (PCGrad, GradVac) draw from torch's
    global generator, so each call runs under a generator forked from the member's own seed."""

    def make(self):
        raise NotImplementedError

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.solvers = [self.make() for _ in members]
        self.generators = [member_generator(seed, salt=29) for seed in self.seeds]

    def weigh(self, member, gramian, losses):
        seed = int(torch.randint(2**62, (1,), generator=self.generators[member]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.solvers[member](normalised(gramian))


class MGDA(GradientWeighting):
    """MGDA-UB (Sener & Koltun, NeurIPS 2018): the min-norm point of the convex hull of the task gradients,
    found by Frank-Wolfe (torchjd's ``MGDAWeighting``, their Algorithm 2).

    ``normalisation`` divides each gradient before the solver, as their code's ``gradient_normalizers``
    and LibMTL's ``mgda_gn``: ``none`` (raw gradients: the default of torchjd and of LibMTL), ``l2`` (unit
    norm), ``loss`` (by the loss), ``loss+`` (by loss x norm). The update combines the normalised gradients,
    as both codes do, so the weights on the raw gradients are ``α_t / n_t``.
    """

    name = "mgda"

    def __init__(self, normalisation: str = "none") -> None:
        super().__init__()
        if normalisation not in MGDA_NORMALISATIONS:
            raise ValueError(f"weighting.normalisation={normalisation!r} is invalid, expected one of "
                             f"{', '.join(MGDA_NORMALISATIONS)}")
        self.normalisation = normalisation
        self.name = "mgda" if normalisation == "none" else f"mgda_{normalisation}"
        self.solver = MGDAWeighting()

    def weigh(self, member, gramian, losses):
        norms = gramian.diagonal().clamp_min(0).sqrt()
        divisor = {"none": torch.ones_like(norms), "l2": norms, "loss": losses,
                   "loss+": losses * norms}[self.normalisation].clamp_min(ZERO_TRACE)
        scaled = gramian / divisor[:, None] / divisor[None, :]
        return self.solver(normalised(scaled)) / divisor


class PCGrad(_SeededTorchjd):
    """PCGrad (Yu et al., NeurIPS 2020): project each gradient off every gradient it conflicts with, in a
    random order, and sum (torchjd's ``PCGradWeighting``: a new order per task, as the paper's algorithm;
    LibMTL draws one order per step). The sum, not the mean, as the paper and both libraries."""

    name = "pcgrad"

    def make(self):
        return PCGradWeighting()


class CAGrad(GradientWeighting):
    """CAGrad (Liu et al., NeurIPS 2021): the update that maximises the worst task's improvement within a
    ball of radius ``c ||g0||`` around the mean gradient ``g0``; the dual over the simplex is solved with
    SLSQP as the official code and LibMTL (torchjd uses cvxpy).

    Convention: the update is divided by ``1 + c²``, as the official code (``rescale=1``) and LibMTL; torchjd
    does not rescale. ``c = 0.4``, the paper's value for multi-task benchmarks. The dual is solved on the
    normalised Gramian: on a raw one with large entries SLSQP stops at its start (uniform weights).
    """

    name = "cagrad"

    def __init__(self, c: float = 0.4) -> None:
        super().__init__()
        if c < 0:
            raise ValueError(f"weighting.c={c!r} is invalid, expected a number >= 0")
        self.c = c

    def weigh(self, member, gramian, losses):
        tasks = gramian.shape[0]
        g = normalised(gramian).numpy()
        mean = np.full(tasks, 1.0 / tasks)
        radius = self.c * np.sqrt(max(mean @ g @ mean, 0.0)) + 1e-12
        result = minimize(lambda w: w @ g @ mean + radius * np.sqrt(max(w @ g @ w, 0.0) + 1e-12), mean,
                          bounds=[(0.0, 1.0)] * tasks, method="SLSQP",
                          constraints={"type": "eq", "fun": lambda w: w.sum() - 1.0})
        w = result.x
        scale = radius / (np.sqrt(max(w @ g @ w, 0.0)) + 1e-12)
        return torch.from_numpy((mean + scale * w) / (1.0 + self.c ** 2))


class IMTL(GradientWeighting):
    """IMTL-G (Liu et al., ICLR 2021): the weights (summing to 1) whose update has equal projections on every
    unit task gradient; torchjd's ``IMTLGWeighting`` (a pseudo-inverse, so linearly dependent gradients are
    allowed). Only the gradient half of IMTL; its loss half is ``weighting=imtl_l`` (``IMTLL``)."""

    name = "imtl"

    def weigh(self, member, gramian, losses):
        return IMTLGWeighting()(normalised(gramian))


class NashMTL(GradientWeighting):
    """Nash-MTL (Navon et al., ICML 2022): the Nash bargaining update ``Σ α_t g_t`` with ``G α = 1/α``.

    Convention: ``α`` minimises the strictly convex ``½ αᵀGα − Σ log α_t`` (its gradient is ``Gα − 1/α``),
    solved by damped Newton steps here rather than the official sequence of cvxpy problems (torchjd also
    uses cvxpy); on the normalised Gramian, then mapped back so the raw update is the solution's (its norm is
    ``√T`` whatever the scale, as the paper's). Weights are re-solved every step (official:
    ``update_weights_every=1``); the official code's gradient-norm clipping (``max_norm=1``) is not applied.
    """

    name = "nash_mtl"

    def __init__(self, iterations: int = 50) -> None:
        super().__init__()
        self.iterations = iterations

    def weigh(self, member, gramian, losses):
        trace = torch.trace(gramian)
        if trace <= ZERO_TRACE:
            return torch.zeros(gramian.shape[0], dtype=gramian.dtype)
        g = normalised(gramian) + 1e-12 * torch.eye(gramian.shape[0], dtype=gramian.dtype)
        alpha = torch.ones(gramian.shape[0], dtype=gramian.dtype)
        for _ in range(self.iterations):
            grad = g @ alpha - 1 / alpha
            step = torch.linalg.solve(g + torch.diag(1 / alpha ** 2), grad)
            size = 1.0
            while bool((alpha - size * step <= 0).any()):
                size /= 2
            alpha = alpha - size * step
            if float(grad.abs().max()) < 1e-10:
                break
        return alpha / trace.sqrt()


class UPGrad(GradientWeighting):
    """UPGrad (Quinton & Rey, 2024, "Jacobian descent"): project each gradient onto the dual cone of all of
    them and average; torchjd's ``UPGradWeighting`` with its quadprog projector (the ``quadprog_projector``
    extra, a dependency of this package). Weights are the mean's (1/T) plus the projections'."""

    name = "upgrad"

    def __init__(self) -> None:
        super().__init__()
        self.solver = UPGradWeighting()

    def weigh(self, member, gramian, losses):
        return self.solver(normalised(gramian))


class AlignedMTL(GradientWeighting):
    """Aligned-MTL (Senushkin et al., CVPR 2023): condition the task gradients to equal, orthogonal ones and
    combine them with weights 1/T; torchjd's ``AlignedMTLWeighting``.

    Convention: torchjd's (``scale_mode='min'``: the smallest non-zero eigenvalue, and preference 1/T); the
    official code and LibMTL combine with weights 1, an update T times larger.
    """

    name = "aligned_mtl"

    def __init__(self, scale_mode: str = "min") -> None:
        super().__init__()
        self.solver = AlignedMTLWeighting(scale_mode=scale_mode)

    def weigh(self, member, gramian, losses):
        return self.solver(normalised(gramian))


class GradVac(_SeededTorchjd):
    """Gradient Vaccine (Wang et al., ICLR 2021): raise each pair's cosine towards its running mean (EMA
    ``beta``); torchjd's ``GradVacWeighting`` per member (it keeps the running cosines: member state).
    ``beta = 0.5`` as torchjd and LibMTL (the paper: 0.01); orders drawn from the member's seed."""

    name = "gradvac"

    def __init__(self, beta: float = 0.5) -> None:
        super().__init__()
        self.beta = beta

    def make(self):
        return GradVacWeighting(beta=self.beta)


class GradNorm(GradientWeighting):
    """GradNorm (Chen et al., ICML 2018): learnable weights whose weighted gradient norms ``w_t ||g_t||`` move
    towards their mean times ``r_t^α``, ``r_t`` task t's loss relative to its first, relative to the mean.

    Conventions: the norms are of the gradients of all shared parameters (the paper: the last shared layer);
    the weights take a plain gradient step of size ``lr`` on the L1 GradNorm loss, with the norms divided by
    their mean (so the step does not depend on the gradients' scale), then are renormalised to sum to T.
    ``α = 1.5`` (the paper's, LibMTL's default). The step uses the weights before their update.
    """

    name = "gradnorm"

    def __init__(self, alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__()
        self.alpha, self.lr = alpha, lr

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.task_weights = torch.ones(len(members), tasks, dtype=torch.float64)
        self.first_losses: list[torch.Tensor | None] = [None] * len(members)

    def weigh(self, member, gramian, losses):
        weights = self.task_weights[member].clone()
        if self.first_losses[member] is None:
            self.first_losses[member] = losses.clamp_min(ZERO_TRACE)
        norms = gramian.diagonal().clamp_min(0).sqrt()
        norms = norms / norms.mean().clamp_min(ZERO_TRACE)
        ratios = losses / self.first_losses[member]
        target = (weights * norms).mean() * (ratios / ratios.mean().clamp_min(ZERO_TRACE)) ** self.alpha
        updated = (weights - self.lr * torch.sign(weights * norms - target) * norms).clamp_min(1e-6)
        self.task_weights[member] = updated * len(updated) / updated.sum()
        return weights


class DBMTL(GradientWeighting):
    """DB-MTL (Lin et al., 2023, "Dual-balancing multi-task learning"): differentiate ``log L_t`` (loss-scale
    balance), keep an EMA ``ĝ_t`` of each task's gradient, and scale each to the largest norm (gradient-
    magnitude balance): update ``Σ_t (max_s ||ĝ_s|| / ||ĝ_t||) ĝ_t``.

    Conventions as LibMTL's: the EMA's weight on the past is ``beta / k^beta_sigma`` at step k (0.9, 0.5);
    the heads also get the gradient of their task's log-loss.
    """

    name = "db_mtl"

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.5) -> None:
        super().__init__()
        self.beta, self.beta_sigma = beta, beta_sigma

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.buffers: list[torch.Tensor | None] = [None] * len(members)
        self.steps = [0] * len(members)

    def objective(self, losses):
        return torch.log(losses + 1e-8)

    def aggregate(self, member, jacobian, losses):
        self.steps[member] += 1
        past = self.beta / self.steps[member] ** self.beta_sigma
        buffer = self.buffers[member]
        buffer = jacobian if buffer is None else jacobian + past * (buffer - jacobian)
        self.buffers[member] = buffer
        norms = buffer.norm(dim=1)
        weights = norms.max() / (norms + 1e-8)
        return weights @ buffer, weights
