"""Task sampling for MTL: the requested frequencies, one task per member and step drawn from its own seed,
streams that advance only when drawn, no loss from a task not drawn, the default untouched, bad values named."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from bench.regimes import MultiTask
from bench.regimes.joint import build_module, init_backbone
from bench.regimes.population import Member
from bench.regimes.task_sampling import make_sampling
from bench.regimes.training import TaskBatches
from tests.conftest import tiny_family

SIZES = [400, 100, 25]


@pytest.mark.parametrize(("name", "expected"), [
    ("proportional", [400 / 525, 100 / 525, 25 / 525]),
    ("uniform", [1 / 3] * 3),
    ("temperature", [20 / 35, 10 / 35, 5 / 35]),  # temperature 2: p ∝ sqrt(n)
])
def test_draws_follow_the_requested_distribution(name, expected):
    sampling = make_sampling(name, 2.0)
    assert sampling.probabilities(SIZES).tolist() == pytest.approx(expected)
    drawn = sampling.draws(SIZES, seed=3).take(20_000)
    assert drawn.shape == (20_000, 3) and (drawn.sum(1) == 1).all()  # one task a step
    assert (drawn.double().mean(0)).tolist() == pytest.approx(expected, abs=0.01)


def test_temperature_one_is_proportional_and_a_large_one_uniform():
    proportional = make_sampling("proportional").probabilities(SIZES)
    torch.testing.assert_close(make_sampling("temperature", 1.0).probabilities(SIZES), proportional)
    torch.testing.assert_close(make_sampling("temperature", 1e9).probabilities(SIZES),
                               make_sampling("uniform").probabilities(SIZES))


def test_a_members_draws_and_batches_follow_its_seed_alone():
    family, other = tiny_family(n_train=40, imbalance=4.0), tiny_family(seed=5, n_train=40, imbalance=4.0)
    sampling = make_sampling("uniform")
    together = next(iter(TaskBatches([family.tasks, other.tasks], [1, 5], 8, 6, sampling=sampling)))
    alone = next(iter(TaskBatches([family.tasks], [1], 8, 6, sampling=sampling)))
    xs, ys, drawn = together
    assert drawn.shape == (6, 2, 3) and drawn.dtype == torch.bool and (drawn.sum(2) == 1).all()
    assert torch.equal(drawn[:, :1], alone[2]) and torch.equal(xs[:, :1], alone[0])
    again = next(iter(TaskBatches([family.tasks, other.tasks], [1, 5], 8, 6, sampling=sampling)))
    assert all(torch.equal(a, b) for a, b in zip([xs, *ys, drawn], [again[0], *again[1], again[2]], strict=True))


def test_a_task_stream_advances_only_when_drawn():
    family = tiny_family(n_train=40)
    batches = TaskBatches([family.tasks], [1], 8, 10, sampling=make_sampling("uniform"))
    (xs, _, drawn), (later, _, later_drawn) = next(iter(batches)), next(iter(batches))  # two chunks
    plain = next(iter(TaskBatches([family.tasks], [1], 8, 20)))[0]  # every step, every task: the streams alone
    for t in range(3):
        got = torch.cat([xs[drawn[:, 0, t], 0, t], later[later_drawn[:, 0, t], 0, t]])
        assert torch.equal(got, plain[:len(got), 0, t])  # its k-th batch is its k-th batch alone


def test_a_task_not_drawn_contributes_no_loss(small_backbone):
    members = [Member(s, 3e-3, 0.0) for s in (0, 1)]
    task_sets = [tiny_family(seed=s).tasks for s in (0, 1)]
    module = build_module(task_sets, init_backbone(small_backbone, (6,), members, 1), members, shared=True)
    module.optimizers = lambda: SimpleNamespace(optimizer=torch.optim.SGD(module.parameters(), lr=0.0))
    xs, ys, drawn = next(iter(TaskBatches(task_sets, [0, 1], 8, 1, sampling=make_sampling("uniform"))))
    module.training_step((xs, ys, drawn), 0)
    for t, head in enumerate(module.heads):
        for r in range(2):
            assert bool(head.weight.grad[r].abs().sum() > 0) == bool(drawn[0, r, t])


def test_the_default_trains_every_task_every_step_as_before(small_backbone, fast_training):
    assert make_sampling("all") is None  # no sampler: TaskBatches and the step are the engine's own
    family = tiny_family()
    (chunk,) = list(TaskBatches([family.tasks], [1], 8, 5))
    assert len(chunk) == 2  # (xs, ys): nothing else travels with a batch
    members = [Member(0, 3e-3, 0.0)]
    fast_training.max_steps = 40
    default = MultiTask().run([family], small_backbone, fast_training, members)
    spelled = MultiTask(sampling="all", temperature=5.0).run([family], small_backbone, fast_training, members)
    assert default[0].tasks == spelled[0].tasks and MultiTask().variant == {}


def test_sampled_training_is_deterministic_and_named_in_the_record(small_backbone, fast_training):
    families, members = [tiny_family(seed=s) for s in (0, 1)], [Member(0, 3e-3, 0.0), Member(1, 3e-3, 0.0)]
    fast_training.max_steps = 40
    regime = MultiTask(sampling="temperature", temperature=3.0)
    runs = [[[t["test"]["mse"] for t in o.tasks] for o in regime.run(families, small_backbone, fast_training,
                                                                    members)] for _ in range(2)]
    assert runs[0] == runs[1]
    assert regime.variant == {"sampling": "temperature", "temperature": 3.0}
    assert MultiTask(sampling="uniform").variant == {"sampling": "uniform"}


def test_a_sampled_member_trains_as_it_would_alone(small_backbone, fast_training):
    families, members = [tiny_family(seed=s) for s in (0, 1)], [Member(0, 3e-3, 0.0), Member(1, 1e-2, 0.0)]
    fast_training.max_steps = 60
    regime = MultiTask(sampling="proportional")
    together = regime.run(families, small_backbone, fast_training, members)
    (alone,) = regime.run(families[1:], small_backbone, fast_training, members[1:])
    scores = [[t["test"]["mse"] for t in o.tasks] for o in (together[1], alone)]
    torch.testing.assert_close(torch.tensor(scores[0]), torch.tensor(scores[1]), rtol=1e-5, atol=0)
    assert together[1].fit["selected_steps"] == alone.fit["selected_steps"]


def test_bad_values_name_their_key():
    with pytest.raises(ValueError, match="regime.sampling='often'"):
        MultiTask(sampling="often")
    for bad in (0, -1.0, True):
        with pytest.raises(ValueError, match="regime.temperature"):
            MultiTask(sampling="temperature", temperature=bad)
    from bench.weighting import PCGrad

    with pytest.raises(ValueError, match="weighting=pcgrad"):
        MultiTask(PCGrad, sampling="uniform")
