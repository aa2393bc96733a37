"""Single-task learning (STL): one independent model per task, trained on that task alone."""

from __future__ import annotations

from bench.data.family import TaskFamily
from bench.regimes.joint import BackboneFactory, task_results, train_jointly
from bench.regimes.training import Training


class SingleTask:
    """T independent copies of the backbone trained side by side; no parameter is shared.

    Equal to training each task in its own run: every copy gets only its own task's gradient and is
    selected and stopped on its own validation loss.
    """

    name = "stl"
    strategy = None

    def run(self, family: TaskFamily, backbone: BackboneFactory, training: Training, seed: int) -> tuple[list, dict]:
        module, fit_info = train_jointly(family.tasks, backbone, training, seed, shared=False)
        return task_results(module), fit_info
