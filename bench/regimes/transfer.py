"""Transfer learning (TL): pretrain on the source tasks, then adapt to the target task."""

from __future__ import annotations

import copy

import torch

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.regimes.joint import BackboneFactory, build_module, task_results, train_jointly
from bench.regimes.training import Training

STRATEGIES = ("full", "linear_probe")
PRETRAINING = ("pooled", "multi_task")


class Transfer:
    """Two stages under the same budget each; only the target task's metrics are reported.

    ``pretrain='pooled'`` trains one head on the union of the sources (they must share kind and output
    size); ``'multi_task'`` trains one head per source over the shared backbone. ``strategy='full'``
    fine-tunes the whole network on the target; ``'linear_probe'`` freezes the pretrained backbone and
    trains a new head only. Both stages select on their own validation split.
    """

    name = "tl"

    def __init__(self, strategy: str = "full", pretrain: str = "pooled") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"regime.strategy={strategy!r} is invalid, expected one of {STRATEGIES}")
        if pretrain not in PRETRAINING:
            raise ValueError(f"regime.pretrain={pretrain!r} is invalid, expected one of {PRETRAINING}")
        self.strategy, self.pretrain = strategy, pretrain

    def run(self, family: TaskFamily, backbone: BackboneFactory, training: Training, seed: int) -> tuple[list, dict]:
        if not family.sources:
            raise FamilyError(f"transfer needs source tasks, family {family.name!r} has only {family.target.name!r}")
        sources = (pool_tasks(family.sources),) if self.pretrain == "pooled" else family.sources
        pretrained, pretrain_info = train_jointly(sources, backbone, training, seed, shared=True)

        module = build_module((family.target,), copy.deepcopy(pretrained.backbone), training, seed, shared=True,
                              train_backbone=self.strategy == "full")
        adapt_info = training.fit(module, seed)
        return task_results(module), {"pretrain": pretrain_info, "adapt": adapt_info}


def pool_tasks(tasks: tuple[Task, ...]) -> Task:
    """One task holding the union of the given tasks' rows, split by split."""
    first = tasks[0]
    for task in tasks[1:]:
        if (task.kind, task.n_outputs) != (first.kind, first.n_outputs):
            raise FamilyError(
                f"pooled pretraining needs sources of one kind and output size: {first.name!r} is "
                f"{first.kind}/{first.n_outputs}, {task.name!r} is {task.kind}/{task.n_outputs}; "
                "use regime.pretrain=multi_task"
            )
    splits = {
        name: Split(torch.cat([t.split(name).x for t in tasks]), torch.cat([t.split(name).y for t in tasks]))
        for name in ("train", "val", "test")
    }
    return Task(name="+".join(t.name for t in tasks), kind=first.kind, n_outputs=first.n_outputs, role="source",
                **splits)
