"""Gradient weightings that carry state from step to step: learned or tracked weights (GradNorm, ExcessMTL,
MoDo, SDMGrad), running gradients (DB-MTL, MoCo). State is per member, so members never mix.

Where LibMTL and the official codes add 1e-8 to a gradient norm or a squared scale, only a zero is guarded
here, so that the weights do not depend on the gradients' scale (those guards bend the weights of gradients
of norm ~1e-4 and below); where a method is scale-dependent by definition, its docstring says so.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.weighting.base import GradientWeighting
from bench.weighting.solvers import project_onto_simplex

TINY = np.finfo(float).tiny
DB_MTL_STARTS = ("zero", "first")


def _decayed(rate: float, decay: float, step: int) -> float:
    """A step size ``rate / step^decay`` (DB-MTL's and MoCo's schedules)."""
    return rate / step ** decay


class GradNorm(GradientWeighting):
    """GradNorm (Chen et al., ICML 2018): learnable weights whose weighted gradient norms ``w_t ||g_t||`` move
    towards their mean times ``r_t^α``, ``r_t`` task t's loss relative to its first, relative to the mean.

    Conventions: the norms are of the gradients of all shared parameters (the paper: the last shared layer);
    the weights take a plain gradient step of size ``lr`` on the L1 GradNorm loss, with the norms divided by
    their mean (so the step does not depend on the gradients' scale), then are renormalised to sum to T.
    ``α = 1.5`` (the paper's, LibMTL's default). The step uses the weights before their update.

    .. note:: LibMTL learns ``T softmax(s)`` with the model's optimiser and keeps weights 1 for the first
       epoch; its update differs from this one by design, so it is not compared.
    """

    name = "gradnorm"

    def __init__(self, alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__()
        self.alpha, self.lr = alpha, lr

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.task_weights = np.ones((len(members), tasks))
        self.first_losses: list[np.ndarray | None] = [None] * len(members)

    def weigh(self, member, gramian, losses):
        weights = self.task_weights[member].copy()
        if self.first_losses[member] is None:
            self.first_losses[member] = np.maximum(losses, TINY)
        norms = np.sqrt(np.clip(np.diag(gramian), 0.0, None))
        norms = norms / max(norms.mean(), TINY)
        ratios = losses / self.first_losses[member]
        target = (weights * norms).mean() * (ratios / max(ratios.mean(), TINY)) ** self.alpha
        updated = np.maximum(weights - self.lr * np.sign(weights * norms - target) * norms, 1e-6)
        self.task_weights[member] = updated * len(updated) / updated.sum()
        return weights


class DBMTL(GradientWeighting):
    """DB-MTL (Lin et al., 2023, "Dual-balancing multi-task learning"): differentiate ``log L_t`` (loss-scale
    balance), keep an EMA ``ĝ_t`` of each task's gradient, and scale each to the largest norm (gradient-
    magnitude balance): update ``Σ_t (max_s ||ĝ_s|| / ||ĝ_t||) ĝ_t``. The EMA's weight on the past is
    ``beta / k^beta_sigma`` at step k; the heads also get the gradient of their task's log-loss.

    Conventions as the paper's Algorithm 1 and the authors' LibMTL: ``beta = 0.9``, ``beta_sigma = 0``
    (LibMTL's default), and the EMA starts at zero (``buffer_start: zero``), so the first update is
    ``(1 − beta)`` times the balanced gradient; ``buffer_start: first`` starts it at the first gradient (the
    suite's earlier choice: a first update 10x LibMTL's at beta 0.9).
    """

    name = "db_mtl"

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.0, buffer_start: str = "zero") -> None:
        super().__init__()
        if buffer_start not in DB_MTL_STARTS:
            raise ValueError(f"weighting.buffer_start={buffer_start!r} is invalid, expected one of "
                             f"{', '.join(DB_MTL_STARTS)}")
        self.beta, self.beta_sigma, self.buffer_start = beta, beta_sigma, buffer_start

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.buffers: list[torch.Tensor | None] = [None] * len(members)
        self.steps = [0] * len(members)

    def objective(self, losses):
        return torch.log(losses + 1e-8)

    def aggregate(self, member, jacobian, losses):
        self.steps[member] += 1
        buffer = self.buffers[member]
        if buffer is None:
            buffer = torch.zeros_like(jacobian) if self.buffer_start == "zero" else jacobian
        buffer = jacobian + _decayed(self.beta, self.beta_sigma, self.steps[member]) * (buffer - jacobian)
        self.buffers[member] = buffer
        norms = buffer.norm(dim=1)
        weights = torch.where(norms > 0, norms.max() / norms.clamp_min(TINY), 0.0)
        return weights @ buffer, weights.double().cpu()


class ExcessMTL(GradientWeighting):
    """ExcessMTL (He et al., ICML 2024, "Robust multi-task learning with excess risks"): weights that grow
    with each task's estimated excess risk ``g_tᵀ H_t⁻¹ g_t``, ``H_t`` AdaGrad's diagonal
    ``√(Σ_steps g_t² + 1e-7)`` (their eq. 6-7), relative to its first value: ``w ← w exp(η E_t / E_t⁰)``,
    renormalised to sum to T (eq. 9; ``robust_step_size`` η = 0.01, LibMTL's). Update ``Σ w_t g_t``.

    Conventions as the official code and LibMTL: weights start at 1 (torchjd: 1/T, the same direction) and
    the first step's excess risks are the reference (no warm-up); the update is computed in log space (as
    torchjd) so that a large ratio saturates instead of overflowing. The 1e-7 is AdaGrad's, as theirs: the
    weights depend on the gradients' scale below ~1e-3.
    """

    name = "excess_mtl"

    def __init__(self, robust_step_size: float = 0.01) -> None:
        super().__init__()
        if not robust_step_size > 0:
            raise ValueError(f"weighting.robust_step_size={robust_step_size!r} is invalid, expected a number > 0")
        self.robust_step_size = robust_step_size

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.squares: list[torch.Tensor | None] = [None] * len(members)
        self.first: list[torch.Tensor | None] = [None] * len(members)
        self.task_weights = torch.ones(len(members), tasks, dtype=torch.float64)

    def aggregate(self, member, jacobian, losses):
        squared = jacobian.double() ** 2
        total = squared if self.squares[member] is None else self.squares[member] + squared
        self.squares[member] = total
        excess = (squared / torch.sqrt(total + 1e-7)).sum(1).cpu()
        if self.first[member] is None:
            self.first[member] = excess
        else:
            ratio = excess / self.first[member].clamp_min(TINY)
            logits = torch.log(self.task_weights[member]) + self.robust_step_size * ratio
            self.task_weights[member] = len(logits) * torch.softmax(logits, 0)
        weights = self.task_weights[member].clone()
        return weights.to(jacobian) @ jacobian, weights


class MoCo(GradientWeighting):
    """MoCo (Fernando et al., ICLR 2023, "Mitigating gradient bias in multi-objective learning"): track each
    task's gradient, normalised and scaled by its loss, with ``y ← y − β_k (y − L_t g_t/||g_t||)``; move
    the weights ``λ ← softmax(λ − γ_k (y yᵀ + ρ I) λ)`` and update along ``yᵀλ`` (the tracked gradients,
    not this step's). ``β_k = beta / k^beta_sigma``, ``γ_k = gamma / k^gamma_sigma``.

    Conventions as LibMTL (from the authors' code): beta 0.5, beta_sigma 0.5, gamma 0.1, gamma_sigma 0.5,
    rho 0; ``y`` starts at 0 and ``λ`` at 1/T. The record's weights are ``λ``.
    """

    name = "moco"

    def __init__(self, beta: float = 0.5, beta_sigma: float = 0.5, gamma: float = 0.1, gamma_sigma: float = 0.5,
                 rho: float = 0.0) -> None:
        super().__init__()
        self.beta, self.beta_sigma, self.gamma, self.gamma_sigma, self.rho = beta, beta_sigma, gamma, gamma_sigma, rho

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.tracked: list[torch.Tensor | None] = [None] * len(members)
        self.lambdas = torch.full((len(members), tasks), 1.0 / tasks, dtype=torch.float64)
        self.steps = [0] * len(members)

    def aggregate(self, member, jacobian, losses):
        self.steps[member] += 1
        step = self.steps[member]
        exact = jacobian.double()
        norms = exact.norm(dim=1, keepdim=True)
        scaled = torch.where(norms > 0, exact / norms.clamp_min(TINY), 0.0) * losses.to(exact)[:, None]
        tracked = torch.zeros_like(exact) if self.tracked[member] is None else self.tracked[member]
        tracked = tracked - _decayed(self.beta, self.beta_sigma, step) * (tracked - scaled)
        self.tracked[member] = tracked
        lambdas = self.lambdas[member]
        gramian = (tracked @ tracked.T).cpu() + self.rho * torch.eye(len(lambdas), dtype=torch.float64)
        lambdas = torch.softmax(lambdas - _decayed(self.gamma, self.gamma_sigma, step) * gramian @ lambdas, 0)
        self.lambdas[member] = lambdas
        return (lambdas.to(tracked) @ tracked).to(jacobian), lambdas.clone()


class MoDo(GradientWeighting):
    """MoDo (Chen et al., NeurIPS 2023, "Three-way trade-off in multi-objective learning"): the weights take one
    projected gradient step a step on MGDA's objective, ``λ ← Π_simplex(λ − γ (Gλ + ρλ))``, and the update
    is ``Σ λ_t g_t``. ``gamma = 1e-3``, ``rho = 0.1`` (LibMTL's); ``λ`` starts at 1/T. On the raw Gramian,
    as the paper: the step depends on the gradients' scale.

    .. note:: The paper (and LibMTL) computes ``G`` from two independent batches and the update from a third
       ("double sampling", which makes the λ-step unbiased); the suite draws one batch per task and step, so
       all three are this step's gradients.
    """

    name = "modo"

    def __init__(self, gamma: float = 1e-3, rho: float = 0.1) -> None:
        super().__init__()
        self.gamma, self.rho = gamma, rho

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.lambdas = np.full((len(members), tasks), 1.0 / tasks)

    def weigh(self, member, gramian, losses):
        lambdas = self.lambdas[member]
        self.lambdas[member] = project_onto_simplex(lambdas - self.gamma * (gramian @ lambdas + self.rho * lambdas))
        return self.lambdas[member].copy()


class SDMGrad(GradientWeighting):
    """SDMGrad (Xiao et al., NeurIPS 2023, "Direction-oriented multi-objective learning"): weights ``w`` on
    the simplex minimising ``½||Jᵀw||² + λ g0·Jᵀw`` (a direction near the mean gradient ``g0`` that helps
    every task), approached by ``iterations`` projected SGD steps with momentum (lr 5, momentum 0.5, 20
    steps, warm-started from the last step's ``w``) on the Gramian divided by the squared mean gradient norm;
    update ``(Jᵀw + λ g0) / (1 + λ)``. ``regularisation`` is the paper's λ (0.3, LibMTL's and the authors'
    experiments'); the other values as LibMTL (torchjd: lr 10).

    .. note:: The paper (and LibMTL) computes the Gramian from two independent batches and the update from a
       third; the suite draws one batch per task and step, so all three are this step's gradients. The inner
       steps are the method's (a fixed number), not a solver run to tolerance.
    """

    name = "sdmgrad"

    def __init__(self, regularisation: float = 0.3, lr: float = 5.0, momentum: float = 0.5, iterations: int = 20
                 ) -> None:
        super().__init__()
        self.regularisation, self.lr, self.momentum, self.iterations = regularisation, lr, momentum, iterations

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.simplex_weights = np.full((len(members), tasks), 1.0 / tasks)

    def weigh(self, member, gramian, losses):
        tasks = len(gramian)
        scale = np.sqrt(np.clip(np.diag(gramian), 0.0, None)).mean()
        scaled = gramian / scale ** 2
        preference = np.full(tasks, 1.0 / tasks)
        weights, velocity = self.simplex_weights[member], np.zeros(tasks)
        for _ in range(self.iterations):
            velocity = self.momentum * velocity + scaled @ (weights + self.regularisation * preference)
            weights = project_onto_simplex(weights - self.lr * velocity)
        self.simplex_weights[member] = weights
        return (weights + self.regularisation * preference) / (1 + self.regularisation)
