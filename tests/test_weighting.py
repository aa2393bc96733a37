"""Weighting methods on hand-made gradient matrices with known answers, at every scale, and every method
through one contract: a training step on a population, deterministic under a seed, selectable by name."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import bench.weighting as W
from bench.regimes import MultiTask
from bench.regimes.population import Member
from tests.conftest import tiny_family

CONF = str(Path(__file__).resolve().parents[1] / "conf")
NAMES = sorted(p.stem for p in Path(CONF, "weighting").glob("*.yaml"))
GRADIENT = [W.MGDA, functools.partial(W.MGDA, "l2"), functools.partial(W.MGDA, "loss"),
            functools.partial(W.MGDA, "loss+"), W.PCGrad, W.CAGrad, W.IMTL, W.NashMTL, W.FairGrad, W.UPGrad,
            W.AlignedMTL, W.GradVac, W.GradDrop, W.GradNorm, W.DBMTL, W.ExcessMTL, W.MoCo, W.MoDo, W.SDMGrad]
# Methods whose update is linear in the gradients' scale (the others fix its norm, by design).
SCALE_EQUIVARIANT = [W.MGDA, W.PCGrad, W.CAGrad, W.IMTL, W.UPGrad, W.AlignedMTL, W.GradVac, W.GradDrop, W.GradNorm,
                     W.SDMGrad]
# Methods whose weights depend on the gradients' scale by definition (their docstrings say why).
SCALE_DEPENDENT = [W.FairGrad, W.ExcessMTL, W.MoDo]
# Methods that never return an update that conflicts with a task (d . g_t >= 0), for two tasks.
NON_CONFLICTING = [W.MGDA, W.PCGrad, W.CAGrad, W.IMTL, W.NashMTL, W.FairGrad, W.UPGrad, W.AlignedMTL]


def _ident(method) -> str:
    made = method()
    return made.name


def update(method, jacobian, losses=None, seed=0):
    """One member's update and weights for a ``[T, P]`` Jacobian, from a fresh method."""
    made = method()
    made.setup([Member(seed, 1e-3, 0.0)], jacobian.shape[0])
    losses = torch.ones(jacobian.shape[0], dtype=jacobian.dtype) if losses is None else losses
    return made.aggregate(0, jacobian, losses)


def cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


ORTHOGONAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
CONFLICTING = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)


@pytest.mark.parametrize("method", GRADIENT, ids=_ident)
def test_identical_gradients_give_their_direction(method):
    g = torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)
    d, _ = update(method, torch.stack([g, g, g]))
    assert cosine(d, g) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("method", [W.MGDA, W.UPGrad, W.AlignedMTL, W.IMTL], ids=_ident)
def test_orthogonal_unit_gradients_give_their_mean(method):
    d, _ = update(method, ORTHOGONAL)
    assert d.tolist() == pytest.approx([0.5, 0.5], abs=1e-4)


@pytest.mark.parametrize("method", [W.PCGrad, W.NashMTL, W.GradVac], ids=_ident)
def test_orthogonal_unit_gradients_give_their_sum(method):
    d, _ = update(method, ORTHOGONAL)
    assert d.tolist() == pytest.approx([1.0, 1.0], abs=1e-4)


def test_known_answers_on_conflicting_gradients():
    # PCGrad: g1 off g2 is (0.5, 0.5), g2 off g1 is (0, 1); MGDA: the min-norm point 0.6 g1 + 0.4 g2
    assert update(W.PCGrad, CONFLICTING)[0].tolist() == pytest.approx([0.5, 1.5])
    d, weights = update(W.MGDA, CONFLICTING)
    assert weights.tolist() == pytest.approx([0.6, 0.4], abs=1e-12)
    d, _ = update(W.IMTL, CONFLICTING)
    units = CONFLICTING / CONFLICTING.norm(dim=1, keepdim=True)
    assert float(units[0] @ d) == pytest.approx(float(units[1] @ d))
    d, weights = update(W.NashMTL, CONFLICTING)  # G alpha = 1/alpha
    gramian = CONFLICTING @ CONFLICTING.T
    assert (gramian @ weights * weights).tolist() == pytest.approx([1.0, 1.0], rel=1e-6)
    mean = CONFLICTING.mean(0)
    assert update(functools.partial(W.CAGrad, 0.0), CONFLICTING)[0].tolist() == pytest.approx(mean.tolist(), abs=1e-9)
    d, _ = update(W.CAGrad, CONFLICTING)  # c > 0: the worst task improves more than under the mean
    assert float((CONFLICTING @ d).min() / d.norm()) > float((CONFLICTING @ mean).min() / mean.norm())


@pytest.mark.parametrize("method", NON_CONFLICTING, ids=_ident)
def test_conflicting_gradients_give_an_update_that_hurts_no_task(method):
    d, _ = update(method, CONFLICTING)
    assert (CONFLICTING @ d >= -1e-6).all()


def test_differently_scaled_gradients():
    scaled = torch.tensor([[100.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert update(W.NashMTL, scaled)[0].tolist() == pytest.approx([1.0, 1.0], rel=1e-6)  # alpha_t = 1/|g_t|
    ones = torch.ones(2, dtype=torch.float64)
    assert update(functools.partial(W.DBMTL, buffer_start="first"), scaled, ones)[0].tolist() == pytest.approx(
        [100.0, 100.0], rel=1e-6)  # every gradient scaled to the largest norm
    assert update(W.DBMTL, scaled, ones)[0].tolist() == pytest.approx([10.0, 10.0], rel=1e-6)  # EMA from zero
    d, _ = update(W.IMTL, scaled)
    assert d[0] == pytest.approx(d[1])
    assert update(functools.partial(W.MGDA, "l2"), scaled)[0].tolist() == pytest.approx([0.5, 0.5], abs=1e-3)
    assert update(W.MGDA, scaled)[1][0] < 1e-3  # raw MGDA: the small gradient dominates the min norm


@pytest.mark.parametrize("method", [m for m in GRADIENT if m not in SCALE_DEPENDENT], ids=_ident)
@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e6])
def test_weights_do_not_depend_on_the_gradients_scale(method, scale):
    jacobian = torch.randn(3, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    jacobian[1] = -0.8 * jacobian[0] + 0.3 * jacobian[1]  # a conflict, so methods have work to do
    losses = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    d, _ = update(method, jacobian, losses)
    d_scaled, _ = update(method, scale * jacobian, losses)
    assert torch.isfinite(d_scaled).all()
    assert cosine(d, d_scaled) == pytest.approx(1.0, abs=1e-6)
    if method in SCALE_EQUIVARIANT:
        assert (d_scaled / scale).tolist() == pytest.approx(d.tolist(), rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("method", [W.PCGrad, W.GradVac, W.GradDrop], ids=_ident)
def test_random_draws_follow_the_members_seed(method):
    jacobian = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    jacobian[1] = -jacobian[0] + 0.1 * jacobian[1]  # a conflict, so the draws matter
    assert torch.equal(update(method, jacobian, seed=3)[0], update(method, jacobian, seed=3)[0])
    assert not torch.equal(update(method, jacobian, seed=3)[0], update(method, jacobian, seed=4)[0])


def test_loss_weightings_on_known_losses():
    losses = torch.tensor([[1.0, 4.0]], requires_grad=True)
    active = torch.tensor([True])
    assert W.MeanWeights().combine(losses, active).sum().item() == pytest.approx(2.5)
    assert W.StaticWeights([0.2, 0.8]).combine(losses, active).sum().item() == pytest.approx(3.4)
    gm = W.GeometricMean()
    (grad,) = torch.autograd.grad(gm.combine(losses, active).sum(), losses)
    assert grad[0].tolist() == pytest.approx([1.0, 0.25], rel=1e-6)  # GM / (T L_t), GM = 2
    members = [Member(0, 1e-3, 0.0), Member(1, 1e-3, 0.0)]
    uw = W.UncertaintyWeighting()
    uw.setup(members, 2)
    assert uw.combine(losses.expand(2, 2), torch.tensor([True, False])).sum().item() == pytest.approx(2.5)
    dwa = W.DynamicWeightAverage(period=1)
    dwa.setup(members[:1], 2)
    for value in ([1.0, 1.0], [2.0, 1.0], [2.0, 1.0]):  # task 0's loss doubled, task 1's did not fall
        terms = dwa.combine(torch.tensor([value]), active)
    assert float(terms[0, 0] / 2) > float(terms[0, 1])


def test_imtl_l_starts_at_the_sum_and_drives_every_scaled_loss_to_one():
    losses, active = torch.tensor([[1.0, 4.0], [2.0, 3.0]]), torch.tensor([True, False])
    imtl_l, uw = W.IMTLL(), W.UncertaintyWeighting()
    for method in (imtl_l, uw):
        method.setup([Member(0, 1e-3, 0.0), Member(1, 1e-3, 0.0)], 2)
    assert imtl_l.combine(losses, active).sum().item() == pytest.approx(5.0)  # s = 0: member 0's plain sum
    (grad,) = torch.autograd.grad(imtl_l.combine(losses, active).sum(), imtl_l.log_scale)
    assert grad.tolist() == [[0.0, 3.0], [0.0, 0.0]]  # e^s L - 1: s settles at -log L; member 1 is stopped
    with torch.no_grad():
        imtl_l.log_scale.copy_(torch.tensor([[0.5, -1.0], [0.0, 0.0]]))
        uw.log_variance.copy_(-imtl_l.log_scale)
    torch.testing.assert_close(imtl_l.combine(losses, active), 2 * uw.combine(losses, active))  # 2 UW at -s


def test_random_weights_sum_to_one_and_follow_the_seed():
    def draw(seed):
        rlw = W.RandomLossWeighting()
        rlw.setup([Member(seed, 1e-3, 0.0)], 3)
        return rlw.combine(torch.ones(1, 3), torch.tensor([True]))
    assert draw(0).sum().item() == pytest.approx(1.0)
    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))


@pytest.mark.parametrize("build, key", [
    (lambda: W.MGDA("max"), "weighting.normalisation='max'"), (lambda: W.CAGrad(-1), "weighting.c=-1"),
    (lambda: W.FairGrad(0), "weighting.alpha=0"), (lambda: W.AlignedMTL("max"), "weighting.scale_mode='max'"),
    (lambda: W.GradVac(2), "weighting.beta=2"), (lambda: W.GradDrop(-0.5), "weighting.leak=-0.5"),
    (lambda: W.DBMTL(buffer_start="last"), "weighting.buffer_start='last'"),
    (lambda: W.ExcessMTL(0), "weighting.robust_step_size=0"), (lambda: W.SmoothTchebycheff(mu=0), "weighting.mu=0"),
])
def test_a_bad_hyper_parameter_names_its_key(build, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        build()


def test_bad_static_weights_name_their_key():
    with pytest.raises(ValueError, match="weighting.weights"):
        W.StaticWeights([1.0, -1.0])
    with pytest.raises(ValueError, match="one per task"):
        W.StaticWeights([1.0]).setup([Member(0, 1e-3, 0.0)], 3)


@pytest.mark.parametrize("name", NAMES)
def test_every_method_trains_a_population_deterministically(name, small_backbone, fast_training):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=["regime=mtl", f"weighting={name}", "weighting.weights=[1,2,3]"]
                      if name == "static" else ["regime=mtl", f"weighting={name}"])
    regime = instantiate(cfg.regime)
    assert isinstance(regime, MultiTask) and regime.weighting_name.startswith(name.split("_")[0])
    families = [tiny_family(seed=s) for s in (0, 1)]
    members = [Member(0, 3e-3, 0.0), Member(1, 1e-2, 0.0)]  # two lrs: PopulationAdam, per-member state
    fast_training.max_steps = 40

    def scores():
        outcomes = regime.run(families, small_backbone, fast_training, members)
        assert all(o.error is None for o in outcomes)
        return [[t["test"]["mse"] for t in o.tasks] for o in outcomes]
    first = scores()
    assert all(torch.isfinite(torch.tensor(member)).all() for member in first)
    assert scores() == first


class _Ones(W.GradientWeighting):
    """Weights 1 through the per-task gradient path: must give the plain sum's gradients."""

    def weigh(self, member, gramian, losses):
        return np.ones(len(gramian))


def _module(weighting, small_backbone, seeds=(0, 1)):
    from bench.regimes.joint import build_module, init_backbone

    members = [Member(s, 3e-3, 0.0) for s in seeds]
    families = [tiny_family(seed=s).tasks for s in seeds]
    weighting.setup(members, len(families[0]))
    backbone = init_backbone(small_backbone, families[0][0].input_shape, members, 1)
    return build_module(families, backbone, members, shared=True, weighting=weighting)


def _gradients(weighting, small_backbone):
    module = _module(weighting, small_backbone)
    xs = torch.stack([torch.stack([t.train.x[:8] for t in tasks]) for tasks in module.task_sets])
    ys = [torch.stack([tasks[t].train.y[:8] for tasks in module.task_sets]) for t in range(len(module.tasks))]
    module.weighting.backward(module, module.step_losses(xs, ys))
    return {name: p.grad for name, p in module.named_parameters()}


def test_per_task_gradients_with_weights_one_give_the_sums_gradients(small_backbone):
    plain, ones = _gradients(W.EqualWeights(), small_backbone), _gradients(_Ones(), small_backbone)
    assert plain.keys() == ones.keys()
    for name in plain:
        torch.testing.assert_close(ones[name], plain[name], rtol=1e-5, atol=1e-7)


def test_uncertainty_log_variances_are_learned_per_member_and_selected(small_backbone, fast_training):
    module = _module(W.UncertaintyWeighting(), small_backbone)
    assert module.weighting.log_variance.shape == (2, 3)
    fast_training.fit(module)
    learned = module.weighting.log_variance.detach()
    assert (learned != 0).all() and not torch.equal(learned[0], learned[1])


@pytest.mark.parametrize("lrs", [(3e-3, 3e-3, 3e-3), (3e-3, 1e-2, 3e-3)], ids=["fused-adam", "population-adam"])
def test_per_task_gradient_path_trains_like_the_sum(lrs, small_backbone, fast_training):
    """Weights 1 through per-task gradients train every member as the sum does, under either optimiser
    (torch's fused Adam once read strided gradients as dense: members past the first went astray)."""
    families = [tiny_family(seed=s) for s in range(3)]
    members = [Member(s, lr, 0.0) for s, lr in enumerate(lrs)]
    fast_training.max_steps = 40
    results = [[[t["test"]["mse"] for t in o.tasks] for o in MultiTask(method).run(
        families, small_backbone, fast_training, members)] for method in (W.EqualWeights, _Ones)]
    torch.testing.assert_close(torch.tensor(results[1]), torch.tensor(results[0]), rtol=1e-4, atol=1e-6)


def test_a_misspelt_weighting_key_is_named():
    from bench.checks import ConfigError, check_config

    overrides = ["regime=mtl", "weighting=uw", "+weighting.temprature=2"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    with pytest.raises(ConfigError, match="weighting.temprature"):
        check_config(cfg, overrides)


def test_a_solver_that_misses_its_tolerance_is_counted_not_raised():
    """Opposite gradients: Nash-MTL's equation has no solution (the origin is in their hull)."""
    nash = W.NashMTL()
    nash.setup([Member(0, 1e-3, 0.0), Member(1, 1e-3, 0.0)], 2)
    opposite = torch.tensor([[1.0, 2.0], [-1.0, -2.0]], dtype=torch.float64)
    d, _ = nash.aggregate(1, opposite, torch.ones(2, dtype=torch.float64))
    assert torch.isfinite(d).all() and nash.unconverged == [0, 1]
    assert nash.fit_info(1) == {"unconverged_steps": 1} and W.EqualWeights().fit_info(0) == {}


@pytest.mark.parametrize("method", [W.MGDA, W.CAGrad, W.UPGrad, W.IMTL, W.AlignedMTL, W.PCGrad, W.GradVac],
                         ids=_ident)
def test_parallel_rows_and_more_tasks_than_parameters_stay_finite(method):
    parallel = torch.tensor([[1.0, 2.0, 0.0]] * 3, dtype=torch.float64)  # singular cosines: quadprog's ridge
    d, _ = update(method, parallel)
    assert cosine(d, parallel[0]) == pytest.approx(1.0, abs=1e-9)
    crowded = torch.tensor([[1.0, 0, 0], [0, 2, 0], [0, 0, 3], [-1, -1, -1], [1, 1, 0]], dtype=torch.float64)
    d, weights = update(method, crowded)  # 5 rows in R^3 whose hull holds the origin
    assert torch.isfinite(d).all() and torch.isfinite(weights).all()
    if method in (W.MGDA, W.UPGrad):  # both answers are the origin here
        assert float(d.norm()) <= 1e-5 * float(crowded.norm(dim=1).max())


def test_a_run_records_its_solvers_misses_per_member(small_backbone, fast_training):
    families = [tiny_family(seed=0)]
    fast_training.max_steps = 20
    (mgda,) = MultiTask(W.MGDA).run(families, small_backbone, fast_training, [Member(0, 3e-3, 0.0)])
    (plain,) = MultiTask(W.EqualWeights).run(families, small_backbone, fast_training, [Member(0, 3e-3, 0.0)])
    assert mgda.fit["unconverged_steps"] == 0 and "unconverged_steps" not in plain.fit


def test_stch_minimises_log_losses_then_a_smooth_max_relative_to_the_nadir():
    stch = W.SmoothTchebycheff(mu=0.5, warmup=1, period=2)
    stch.setup([Member(0, 1e-3, 0.0)], 2)
    active = torch.tensor([True])
    for losses in ([1.0, 4.0], [1.0, 4.0], [2.0, 2.0], [4.0, 6.0]):  # warm-up, then the nadir period
        terms = stch.combine(torch.tensor([losses]), active)
        assert terms.sum().item() == pytest.approx(float(torch.log(torch.tensor(losses)).sum()))
    assert stch.nadir is None
    losses = torch.tensor([[1.5, 2.0]], requires_grad=True)  # nadir (3, 4): relative losses 0.5 and 0.5
    value = stch.combine(losses, active).sum()
    assert stch.nadir.tolist() == [[3.0, 4.0]]
    assert value.item() == pytest.approx(2 * 0.5 * float(torch.logsumexp(torch.log(torch.tensor([0.5, 0.5])) / 0.5, 0)))
    (grad,) = torch.autograd.grad(value, losses)
    assert grad[0].tolist() == pytest.approx([1 / 1.5, 1 / 2.0])  # equal relative losses: T softmax = 1 each


def test_docstring_examples():
    import doctest

    from bench.weighting import solvers
    assert doctest.testmod(solvers).failed == 0


@pytest.mark.parametrize("weighting", [lambda: W.CAGrad(0.4), lambda: W.MGDA("none"), lambda: W.NashMTL()])
def test_a_diverging_member_s_non_finite_gradient_is_no_step_not_an_error(weighting):
    """An overflowing gradient (a member at too high a learning rate) once made CAGrad's root finder raise,
    failing every member of its population; the member now takes no shared step and its loss fails it."""
    method = weighting()
    jacobian = torch.tensor([[1.0, 2.0, 3.0], [float("inf"), 1.0, 0.0]])
    update, weights = method.aggregate(0, jacobian, torch.tensor([1.0, 2.0]))
    assert torch.equal(update, torch.zeros(3)) and torch.equal(weights, torch.zeros(2, dtype=torch.float64))


def test_a_task_whose_gradient_is_exactly_zero_takes_the_weight_of_the_hull_s_nearest_point():
    """Measured in the weighting study (a population of 12 at relatedness 0): one member's task gradient was
    exactly zero, CAGrad's QP returned nothing on its scaled simplex and Brent's method raised on NaN, failing
    all 12. The zero gradient is the hull's point nearest the origin: MGDA and CAGrad put their weight on it."""
    from bench.weighting.solvers import cagrad_dual, min_norm

    gramian = np.array([[0.0, 0.0], [0.0, 4.75e-07]])
    for solution in (min_norm(gramian), cagrad_dual(gramian, 0.4)):
        assert np.allclose(solution.weights, [1.0, 0.0])
