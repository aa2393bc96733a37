"""Building and training a population over a family's tasks, with or without a shared backbone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.data.family import Task
from bench.regimes.module import PopulationModule
from bench.regimes.population import Member, MemberFit
from bench.regimes.training import Training, task_seed

BackboneFactory = Callable[..., nn.Module]


@dataclass
class Outcome:
    """What one member's run produced: its tasks' val/test metrics and how its fit went, or its error."""

    tasks: list[dict] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def init_backbone(factory: BackboneFactory, input_shape: tuple[int, ...], members: list[Member],
                  copies_per_member: int) -> nn.Module:
    """A backbone whose copies of member r all start from the weights of a single model drawn from r's seed.

    So the STL model of a task starts where the shared MTL backbone starts, and where it would start if
    that task were trained alone, in a population or not. Parameters are member-major.
    """
    model = factory(input_shape=input_shape, copies=len(members) * copies_per_member)
    for r, member in enumerate(members):
        torch.manual_seed(member.seed)
        single = factory(input_shape=input_shape, copies=1)
        with torch.no_grad():
            for many, one in zip(model.parameters(), single.parameters(), strict=True):
                block = many[r * copies_per_member:(r + 1) * copies_per_member]
                block.copy_(one.expand_as(block))
    return model


def build_module(task_sets: list[tuple[Task, ...]], backbone: nn.Module, members: list[Member], shared: bool,
                 train_backbone: bool = True, failed: list[bool] | None = None, weighting=None,
                 per_task_selection: bool = False) -> PopulationModule:
    """The module, each member's heads initialised as ``nn.Linear`` from its own (seed, task) stream."""
    module = PopulationModule(task_sets, backbone, members, shared, train_backbone, failed, weighting,
                              per_task_selection)
    for t, head in enumerate(module.heads):
        for r, (member, tasks) in enumerate(zip(members, task_sets, strict=True)):
            torch.manual_seed(task_seed(member.seed, tasks[t]))
            head.load_linear(r, nn.Linear(backbone.width, tasks[t].n_outputs))
    return module


def train_jointly(task_sets: list[tuple[Task, ...]], backbone: BackboneFactory, training: Training,
                  members: list[Member], shared: bool, weighting=None,
                  per_task_selection: bool = False) -> tuple[PopulationModule, list[MemberFit]]:
    model = init_backbone(backbone, task_sets[0][0].input_shape, members, 1 if shared else len(task_sets[0]))
    module = build_module(task_sets, model, members, shared, weighting=weighting,
                          per_task_selection=per_task_selection)
    return module, training.fit(module)


def outcomes(module: PopulationModule, fits: list[MemberFit], fit_info: Callable[[int], dict]) -> list[Outcome]:
    """Each member's val and test metrics (the only place the test split is read), or its error."""
    val, test = module.metrics("val"), module.metrics("test")
    results = []
    for r, tasks in enumerate(module.task_sets):
        if fits[r].error:
            results.append(Outcome(error=fits[r].error))
            continue
        rows = [{"task": task.name, "role": task.role, "kind": task.kind, "val": v, "test": t}
                for task, v, t in zip(tasks, val[r], test[r], strict=True)]
        results.append(Outcome(tasks=rows, fit=fit_info(r)))
    return results
