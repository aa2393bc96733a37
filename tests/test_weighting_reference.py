"""Every gradient weighting's update on the issue's gradient matrices (T = 2, 3, 5; P = 10, 100, 1000; random,
conflicting, rows scaled 1e-3..1e3, all x1e-4, all x1e4, near-parallel; float64) against an exact reference
computed here from its definition (tests/exact_weightings.py), to 1e-6 relative where the method is
deterministic, or given its random draws where it is not; and the scale invariances the papers claim.

These are the tests that catch a solver stopped short: MGDA's Frank-Wolfe at torchjd's defaults (0.37 off),
CAGrad's SLSQP (3e-3 off, and a harmful update on badly scaled rows), Nash-MTL's Newton (residual 0.56)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import bench.weighting as W
from bench.regimes.population import Member
from bench.weighting.base import member_generator
from bench.weighting.gradient_based import MGDA_NORMALISATIONS
from bench.weighting.surgery import task_orders
from tests import exact_weightings as X

FAMILIES = list(X.families())
TOLERANCE = 1e-6


def made(method, tasks: int, seed: int = 0):
    weighting = method()
    weighting.setup([Member(seed, 1e-3, 0.0)], tasks)
    return weighting


def step(weighting, rows: np.ndarray, losses: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One aggregation step of a set-up method on ``[T, P]`` rows: its update and weights, as numpy."""
    losses = np.ones(len(rows)) if losses is None else losses
    update, weights = weighting.aggregate(0, torch.from_numpy(rows), torch.from_numpy(losses))
    return update.numpy(), weights.numpy()


def losses_of(rows: np.ndarray) -> np.ndarray:
    return np.linspace(0.5, 2.0, len(rows))


def _drifting(rows: np.ndarray, steps: int = 3) -> list[np.ndarray]:
    """The rows of a few training steps: each step's gradients move a little from the last."""
    noise = [X.gradient_matrix("random", len(rows), rows.shape[1], seed=k + 1) for k in range(steps)]
    scale = np.linalg.norm(rows, axis=1, keepdims=True) / np.sqrt(rows.shape[1])
    return [rows + 0.3 * k * n * scale for k, n in enumerate(noise)]


def assert_within(errors: dict[str, float], tolerance: float = TOLERANCE) -> None:
    beyond = {name: f"{error:.1e}" for name, error in errors.items() if not error <= tolerance}
    assert not beyond, f"beyond {tolerance:g} on {len(beyond)} of {len(errors)} matrices: {beyond}"


def assert_converged(method) -> None:
    counts = {name: made(method, len(rows)) for name, rows in FAMILIES}
    for name, rows in FAMILIES:
        step(counts[name], rows, losses_of(rows))
    assert not [name for name, weighting in counts.items() if weighting.unconverged[0]], "a solver missed"


@pytest.mark.parametrize("normalisation", MGDA_NORMALISATIONS)
def test_mgda_is_the_exact_min_norm_point_of_the_normalised_gradients(normalisation):
    errors = {}
    for name, rows in FAMILIES:
        losses, norms = losses_of(rows), np.linalg.norm(rows, axis=1)
        divisor = {"none": np.ones_like(norms), "l2": norms, "loss": losses, "loss+": losses * norms}[normalisation]
        update, _ = step(made(functools.partial(W.MGDA, normalisation), len(rows)), rows, losses)
        errors[name] = X.relative_error(update, X.min_norm_point(rows / divisor[:, None]))
    assert_within(errors)
    assert_converged(functools.partial(W.MGDA, normalisation))


@pytest.mark.parametrize("c", [0.4, 0.5, 0.8])
def test_cagrad_is_the_exact_solution_of_its_dual_and_its_primal(c):
    errors, gaps = {}, {}
    for name, rows in FAMILIES:
        update, weights = step(made(functools.partial(W.CAGrad, c), len(rows)), rows)
        errors[name] = X.relative_error(update, X.cagrad_update(rows, c))
        # strong duality: the primal's worst improvement min_i g_i·d equals the dual's F(w) at the optimum
        mean, radius = rows.mean(0), c * np.linalg.norm(rows.mean(0))
        dual = weights * (1 + c ** 2) - 1 / len(rows)
        u = (dual / dual.sum()) @ rows
        value = mean @ u + radius * np.linalg.norm(u)
        scale = (np.linalg.norm(mean) + radius) * np.linalg.norm(rows, axis=1).max()
        gaps[name] = abs((rows @ (update * (1 + c ** 2))).min() - value) / scale
    assert_within(errors)
    assert_within(gaps, 1e-9)
    assert_converged(functools.partial(W.CAGrad, c))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_fair_allocations_solve_their_equation(alpha):
    method = W.NashMTL if alpha == 1.0 else functools.partial(W.FairGrad, alpha)
    errors = {}
    for name, rows in FAMILIES:
        update, weights = step(made(method, len(rows)), rows)
        errors[name] = max(X.fair_residual(weights, rows, alpha), X.relative_error(update, weights @ rows))
    assert_within(errors, 1e-8)
    assert_converged(method)


def test_nash_mtl_update_is_invariant_to_rescaling_a_task():
    """Navon et al. (2022): the Nash bargaining update does not change when one task's gradient is rescaled."""
    errors = {}
    for name, rows in FAMILIES:
        rescaled = rows * np.logspace(-2, 2, len(rows))[:, None]
        errors[name] = X.relative_error(step(made(W.NashMTL, len(rows)), rescaled)[0],
                                        step(made(W.NashMTL, len(rows)), rows)[0])
    assert_within(errors)


def test_mgda_l2_and_the_direction_of_imtl_g_are_invariant_to_rescaling_a_task():
    """IMTL-G's direction up to its sign: the closed form's weights sum to 1, so where ``Σ_t (C⁻¹1)_t / n_t``
    changes sign under the rescaling (near-parallel rows) the update turns around."""
    errors = {}
    for name, rows in FAMILIES:
        rescaled = rows * np.logspace(-2, 2, len(rows))[:, None]
        mgda = functools.partial(W.MGDA, "l2")
        errors[f"mgda_l2 {name}"] = X.relative_error(step(made(mgda, len(rows)), rescaled)[0],
                                                      step(made(mgda, len(rows)), rows)[0])
        imtl, imtl_rescaled = step(made(W.IMTL, len(rows)), rows)[0], step(made(W.IMTL, len(rows)), rescaled)[0]
        cosine = imtl_rescaled @ imtl / (np.linalg.norm(imtl_rescaled) * np.linalg.norm(imtl))
        errors[f"imtl {name}"] = float(np.sqrt(max(2 * (1 - abs(cosine)), 0.0)))  # distance of unit vectors
    assert_within(errors)


@pytest.mark.parametrize("method, reference", [(W.IMTL, X.imtl_g_update), (W.AlignedMTL, X.aligned_mtl_update),
                                               (W.UPGrad, X.upgrad_update)], ids=["imtl", "aligned_mtl", "upgrad"])
def test_closed_forms_and_projections(method, reference):
    errors = {name: X.relative_error(step(made(method, len(rows)), rows)[0], reference(rows))
              for name, rows in FAMILIES}
    assert_within(errors)
    if method is W.UPGrad:
        assert_converged(method)


@pytest.mark.parametrize("seed", [0, 3])
def test_pcgrad_is_the_projection_in_the_orders_drawn_from_the_members_seed(seed):
    errors = {}
    for name, rows in FAMILIES:
        orders = task_orders(member_generator(seed, W.PCGrad.salt), len(rows))
        errors[name] = X.relative_error(step(made(W.PCGrad, len(rows), seed), rows)[0], X.pcgrad_update(rows, orders))
    assert_within(errors)


def test_gradvac_follows_its_running_targets_over_steps():
    errors = {}
    for name, rows in FAMILIES:
        weighting, generator = made(W.GradVac, len(rows)), member_generator(0, W.GradVac.salt)
        targets = np.zeros((len(rows), len(rows)))
        for k, draw in enumerate(_drifting(rows)):  # the targets start at 0: the first step only learns them
            reference = X.gradvac_update(draw, task_orders(generator, len(rows)), targets, beta=0.5)
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw)[0], reference)
    assert_within(errors)


@pytest.mark.parametrize("leak", [0.0, 0.3])
def test_graddrop_keeps_the_sign_drawn_against_each_coordinates_purity(leak):
    errors = {}
    for name, rows in FAMILIES:
        uniform = torch.rand(rows.shape[1], generator=member_generator(0, W.GradDrop.salt), dtype=torch.float64)
        update = step(made(functools.partial(W.GradDrop, leak), len(rows)), rows)[0]
        errors[name] = X.relative_error(update, X.graddrop_update(rows, uniform.numpy(), leak))
    assert_within(errors)


def _balanced(buffer: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(buffer, axis=1)
    return (norms.max() / norms) @ buffer


@pytest.mark.parametrize("start", ["zero", "first"])
def test_db_mtl_scales_its_running_gradients_to_the_largest(start):
    """DB-MTL (Lin et al. 2023, Algorithm 1) with LibMTL's EMA ``ĝ ← g + β_k (ĝ − g)``, β_k = β / k^σ."""
    errors = {}
    for name, rows in FAMILIES:
        weighting = made(functools.partial(W.DBMTL, 0.9, 0.5, start), len(rows))
        buffer = None
        for k, draw in enumerate(_drifting(rows), start=1):
            past = np.zeros_like(draw) if start == "zero" else draw
            buffer = draw + 0.9 / k ** 0.5 * ((past if buffer is None else buffer) - draw)
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw)[0], _balanced(buffer))
    assert_within(errors)


def test_db_mtl_first_update_is_one_minus_beta_of_the_balanced_gradient():
    rows = X.gradient_matrix("random", 3, 10)
    assert X.relative_error(step(made(W.DBMTL, 3), rows)[0], 0.1 * _balanced(rows)) <= TOLERANCE


def test_gradnorm_steps_its_weights_on_the_l1_gradnorm_loss():
    errors = {}
    for name, rows in FAMILIES:
        weighting, weights, first = made(W.GradNorm, len(rows)), np.ones(len(rows)), None
        for k, draw in enumerate(_drifting(rows)):
            losses = losses_of(rows) * (1 - 0.1 * k * np.arange(len(rows)) / len(rows))
            first = losses if first is None else first
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw, losses)[0], weights @ draw)
            norms = np.linalg.norm(draw, axis=1)
            norms /= norms.mean()
            ratios = losses / first
            target = (weights * norms).mean() * (ratios / ratios.mean()) ** 1.5
            weights = np.maximum(weights - 0.025 * np.sign(weights * norms - target) * norms, 1e-6)
            weights = weights * len(weights) / weights.sum()
    assert_within(errors)


def test_excess_mtl_weights_grow_with_the_excess_risk_ratio():
    """He et al. (2024), eqs. 6-9, as LibMTL: ``w ← w exp(η E/E⁰)``, renormalised to sum T."""
    errors = {}
    for name, rows in FAMILIES:
        weighting, weights, squares, first = made(W.ExcessMTL, len(rows)), np.ones(len(rows)), 0.0, None
        for k, draw in enumerate(_drifting(rows)):
            squares = squares + draw ** 2
            excess = (draw ** 2 / np.sqrt(squares + 1e-7)).sum(1)
            if first is None:
                first = excess
            else:
                weights = weights * np.exp(0.01 * excess / first)
                weights = weights / weights.sum() * len(weights)
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw)[0], weights @ draw)
    assert_within(errors)


def test_moco_tracks_loss_scaled_unit_gradients_and_softmax_weights():
    errors = {}
    for name, rows in FAMILIES:
        weighting, tracked, lambdas = made(W.MoCo, len(rows)), np.zeros_like(rows), np.full(len(rows), 1 / len(rows))
        for k, draw in enumerate(_drifting(rows), start=1):
            losses = losses_of(rows)
            target = draw / np.linalg.norm(draw, axis=1, keepdims=True) * losses[:, None]
            tracked = tracked - 0.5 / k ** 0.5 * (tracked - target)
            logits = lambdas - 0.1 / k ** 0.5 * (tracked @ tracked.T) @ lambdas
            lambdas = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw, losses)[0], lambdas @ tracked)
    assert_within(errors)


def test_modo_takes_one_projected_step_on_the_raw_gramian():
    errors = {}
    for name, rows in FAMILIES:
        weighting, lambdas = made(W.MoDo, len(rows)), np.full(len(rows), 1 / len(rows))
        for k, draw in enumerate(_drifting(rows)):
            gramian = draw @ draw.T
            lambdas = X.simplex_projection(lambdas - 1e-3 * (gramian @ lambdas + 0.1 * lambdas))
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw)[0], lambdas @ draw)
    assert_within(errors)


def test_sdmgrad_takes_momentum_steps_towards_the_mean_direction():
    """Each step from the weights the last one left: with lr 5 the inner iteration bounces between the
    simplex's faces when gradients align, so a difference of rounding grows over steps (documented)."""
    errors = {}
    for name, rows in FAMILIES:
        tasks = len(rows)
        weighting, preference = made(W.SDMGrad, tasks), np.full(tasks, 1 / tasks)
        for k, draw in enumerate(_drifting(rows)):
            gramian = draw @ draw.T / np.linalg.norm(draw, axis=1).mean() ** 2
            weights, velocity = weighting.simplex_weights[0].copy(), np.zeros(tasks)
            for _ in range(20):
                velocity = 0.5 * velocity + gramian @ (weights + 0.3 * preference)
                weights = X.simplex_projection(weights - 5.0 * velocity)
            reference = (weights + 0.3 * preference) @ draw / 1.3
            errors[f"{name} step {k}"] = X.relative_error(step(weighting, draw)[0], reference)
    assert_within(errors)
