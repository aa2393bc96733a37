"""Loss weightings: the objective is a function of the per-task losses only (one backward pass a step).

Every method works on ``[R, T]`` losses at once, with ``[R, T]`` state: members never mix.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.weighting.base import LossWeighting, member_generator

# Keeps a logarithm of a loss finite (FAMO, geometric mean); the official FAMO uses 1e-8 too.
LOG_EPS = 1e-8


class EqualWeights(LossWeighting):
    """The unweighted sum of the task losses (weights 1, LibMTL's EW): every regime's default."""

    name = "sum"

    def backward(self, module, losses: torch.Tensor) -> None:
        losses.sum().backward()  # the engine's arithmetic before weightings existed, bit for bit


class MeanWeights(LossWeighting):
    """The mean of the task losses (weights 1/T, torchjd's ``Mean``): the sum's direction, T times smaller.

    Under Adam the two differ only through Adam's epsilon and weight decay; kept to make that visible.
    """

    name = "mean"

    def combine(self, losses, active):
        return losses / losses.shape[1]


class StaticWeights(LossWeighting):
    """A fixed weight vector (the scalarisation baseline of Xin et al. 2022); a sweep of them traces a front."""

    name = "static"

    def __init__(self, weights: Sequence[float]) -> None:
        super().__init__()
        if not weights or any(not isinstance(w, int | float) or w < 0 for w in weights):
            raise ValueError(f"weighting.weights={list(weights)!r} is invalid, expected non-negative numbers")
        self.register_buffer("task_weights", torch.tensor([float(w) for w in weights]))
        self.name = "static(" + ",".join(f"{float(w):g}" for w in weights) + ")"  # each vector its own arm

    def setup(self, members, tasks):
        super().setup(members, tasks)
        if len(self.task_weights) != tasks:
            raise ValueError(f"weighting.weights={self.task_weights.tolist()} has {len(self.task_weights)} "
                             f"values, expected one per task ({tasks})")

    def combine(self, losses, active):
        return losses * self.task_weights.to(losses)


class UncertaintyWeighting(LossWeighting):
    """Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018): ``½ e^{-s_t} L_t + ½ s_t``.

    The log-variances ``s`` ``[R, T]`` are parameters of the population module (``weighting.log_variance``),
    so each member's Adam (its own lr and weight decay) learns them with its network. Convention: the ½ on
    both terms for every task kind, as torchjd and LibMTL (the paper drops the ½ on the loss of a
    classification task); ``s`` starts at 0 (uniform weights), as torchjd (LibMTL starts at -0.5).
    """

    name = "uw"

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.log_variance = nn.Parameter(torch.zeros(len(members), tasks))

    def combine(self, losses, active):
        s = self.log_variance
        return (0.5 * torch.exp(-s) * losses + 0.5 * s) * active[:, None]


class IMTLL(LossWeighting):
    """IMTL-L (Liu et al., ICLR 2021, "Towards Impartial Multi-task Learning"), the loss half of IMTL:
    ``e^{s_t} L_t − s_t`` with learned scales ``s`` ``[R, T]``, so that every scaled loss is driven to 1.

    The scales are parameters of the population module (``weighting.log_scale``), learned with the member's
    Adam like uncertainty weighting's log-variances; ``s`` starts at 0 (the plain sum), as torchjd's ``IMTLL``.
    It equals twice UW at ``−s`` (torchjd's note): the same weights and optima, a different scale and sign.
    The paper's full IMTL applies IMTL-G (``weighting=imtl``) to the gradients of the scaled losses; IMTL-G's
    shared update keeps its direction (up to sign) when a task's gradient is rescaled, only its length
    changes, so the two halves are kept separate.
    """

    name = "imtl_l"

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.log_scale = nn.Parameter(torch.zeros(len(members), tasks))

    def combine(self, losses, active):
        s = self.log_scale
        return (torch.exp(s) * losses - s) * active[:, None]


class DynamicWeightAverage(LossWeighting):
    """DWA (Liu, Johns & Davison, CVPR 2019): ``w = T softmax(r / temperature)``, ``r_t`` the ratio of task
    t's mean losses over the two previous periods.

    Convention: a "period" is ``period`` steps (default 50, the trainer's validation period), where the
    paper and LibMTL use epochs; weights are uniform for the first two periods, as both. Temperature 2.
    """

    name = "dwa"

    def __init__(self, temperature: float = 2.0, period: int = 50) -> None:
        super().__init__()
        if temperature <= 0 or period < 1:
            raise ValueError(f"weighting.temperature={temperature!r}, weighting.period={period!r}: expected a "
                             "positive temperature and a period >= 1")
        self.temperature, self.period = temperature, period

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.running, self.count, self.history = torch.zeros(len(members), tasks), 0, []

    def combine(self, losses, active):
        weights = torch.ones_like(losses)
        if len(self.history) == 2:
            rates = self.history[1] / self.history[0].clamp_min(LOG_EPS)
            weights = losses.shape[1] * torch.softmax(rates.to(losses) / self.temperature, dim=1)
        self.running = self.running.to(losses) + losses.detach()
        self.count += 1
        if self.count == self.period:
            self.history = [*self.history, self.running / self.period][-2:]
            self.running, self.count = torch.zeros_like(self.running), 0
        return weights * losses


class RandomLossWeighting(LossWeighting):
    """RLW (Lin et al., TMLR 2022): each step, weights ``softmax(z)``, ``z ~ N(0, I)``, drawn per member from
    its own seed. Convention: the weights sum to 1, as LibMTL (not T)."""

    name = "rlw"

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.generators = [member_generator(seed, salt=17) for seed in self.seeds]

    def combine(self, losses, active):
        z = torch.stack([torch.randn(losses.shape[1], generator=g) for g in self.generators])
        return torch.softmax(z, dim=1).to(losses) * losses


class FAMO(LossWeighting):
    """FAMO (Liu et al., NeurIPS 2023): minimise ``c Σ z_t log(L_t + ε)``, ``z = softmax(ξ)``, ``c`` the
    normaliser ``(Σ z_t / (L_t + ε))⁻¹`` (a constant), so every loss falls at about the same rate.

    ``ξ`` ``[R, T]`` learns from how much each log-loss fell, with Adam (lr 0.025, weight decay 1e-3: the
    paper's Algorithm 2 and LibMTL; the official code uses 1e-5). Convention: the fall is measured from
    this step's losses to the next step's, on the next batch, so FAMO costs one forward pass a step like
    every method; the official code recomputes the losses on the same batch after the update.
    """

    name = "famo"

    def __init__(self, lr: float = 0.025, weight_decay: float = 1e-3) -> None:
        super().__init__()
        self.lr, self.weight_decay = lr, weight_decay

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.logits = torch.zeros(len(members), tasks, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.logits], lr=self.lr, weight_decay=self.weight_decay)
        self.previous: torch.Tensor | None = None

    def combine(self, losses, active):
        log_losses = torch.log(torch.where(active[:, None], losses.detach(), 1.0) + LOG_EPS).cpu()
        if self.previous is not None:
            fall = (self.previous - log_losses) * active.cpu()[:, None]
            self.logits.grad = torch.autograd.grad(torch.softmax(self.logits, 1), self.logits, fall)[0]
            self.optimizer.step()
        self.previous = log_losses
        z = torch.softmax(self.logits.detach(), dim=1).to(losses)
        shifted = torch.where(active[:, None], losses, 1.0) + LOG_EPS
        normaliser = (z / shifted.detach()).sum(1, keepdim=True)
        return z / normaliser * torch.log(shifted) * active[:, None]


class GeometricMean(LossWeighting):
    """The geometric mean of the task losses (Chennupati et al., CVPR-W 2019, "MultiNet++"): its gradient
    weighs task t by ``GM / (T L_t)``, so a task whose loss is already small is pushed as hard in
    relative terms as the others. Scale-free: multiplying one loss by a constant changes no direction."""

    name = "gm"

    def combine(self, losses, active):
        safe = torch.where(active[:, None], losses, 1.0) + LOG_EPS
        return torch.exp(torch.log(safe).mean(1)) * active


class SmoothTchebycheff(LossWeighting):
    """STCH (Lin et al., ICML 2024, "Smooth Tchebycheff scalarization for multi-objective optimization"): a
    smooth maximum of the log-losses relative to a nadir point, ``T μ log Σ_t exp(log(L_t / z_t) / μ)``, so
    the worst task (relative to where it stood) drives the step; ``μ = 1`` (LibMTL's default).

    Conventions as LibMTL: the first ``warmup`` periods minimise ``Σ log L_t``; the next period does too and
    averages the losses into the nadir ``z``; STCH from then on. A period is ``period`` steps (default 50, the
    trainer's validation period), where LibMTL uses epochs (``warmup`` 4, as its ``STCH_warmup_epoch``).
    """

    name = "stch"

    def __init__(self, mu: float = 1.0, warmup: int = 4, period: int = 50) -> None:
        super().__init__()
        if mu <= 0 or warmup < 0 or period < 1:
            raise ValueError(f"weighting.mu={mu!r}, weighting.warmup={warmup!r}, weighting.period={period!r}: "
                             "expected mu > 0, warmup >= 0 and a period >= 1")
        self.mu, self.warmup, self.period = mu, warmup, period

    def setup(self, members, tasks):
        super().setup(members, tasks)
        self.step, self.total, self.nadir = 0, torch.zeros(len(members), tasks), None

    def combine(self, losses, active):
        safe = torch.where(active[:, None], losses, 1.0)
        period, self.step = self.step // self.period, self.step + 1
        if period == self.warmup:
            self.total = self.total.to(losses) + safe.detach()
        if period <= self.warmup:
            return torch.log(safe + 1e-20) * active[:, None]
        if self.nadir is None:
            self.nadir = self.total / self.period
        relative = torch.log(safe / self.nadir.to(losses) + 1e-20)
        smooth_max = self.mu * torch.logsumexp(relative / self.mu, dim=1) * losses.shape[1]
        return (smooth_max * active)[:, None]
