"""Soft sharing (MMoE, cross-stitch): shapes, a member independent of its population, the single-task
counterpart's size, every regime from the command line, and bad values named."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.models import CrossStitch, MLPBackbone, MMoE
from bench.models.soft_sharing import for_tasks
from bench.regimes import MultiTask, SingleTask, Transfer
from bench.regimes.joint import build_module, init_backbone
from bench.regimes.population import Member
from tests.conftest import tiny_family

CONF = str(Path(__file__).resolve().parents[1] / "conf")
SOFT = {"mmoe": functools.partial(MMoE, experts=3, width=8, depth=2),
        "cross_stitch": functools.partial(CrossStitch, width=8, depth=2)}


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", SOFT)
def test_shapes_and_each_task_reads_its_own_part(name):
    torch.manual_seed(0)
    trunk = SOFT[name](input_shape=(6,), copies=2, tasks=3)
    xs = torch.randn(2, 3, 5, 6)
    features = trunk.by_task(xs)
    assert features.shape == (2, 3, 5, 8)
    for t in range(3):  # the batched path is the per-task one, task by task
        alone = trunk(xs[:, t], task=t)
        assert alone.shape == (2, 5, 8)
        torch.testing.assert_close(features[:, t], alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(trunk(xs[:, 0], task=0), trunk(xs[:, 0], task=1))  # parts differ
    selected = trunk.by_task(xs[[1]], torch.tensor([1]))
    torch.testing.assert_close(selected, features[[1]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SOFT)
def test_a_copy_reads_nothing_of_the_other_copies(name):
    torch.manual_seed(0)
    trunk = SOFT[name](input_shape=(6,), copies=2, tasks=3)
    xs = torch.randn(2, 3, 5, 6, requires_grad=True)
    trunk.by_task(xs)[0].sum().backward()
    assert xs.grad[0].abs().sum() > 0 and torch.equal(xs.grad[1], torch.zeros_like(xs.grad[1]))
    assert all(torch.equal(p.grad[1], torch.zeros_like(p.grad[1])) for p in trunk.parameters())


def test_single_task_counterparts_have_the_stated_parameter_counts():
    inputs, width, depth, experts, tasks = 20, 32, 2, 4, 4
    expert = inputs * width + width + (depth - 1) * (width * width + width)
    gate = inputs * experts + experts
    one = MMoE((inputs,), tasks=1, experts=experts, width=width, depth=depth)
    assert _count(one) == experts * expert + gate == 6_996  # conf/model/mmoe.yaml's figures
    assert _count(MMoE((inputs,), tasks=tasks, experts=experts, width=width, depth=depth)) == 7_248
    column = MLPBackbone((inputs,), width=64, depth=2)  # cross-stitch's column is model=mlp's network
    assert _count(CrossStitch((inputs,), tasks=1, width=64, depth=2)) == _count(column) + 2 == 5_506
    assert _count(CrossStitch((inputs,), tasks=tasks, width=64, depth=2)) == tasks * _count(column) + 2 * 16


@pytest.mark.parametrize("name", SOFT)
def test_only_multi_task_learning_gives_each_task_its_own_part(name, fast_training):
    built = []

    class Spy(SOFT[name].func):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.tasks)

    family, members = tiny_family(), [Member(0, 3e-3, 0.0)]
    fast_training.max_steps = 20
    parts = {}
    for regime in (MultiTask(), SingleTask(), Transfer("full", "multi_task")):
        regime.run([family], functools.partial(Spy, **SOFT[name].keywords), fast_training, members)
        parts[regime.name], built[:] = set(built), []
    assert parts == {"mtl": {3}, "stl": {1}, "tl": {1}}  # STL's copies, TL's trunk: the one-task counterpart
    hard = functools.partial(MLPBackbone, width=8)
    assert for_tasks(hard, 3) is hard  # hard sharing is built as before


@pytest.mark.parametrize("name", SOFT)
def test_a_member_trains_as_it_would_alone(name, fast_training):
    families, members = [tiny_family(seed=s) for s in (0, 1)], [Member(0, 3e-3, 0.0), Member(1, 3e-3, 0.0)]
    fast_training.max_steps = 60
    together = MultiTask().run(families, SOFT[name], fast_training, members)
    (alone,) = MultiTask().run(families[:1], SOFT[name], fast_training, members[:1])
    scores = [[t["test"]["mse"] for t in o.tasks] for o in (together[0], alone)]
    torch.testing.assert_close(torch.tensor(scores[0]), torch.tensor(scores[1]), rtol=1e-5, atol=0)
    assert together[0].fit["selected_steps"] == alone.fit["selected_steps"]


@pytest.mark.parametrize("regime", ["stl", "mtl", "tl_full", "tl_probe"])
@pytest.mark.parametrize("model", SOFT)
def test_every_regime_runs_soft_sharing_from_the_command_line(model, regime, fast_training):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", f"regime={regime}", "model.width=8"])
    made = instantiate(cfg.regime)
    families = [tiny_family(seed=s) for s in (0, 1)]
    members = [Member(0, 3e-3, 0.0), Member(1, 3e-3, 0.0)]
    fast_training.max_steps = 40
    runs = [made.run(families, instantiate(cfg.model), fast_training, members) for _ in range(2)]
    first = [[t["test"]["mse"] for t in o.tasks] for o in runs[0]]
    assert all(o.error is None for o in runs[0]) and first == [[t["test"]["mse"] for t in o.tasks]
                                                               for o in runs[1]]


@pytest.mark.parametrize("weighting", ["uw", "mgda", "pcgrad", "imtl"])
@pytest.mark.parametrize("name", SOFT)
def test_weightings_train_a_soft_trunk_deterministically(name, weighting, fast_training):
    """Gradient weightings see the whole trunk as shared: a gate's or column's rows are its task's alone."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        regime = instantiate(compose("config", overrides=["regime=mtl", f"weighting={weighting}"]).regime)
    families, members = [tiny_family(seed=s) for s in (0, 1)], [Member(0, 3e-3, 0.0), Member(1, 1e-2, 0.0)]
    fast_training.max_steps = 40
    runs = [[[t["test"]["mse"] for t in o.tasks] for o in regime.run(families, SOFT[name], fast_training, members)]
            for _ in range(2)]
    assert runs[0] == runs[1] and torch.isfinite(torch.tensor(runs[0])).all()


def test_bad_values_name_their_key():
    with pytest.raises(ValueError, match="model.experts=0"):
        MMoE((6,), experts=0)
    with pytest.raises(ValueError, match="model.width=0"):
        CrossStitch((6,), width=0)
    with pytest.raises(ValueError, match="task 3"):
        MMoE((6,), tasks=3)(torch.zeros(1, 2, 6), task=3)
    members = [Member(0, 3e-3, 0.0)]
    trunk = init_backbone(functools.partial(MMoE, tasks=2), (6,), members, 3)
    with pytest.raises(ValueError, match="parts for 2 tasks"):
        build_module([tiny_family().tasks], trunk, members, shared=False)
