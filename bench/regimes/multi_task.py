"""Multi-task learning (MTL) with hard parameter sharing: one backbone, one head per task."""

from __future__ import annotations

from collections.abc import Callable

from bench.data.family import TaskFamily
from bench.regimes.joint import BackboneFactory, Outcome, outcomes, train_jointly
from bench.regimes.population import Member
from bench.regimes.training import Training
from bench.weighting import EqualWeights, Weighting

SELECTIONS = ("shared", "per_task")


class MultiTask:
    """Every step sees a batch from every task; a weighting method (bench/weighting) combines the task
    losses, the unweighted sum by default.

    ``weighting`` builds a fresh method per population (``conf/weighting/*.yaml`` are partials), since
    methods keep per-member state. Records name the method (``weighting``).

    ``selection="shared"`` (the default) selects and stops on the mean validation loss over tasks: one
    model, one selected state. ``"per_task"`` keeps each task's trunk and head at that task's own best
    validation step and trains until every task has stopped, the rule STL's copies follow, so that MTL is
    not handicapped when single tasks are compared (issue 9).
    """

    name = "mtl"
    strategy = None

    def __init__(self, weighting: Callable[[], Weighting] = EqualWeights, selection: str = "shared") -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"regime.selection={selection!r} is invalid, expected one of {SELECTIONS}")
        self.weighting, self.selection = weighting, selection
        self.weighting_name = weighting().name  # builds one now: a bad hyper-parameter stops before training

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        weighting = self.weighting()
        weighting.setup(members, len(families[0].tasks))
        module, fits = train_jointly([f.tasks for f in families], backbone, training, members, shared=True,
                                     weighting=weighting, per_task_selection=self.selection == "per_task")
        return outcomes(module, fits, lambda r: fits[r].info())
