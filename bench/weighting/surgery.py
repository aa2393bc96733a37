"""Gradient surgery: each task gradient corrected against the others in a random order (PCGrad, GradVac), or
each coordinate's conflicting signs dropped at random (GradDrop). Random draws come from the member's seed,
so a member is the same alone or in a population.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.weighting.base import GradientWeighting, member_generator
from bench.weighting.solvers import unit_rows


def task_orders(generator: torch.Generator, tasks: int) -> list[list[int]]:
    """For each task in turn, a random order of the other tasks (one permutation drawn per task)."""
    orders = []
    for i in range(tasks):
        others = [j for j in range(tasks) if j != i]
        orders.append([others[k] for k in torch.randperm(tasks - 1, generator=generator).tolist()])
    return orders


class _SequentialCorrection(GradientWeighting):
    """Row by row, a task's gradient corrected against every other task's, in an order drawn per task from
    the member's generator; the update is the sum of the corrected rows.

    The corrections are made on unit rows: row i's corrected gradient is kept as coefficients ``K_i`` on the
    unit gradients, starting at ``e_i``. Both methods' corrections scale with row i and do not depend on the
    other rows' norms, so the corrected gradient is ``n_i Σ_k K_ik g_k / n_k``: no division by a tiny norm.
    """

    salt = 29

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.generators = [member_generator(seed, salt=self.salt) for seed in self.seeds]

    def weigh(self, member, gramian, losses):
        cosines, norms = unit_rows(gramian)
        coefficients = np.eye(len(norms))
        for i, order in enumerate(task_orders(self.generators[member], len(norms))):
            for j in order:
                self.correct(member, coefficients[i], i, j, cosines)
        return (norms[:, None] * coefficients).sum(0) / norms

    def correct(self, member: int, row: np.ndarray, i: int, j: int, cosines: np.ndarray) -> None:
        raise NotImplementedError


class PCGrad(_SequentialCorrection):
    """PCGrad (Yu et al., NeurIPS 2020, Algorithm 1): project each gradient off every gradient it conflicts
    with, in a random order, and sum (not the mean: the paper, LibMTL and torchjd).

    Convention: an order of the other tasks drawn per task and step, as LibMTL (which reshuffles per task)
    and torchjd. LibMTL adds 1e-8 to ``||g_j||²``, which bends projections off gradients of order 1e-4.
    """

    name = "pcgrad"

    def correct(self, member, row, i, j, cosines):
        inner = float(row @ cosines[:, j])
        if inner < 0:
            row[j] -= inner  # unit row j: the projection's coefficient is the inner product itself


class GradVac(_SequentialCorrection):
    """Gradient Vaccine (Wang et al., ICLR 2021): raise the cosine of each pair ``(i, j)`` to its running
    target ``φ̂_ij`` (an EMA of the observed cosines, weight ``beta`` on the new one, starting at 0) by adding
    a multiple of ``g_j``; orders drawn per task as PCGrad. ``φ̂`` is member state.

    Convention: ``beta = 0.5`` as torchjd and LibMTL (the paper: 0.01); one group, the whole trunk (LibMTL's
    ``GradVac_group_type=0``). ``eps = 1e-8`` in the denominators, as both, but on unit rows: torchjd applies
    it to the trace-normalised Gramian and LibMTL to the raw gradients, where it bends the correction of a
    gradient 1e4 times smaller than the largest (torchjd) or of norm ~1e-4 (LibMTL).
    """

    name = "gradvac"
    salt = 31

    def __init__(self, beta: float = 0.5, eps: float = 1e-8) -> None:
        super().__init__()
        if not 0 <= beta <= 1:
            raise ValueError(f"weighting.beta={beta!r} is invalid, expected a number in [0, 1]")
        self.beta, self.eps = beta, eps

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.targets = np.zeros((len(members), tasks, tasks))

    def correct(self, member, row, i, j, cosines):
        length = math.sqrt(max(float(row @ cosines @ row), 0.0))
        cosine = float(row @ cosines[:, j]) / (length + self.eps)
        target = self.targets[member, i, j]
        if cosine < target:
            row[j] += length * (target * math.sqrt(max(1 - cosine ** 2, 0.0))
                                - cosine * math.sqrt(max(1 - target ** 2, 0.0))) / (
                math.sqrt(max(1 - target ** 2, 0.0)) + self.eps)
        self.targets[member, i, j] = (1 - self.beta) * target + self.beta * cosine


class GradDrop(GradientWeighting):
    """GradDrop (Chen et al., NeurIPS 2020, "Just pick a sign"): per coordinate of the shared parameters,
    the sign purity ``P = ½(1 + Σ_t g_t / Σ_t |g_t|)``; with ``U`` uniform, keep the positive parts if
    ``P > U``, else the negative ones; ``leak`` of every dropped part still passes (0, as LibMTL). ``U`` is
    drawn from the member's seed. Its weights (the record's) are the fraction of coordinates each task kept.

    .. note:: The paper drops signs at a layer of activations (LibMTL: on the representation, with the
       input's sign); here on the shared parameters' gradients, where the per-task Jacobian already is, as
       torchjd's ``GradDrop`` aggregator does.
    """

    name = "graddrop"
    salt = 37

    def __init__(self, leak: float = 0.0) -> None:
        super().__init__()
        if not 0 <= leak <= 1:
            raise ValueError(f"weighting.leak={leak!r} is invalid, expected a number in [0, 1]")
        self.leak = leak

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.generators = [member_generator(seed, salt=self.salt) for seed in self.seeds]

    def aggregate(self, member, jacobian, losses):
        total, size = jacobian.sum(0), jacobian.abs().sum(0)
        purity = 0.5 * (1 + torch.where(size > 0, total / size.clamp_min(torch.finfo(size.dtype).tiny), 0.0))
        draw = torch.rand(jacobian.shape[1], generator=self.generators[member], dtype=torch.float64)
        draw = draw.to(device=jacobian.device, dtype=jacobian.dtype)
        kept = ((purity > draw) & (jacobian > 0)) | ((purity < draw) & (jacobian < 0))
        update = ((self.leak + (1 - self.leak) * kept) * jacobian).sum(0)
        return update, kept.double().mean(1).cpu()
