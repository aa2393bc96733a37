"""One contract for every regime, plus the properties the comparison relies on."""

import math

import numpy as np
import pytest
import torch

import bench.metrics
from bench.regimes import Classical, MultiTask, SingleTask, Transfer
from tests.conftest import run_alone, tiny_family

REGIMES = [SingleTask(), MultiTask(), Transfer("full"), Transfer("linear_probe"), Transfer("full", "multi_task"),
           Classical("ridge"), Classical("ridge_pooled_tasks"), Classical("hgb")]
METRICS = {kind: {"loss", *names} for kind, names in bench.metrics.METRICS.items()}


@pytest.mark.parametrize("kind", ["regression", "classification"])
@pytest.mark.parametrize("regime", REGIMES, ids=lambda r: f"{r.name}-{getattr(r, 'strategy', None)}")
def test_regime_contract(regime, kind, fast_training, small_backbone):
    family = tiny_family(kind)
    results, fit = run_alone(regime, family, small_backbone, fast_training, seed=1)
    expected_tasks = [family.target.name] if regime.name == "tl" else [t.name for t in family.tasks]
    assert [r["task"] for r in results] == expected_tasks
    for result in results:
        assert result["kind"] == kind
        for split in ("val", "test"):
            assert set(result[split]) == METRICS[kind]
            assert all(math.isfinite(v) for v in result[split].values())
    again, _ = run_alone(regime, family, small_backbone, fast_training, seed=1)
    assert again == results  # deterministic under a seed
    assert fit


def test_transfer_needs_sources(fast_training, small_backbone):
    with pytest.raises(ValueError, match="needs source tasks"):
        run_alone(Transfer(), tiny_family(n_tasks=1), small_backbone, fast_training, seed=0)


def test_pooled_transfer_rejects_mixed_sources(fast_training, small_backbone):
    regression, classification = tiny_family("regression"), tiny_family("classification")
    mixed = regression.subset((regression.tasks[0], regression.tasks[1], classification.tasks[2]))
    with pytest.raises(ValueError, match="pooled pretraining needs sources of one kind"):
        run_alone(Transfer(), mixed, small_backbone, fast_training, seed=0)
    results, _ = run_alone(Transfer(pretrain="multi_task"), mixed, small_backbone, fast_training, seed=0)
    assert results[0]["task"] == "task0"


def test_invalid_strategy_names_it():
    with pytest.raises(ValueError, match="regime.strategy='probe' is invalid"):
        Transfer("probe")


def test_vectorised_stl_equals_training_each_task_alone(fast_training, small_backbone):
    family = tiny_family(seed=4)
    together, _ = run_alone(SingleTask(), family, small_backbone, fast_training, seed=2)
    for task, joint in zip(family.tasks, together, strict=True):
        alone, _ = run_alone(SingleTask(), family.subset((task,)), small_backbone, fast_training, seed=2)
        for split in ("val", "test"):
            for metric, value in joint[split].items():
                assert value == pytest.approx(alone[0][split][metric], rel=1e-4, abs=1e-5)


def test_linear_probe_keeps_the_pretrained_backbone(fast_training, small_backbone, monkeypatch):
    import bench.regimes.transfer as transfer

    seen = []
    original = transfer.build_module

    def spy(*args, **kwargs):
        module = original(*args, **kwargs)
        seen.append(module)
        return module

    monkeypatch.setattr(transfer, "build_module", spy)
    run_alone(Transfer("linear_probe"), tiny_family(), small_backbone, fast_training, seed=0)
    (module,) = seen
    assert not any(p.requires_grad for p in module.backbone.parameters())
    assert all(p.requires_grad for p in module.heads.parameters())


def _mean_test_r2(regime, family, backbone, training, seed):
    results, _ = run_alone(regime, family, backbone, training, seed)
    return np.mean([r["test"]["r2"] for r in results])


def test_sharing_matters_only_when_tasks_are_related(small_backbone):
    """Wu, Zhang & Re 2020: with few samples per task, MTL beats STL for identical tasks, not for unrelated ones."""
    import functools

    from bench.models import MLPBackbone
    from bench.regimes.training import Training

    training = Training(max_steps=400, eval_every=25, patience=4, batch_size=16)
    backbone = functools.partial(MLPBackbone, width=32, depth=2)
    gains = {}
    for rho in (0.0, 1.0):
        gains[rho] = []
        for seed in range(3):
            family = tiny_family(seed=seed, relatedness=rho, n_tasks=4, input_dim=10, n_train=16, n_test=400)
            gains[rho].append(_mean_test_r2(MultiTask(), family, backbone, training, seed)
                              - _mean_test_r2(SingleTask(), family, backbone, training, seed))
    assert min(gains[1.0]) > 0.01, gains
    assert np.mean(gains[0.0]) < 0.01, gains


def test_task_batches_cover_each_task_before_repeating_and_ignore_other_tasks_and_members():
    from bench.regimes.training import TaskBatches

    family = tiny_family(n_train=40, imbalance=4.0)  # train sizes 40, 20, 10
    other = tiny_family(seed=5, n_train=40, imbalance=4.0)
    stream = TaskBatches([family.tasks, other.tasks], seeds=[1, 5], batch_size=8, steps=5)
    (xs, ys), (later, _) = next(iter(stream)), next(iter(stream))
    assert xs.shape == (5, 2, 3, 8, 6) and [y.shape for y in ys] == [(5, 2, 8, 1)] * 3
    first_pass = xs[:, 0, 0].flatten(0, 1)  # 40 draws of task 0: each of its rows exactly once
    assert torch.equal(first_pass.unique(dim=0), family.tasks[0].train.x.unique(dim=0))
    assert not torch.equal(later, xs)  # iterating again continues the streams
    ((xs_alone, ys_alone),) = list(TaskBatches([family.tasks[1:2]], seeds=[1], batch_size=8, steps=5))
    assert torch.equal(xs[:, 0, 1], xs_alone[:, 0, 0]) and torch.equal(ys[1][:, 0], ys_alone[0][:, 0])
    ((xs_other, _),) = list(TaskBatches([other.tasks], seeds=[5], batch_size=8, steps=5))
    assert torch.equal(xs[:, 1], xs_other[:, 0])  # a member's stream ignores the other members
