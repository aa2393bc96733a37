"""Training all of a family's tasks at once, with or without a shared backbone."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bench.data.family import Task
from bench.regimes.module import FamilyModule
from bench.regimes.training import Training

BackboneFactory = Callable[..., nn.Module]


def task_results(module: FamilyModule) -> list[dict]:
    """Val and test metrics of every task of a trained module (the only place the test split is read)."""
    val, test = module.evaluate("val"), module.evaluate("test")
    return [
        {"task": task.name, "role": task.role, "kind": task.kind, "val": v, "test": t}
        for task, v, t in zip(module.tasks, val, test, strict=True)
    ]


def train_jointly(
    tasks: tuple[Task, ...], backbone: BackboneFactory, training: Training, seed: int, shared: bool
) -> tuple[FamilyModule, dict]:
    torch.manual_seed(seed)
    model = backbone(input_shape=tasks[0].input_shape, copies=1 if shared else len(tasks))
    module = FamilyModule(tasks, model, shared=shared, lr=training.lr, weight_decay=training.weight_decay)
    return module, training.fit(module, seed)
