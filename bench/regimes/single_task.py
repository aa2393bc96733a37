"""Single-task learning (STL): one independent model per task, trained on that task alone."""

from __future__ import annotations

from bench.data.family import TaskFamily
from bench.regimes.joint import BackboneFactory, Outcome, outcomes, train_jointly
from bench.regimes.population import Member
from bench.regimes.training import Training


class SingleTask:
    """T independent copies of the backbone per member trained side by side; no parameter is shared.

    Equal to training each task in its own run: every copy gets only its own task's gradient and is
    selected and stopped on its own validation loss.
    """

    name = "stl"
    strategy = None

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        module, fits = train_jointly([f.tasks for f in families], backbone, training, members, shared=False)
        return outcomes(module, fits, lambda r: fits[r].info())
