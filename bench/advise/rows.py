"""A family's training rows as the descriptors read them: nothing else of a task is ever touched.

Every descriptor of the advisor is computed from these arrays alone, so no validation or test row can enter
one (tests/test_advise_descriptors.py replaces those splits and checks that nothing changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.advise import AdviceError
from bench.data.family import TaskFamily


@dataclass(frozen=True)
class TrainingRows:
    """One task's training rows: inputs flattened to ``[n, d]``; ``y`` the labels as a matrix ``[n, k]`` (one-hot
    classes, or regression targets standardised on these rows); ``labels`` the class codes or first target."""

    name: str
    kind: str
    n_outputs: int
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def compatible(self, other: TrainingRows) -> bool:
        """Whether the two tasks' labels can be pooled in one model: same kind, same number of outputs."""
        return (self.kind, self.n_outputs) == (other.kind, other.n_outputs)


def training_rows(family: TaskFamily) -> list[TrainingRows]:
    """The target first, then the sources, each from its training split only."""
    if len(family.tasks) < 2:
        raise AdviceError(f"family {family.name!r} has {len(family.tasks)} task: there is nothing to share or "
                          "transfer, so single-task learning is the only regime")
    rows = []
    for task in (family.target, *family.sources):
        x = task.train.x.double().flatten(1).numpy()
        if task.kind == "classification":
            labels = task.train.y.numpy()
            y = np.eye(task.n_outputs)[labels]
        else:
            raw = task.train.y.double().numpy()
            scale = raw.std(axis=0)
            y = (raw - raw.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
            labels = y[:, 0]
        rows.append(TrainingRows(task.name, task.kind, task.n_outputs, x, y, labels))
    return rows


def sample_tasks(tasks: list[TrainingRows], limit: int, seed: int) -> list[TrainingRows]:
    """The target and at most ``limit - 1`` sources drawn from ``seed``: what a descriptor whose cost grows
    with the number of tasks reads on a family of many (Parkinsons has 42)."""
    if len(tasks) <= limit:
        return tasks
    chosen = np.sort(np.random.default_rng([seed, 11]).choice(len(tasks) - 1, size=limit - 1, replace=False)) + 1
    return [tasks[0], *(tasks[i] for i in chosen)]
