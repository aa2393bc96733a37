"""The functions and input distributions a synthetic family's tasks are drawn from: its teacher.

Task ``t`` labels its inputs with ``y = c_t w_tᵀ h_t(x') + σ_t ε`` (a score: regression reads it, classification
thresholds it or takes its arg-max). Two families share this one code path:

- the **teacher** (``family="teacher"``): ``h_t(x) = φ(U_tᵀ x)`` with ``U_t`` a ``d x k`` matrix of orthonormal
  latent directions of the task's own and ``φ(z) = |z| − √(2/π)``, which has no linear part (``E[z φ(z)] = 0``),
  so a linear model on ``x`` explains nothing while a ReLU layer of ``2k`` units represents the task exactly.
  The latent directions of task ``t >= 1`` are ``U_t = orth(ρ_f U_0 + √(1 − ρ_f²) V_t)`` and its readouts
  ``w_t = ρ w_0 + √(1 − ρ²) b_t``: ``ρ_f`` (``feature_relatedness``) says how much the tasks share *features*,
  ``ρ`` (``relatedness``) how much they share *readouts* of them, two different kinds of relatedness.
- the **linear** family (``family="linear"``, after Wu, Zhang & Ré 2020): one shared map ``h(x) = xᵀP``
  (``tanh`` of it with ``feature_map="tanh"``) read out by ``w_t`` as above: the analytic twin, where OLS and
  pooled OLS have closed forms.

Each task's inputs are ``x = μ_t + s_t ⊙ g``, ``g ~ N(0, I)``: ``μ_t, s_t`` move with ``covariate_shift`` for
the sources (task 0 stays at ``N(0, I)``). With ``concept_shift`` ``κ``, the function moves with them:
``x' = (x − κ μ_t) / s_t^κ`` (``κ = 0``: the same function on moved inputs; ``κ = 1``: a source is its
unshifted task in moved coordinates, so its ``P(y | x)`` differs from the target's). ``c_t`` gives the clean
signal unit variance on standard-normal ``x'``; the noise is ``σ_t = label_noise x`` the signal's standard
deviation on the task's own inputs, so the signal-to-noise ratio is ``1 / label_noise²`` for every task at
every shift, and the regression Bayes risk is ``σ_t²`` (bench/data/bayes.py).

Everything is drawn from the seed: the anchor (task 0) from the seed alone, each other task from its own
stream, so a knob that moves only the other tasks leaves task 0 bit for bit the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TEACHER_STREAM, SHIFT_STREAM = 1_000_001, 1_000_002  # stream ids distinct from task indices
REFERENCE_SIZE = 4096  # standard-normal inputs that fix each task's signal scale and noise level
CENTRE = math.sqrt(2 / math.pi)  # E|z| for z ~ N(0, 1): φ(z) = |z| − CENTRE has mean zero
FEATURE_MAPS = {
    "linear": lambda z: z,
    "tanh": np.tanh,
    "abs": lambda z: np.abs(z) - CENTRE,
}


@dataclass(frozen=True)
class Teacher:
    """Per task: latent directions ``projections[t]`` (d x k), readouts (k x scores), scale ``c_t``, input
    distribution (``means``, ``stds``), how far the function follows it (``concept_shift``) and noise level."""

    feature_map: str
    projections: tuple[np.ndarray, ...]
    readouts: tuple[np.ndarray, ...]
    means: tuple[np.ndarray, ...]
    stds: tuple[np.ndarray, ...]
    concept_shift: float
    scales: tuple[float, ...] = ()
    noise: tuple[float, ...] = ()

    @property
    def n_tasks(self) -> int:
        return len(self.projections)

    def inputs(self, task: int, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.means[task] + self.stds[task] * rng.standard_normal((size, len(self.means[task])))

    def features(self, task: int, x: np.ndarray) -> np.ndarray:
        """``h_t(x')``: the task's latent features, where the function reads the (possibly moved) inputs."""
        kappa = self.concept_shift
        moved = (x - kappa * self.means[task]) / self.stds[task] ** kappa if kappa else x
        return FEATURE_MAPS[self.feature_map](moved @ self.projections[task])

    def signal(self, task: int, x: np.ndarray) -> np.ndarray:
        """The clean scores ``c_t w_tᵀ h_t(x')``, one column per score."""
        return self.scales[task] * self.features(task, x).dot(self.readouts[task])


def orthonormal(matrix: np.ndarray) -> np.ndarray:
    """The columns of ``matrix`` made orthonormal (QR, signs fixed so that R's diagonal is positive)."""
    q, r = np.linalg.qr(matrix)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def related(anchor: np.ndarray, own: np.ndarray, rho: float) -> np.ndarray:
    return rho * anchor + math.sqrt(1 - rho**2) * own


def draw_teacher(seed: int, family: str, n_tasks: int, input_dim: int, feature_dim: int, feature_map: str,
                 n_scores: int, relatedness: float, feature_relatedness: float, covariate_shift: float,
                 concept_shift: float, label_noise: float) -> Teacher:
    """The teacher of one family draw; task 0 is the anchor the relatedness and shift knobs measure from."""
    if family == "linear":  # one stream, in the order of the first generator, so its draws stay as they were
        rng = np.random.default_rng([seed, TEACHER_STREAM])
        shared = rng.standard_normal((input_dim, feature_dim)) / math.sqrt(input_dim)
        anchor = rng.standard_normal((feature_dim, n_scores))
        readouts = [anchor] + [related(anchor, rng.standard_normal(anchor.shape), relatedness)
                               for _ in range(1, n_tasks)]
        projections = [shared] * n_tasks
    else:
        rng = np.random.default_rng([seed, TEACHER_STREAM])
        directions = orthonormal(rng.standard_normal((input_dim, feature_dim)))
        anchor = rng.standard_normal((feature_dim, n_scores))
        projections, readouts = [directions], [anchor]
        for t in range(1, n_tasks):
            own = np.random.default_rng([seed, TEACHER_STREAM, 2, t])
            mine = orthonormal(own.standard_normal((input_dim, feature_dim)))
            projections.append(orthonormal(related(directions, mine, feature_relatedness)))
            readouts.append(related(anchor, own.standard_normal(anchor.shape), relatedness))
    means, stds = _input_shift(seed, n_tasks, input_dim, covariate_shift)
    teacher = Teacher(feature_map, tuple(projections), tuple(readouts), means, stds, concept_shift)
    reference = np.random.default_rng([seed, TEACHER_STREAM, 1]).standard_normal((REFERENCE_SIZE, input_dim))
    # c_t: unit clean-signal variance on standard-normal x' (the function's own scale, whatever the shift)
    scales = tuple(1.0 / teacher.features(t, _unmoved(teacher, t, reference)).dot(teacher.readouts[t])
                   .std(axis=0).mean() for t in range(n_tasks))
    teacher = Teacher(feature_map, tuple(projections), tuple(readouts), means, stds, concept_shift, scales)
    # σ_t: label_noise times the signal's spread on the task's own inputs, so that moving them keeps the ratio
    spread = [teacher.signal(t, means[t] + stds[t] * reference).std(axis=0).mean() for t in range(n_tasks)]
    return Teacher(feature_map, tuple(projections), tuple(readouts), means, stds, concept_shift, scales,
                   tuple(float(label_noise * s) for s in spread))


def _unmoved(teacher: Teacher, task: int, standard: np.ndarray) -> np.ndarray:
    """Inputs ``x`` whose ``x'`` is ``standard``: the function's own coordinates."""
    kappa = teacher.concept_shift
    return kappa * teacher.means[task] + teacher.stds[task] ** kappa * standard if kappa else standard


def _input_shift(seed: int, n_tasks: int, input_dim: int, shift: float) -> tuple[tuple, tuple]:
    """Each source's input mean moved by ``shift`` input standard deviations along its own random direction,
    its per-coordinate scales spread by ``exp(shift g / 4)``; task 0 stays at ``N(0, I)``."""
    rng = np.random.default_rng([seed, SHIFT_STREAM])
    means, stds = [np.zeros(input_dim)], [np.ones(input_dim)]
    for _ in range(1, n_tasks):
        direction = rng.standard_normal(input_dim)
        means.append(shift * direction / np.linalg.norm(direction))
        stds.append(np.exp(shift * rng.standard_normal(input_dim) / 4))
    return tuple(means), tuple(stds)
