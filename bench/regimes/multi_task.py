"""Multi-task learning (MTL) with hard parameter sharing: one backbone, one head per task."""

from __future__ import annotations

from bench.data.family import TaskFamily
from bench.regimes.joint import BackboneFactory, task_results, train_jointly
from bench.regimes.training import Training


class MultiTask:
    """Every step sees a batch from every task; task losses are summed with equal weights.

    Model selection uses the mean validation loss over tasks: one shared model, one selected state.
    """

    name = "mtl"
    strategy = None

    def run(self, family: TaskFamily, backbone: BackboneFactory, training: Training, seed: int) -> tuple[list, dict]:
        module, fit_info = train_jointly(family.tasks, backbone, training, seed, shared=True)
        return task_results(module), fit_info
