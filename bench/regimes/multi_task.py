"""Multi-task learning (MTL) with hard parameter sharing: one backbone, one head per task."""

from __future__ import annotations

from bench.data.family import TaskFamily
from bench.regimes.joint import BackboneFactory, Outcome, outcomes, train_jointly
from bench.regimes.population import Member
from bench.regimes.training import Training


class MultiTask:
    """Every step sees a batch from every task; task losses are summed with equal weights.

    Model selection uses the mean validation loss over tasks: one shared model, one selected state.
    """

    name = "mtl"
    strategy = None

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        module, fits = train_jointly([f.tasks for f in families], backbone, training, members, shared=True)
        return outcomes(module, fits, lambda r: fits[r].info())
