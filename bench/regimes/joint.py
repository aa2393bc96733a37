"""Building and training a module over a family's tasks, with or without a shared backbone."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bench.data.family import Task
from bench.regimes.module import FamilyModule
from bench.regimes.training import Training, task_seed

BackboneFactory = Callable[..., nn.Module]


def init_backbone(factory: BackboneFactory, input_shape: tuple[int, ...], copies: int, seed: int) -> nn.Module:
    """A backbone whose every copy starts from the same weights: those of a single model drawn from ``seed``.

    So the STL model of a task starts where the shared MTL backbone starts, and where it would start if
    that task were trained alone. Every backbone parameter has the number of copies as leading dimension.
    """
    torch.manual_seed(seed)
    single = factory(input_shape=input_shape, copies=1)
    if copies == 1:
        return single
    model = factory(input_shape=input_shape, copies=copies)
    with torch.no_grad():
        for many, one in zip(model.parameters(), single.parameters(), strict=True):
            many.copy_(one.expand_as(many))
    return model


def build_module(tasks: tuple[Task, ...], backbone: nn.Module, training: Training, seed: int, shared: bool,
                 train_backbone: bool = True) -> FamilyModule:
    module = FamilyModule(tasks, backbone, shared=shared, lr=training.lr, weight_decay=training.weight_decay,
                          train_backbone=train_backbone)
    for task, head in zip(tasks, module.heads, strict=True):
        torch.manual_seed(task_seed(seed, task))
        head.reset_parameters()
    return module


def train_jointly(
    tasks: tuple[Task, ...], backbone: BackboneFactory, training: Training, seed: int, shared: bool
) -> tuple[FamilyModule, dict]:
    model = init_backbone(backbone, tasks[0].input_shape, 1 if shared else len(tasks), seed)
    module = build_module(tasks, model, training, seed, shared)
    return module, training.fit(module, seed)


def task_results(module: FamilyModule) -> list[dict]:
    """Val and test metrics of every task of a trained module (the only place the test split is read)."""
    val, test = module.evaluate("val"), module.evaluate("test")
    return [
        {"task": task.name, "role": task.role, "kind": task.kind, "val": v, "test": t}
        for task, v, t in zip(module.tasks, val, test, strict=True)
    ]
