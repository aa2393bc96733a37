"""Transfer learning (TL): pretrain on the source tasks, then adapt to the target task."""

from __future__ import annotations

import copy

import torch

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.regimes.joint import BackboneFactory, Outcome, build_module, outcomes, train_jointly
from bench.regimes.population import Member
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

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        for family in families:
            if not family.sources:
                raise FamilyError(f"transfer needs source tasks, family {family.name!r} has only "
                                  f"{family.target.name!r}")
        sources = [(pool_tasks(f.sources),) if self.pretrain == "pooled" else f.sources for f in families]
        pretrained, pretrain_fits = train_jointly(sources, backbone, training, members, shared=True)

        module = build_module([(f.target,) for f in families], copy.deepcopy(pretrained.backbone), members,
                              shared=True, train_backbone=self.strategy == "full",
                              failed=[fit.error is not None for fit in pretrain_fits])
        adapt_fits = training.fit(module)
        for pretrain, adapt in zip(pretrain_fits, adapt_fits, strict=True):
            if pretrain.error:
                adapt.error = f"pretraining: {pretrain.error}"
        return outcomes(module, adapt_fits,
                        lambda r: {"pretrain": pretrain_fits[r].info(), "adapt": adapt_fits[r].info()})


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
