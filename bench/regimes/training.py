"""The training protocol every regime shares: budget, optimiser, batches, early stopping, selection.

Budgets count optimisation steps, and each step sees one batch of ``batch_size`` examples from every
task, so a task gets the same batches whether it is trained alone, with the others in one shared
model, or as T independent copies. Validation runs every ``eval_every`` steps on the whole in-memory
val split; each selection group keeps its best state and stops after ``patience`` evaluations without
improvement. The test split is evaluated once, after the best states are restored.
"""

from __future__ import annotations

import copy
import logging
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytorch_lightning as pl
import torch

from bench.data.family import Task
from bench.regimes.module import FamilyModule


def task_seed(seed: int, task: Task) -> int:
    """A per-task seed, so that what a task draws does not depend on the other tasks in the run."""
    return seed * 1_000_003 + zlib.crc32(task.name.encode())


class TaskBatches:
    """Endless per-task shuffled streams, served as one chunk of ``steps`` batches ``[steps, T, B, ...]``.

    Each task has its own generator, seeded by the run's seed and the task's name, so a task's batches
    do not depend on which other tasks it is trained with. A task with fewer than ``batch_size``
    examples repeats them within a batch. Iterating again continues the streams.
    """

    def __init__(self, tasks: tuple[Task, ...], batch_size: int, steps: int, seed: int) -> None:
        self.tasks, self.batch_size, self.steps = tasks, batch_size, steps
        self.generators = [torch.Generator().manual_seed(task_seed(seed, task)) for task in tasks]
        self.orders: list[torch.Tensor] = [torch.empty(0, dtype=torch.long) for _ in tasks]

    def __len__(self) -> int:
        return 1

    def _take(self, index: int, count: int) -> torch.Tensor:
        """The next ``count`` indices of task ``index``'s stream of concatenated permutations."""
        n = len(self.tasks[index].train)
        fresh = [self.orders[index]]
        have = len(self.orders[index])
        while have < count:
            fresh.append(torch.randperm(n, generator=self.generators[index]))
            have += n
        stream = torch.cat(fresh)
        self.orders[index] = stream[count:]
        return stream[:count]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[torch.Tensor]]]:
        picks = [self._take(i, self.steps * self.batch_size).view(self.steps, self.batch_size)
                 for i in range(len(self.tasks))]
        xs = torch.stack([task.train.x[idx] for task, idx in zip(self.tasks, picks, strict=True)], dim=1)
        ys = [task.train.y[idx] for task, idx in zip(self.tasks, picks, strict=True)]
        yield xs, ys


class SelectBest(pl.Callback):
    """Early stopping with model selection on validation loss, per selection group, kept in memory."""

    def __init__(self, module: FamilyModule, patience: int) -> None:
        self.patience = patience
        self.groups = module.selection_groups()
        self.best = [float("inf")] * len(self.groups)
        self.states: list[dict[str, torch.Tensor] | None] = [None] * len(self.groups)
        self.waits = [0] * len(self.groups)
        self.stopped = [False] * len(self.groups)
        self.best_steps = [0] * len(self.groups)

    def update(self, module: FamilyModule, step: int) -> bool:
        """Score the module on validation after ``step`` steps; True once every group has stopped."""
        losses = [metrics["loss"] for metrics in module.evaluate("val")]
        snapshot = None  # one copy of the state serves every group that improved at this step
        for g, group in enumerate(self.groups):
            if self.stopped[g]:
                continue
            score = sum(losses[t] for t in group) / len(group)
            if score < self.best[g]:
                if snapshot is None:
                    snapshot = copy.deepcopy(module.state_dict())
                self.best[g], self.waits[g], self.best_steps[g], self.states[g] = score, 0, step, snapshot
            else:
                self.waits[g] += 1
                self.stopped[g] = self.waits[g] >= self.patience
        return all(self.stopped)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: FamilyModule) -> None:
        trainer.should_stop = self.update(module, trainer.global_step)

    def restore_best(self, module: FamilyModule) -> None:
        for group, state in zip(self.groups, self.states, strict=True):
            if state is not None:
                module.load_group_state(group, state)


@dataclass
class Training:
    """Budget and optimiser, identical for every regime of a comparison.

    ``fit`` runs Lightning's Trainer with everything a sweep does not need turned off (logger,
    checkpoint files, model summary, sanity checks, the validation loop: validation is in-memory, in
    ``SelectBest``). A Lightning epoch is one batch holding ``eval_every`` optimisation steps.
    """

    max_steps: int = 1500
    eval_every: int = 50
    patience: int = 6
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    progress_bar: bool = False

    def __post_init__(self) -> None:
        for name in ("max_steps", "eval_every", "patience", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"trainer.{name}={getattr(self, name)!r} is invalid, expected an integer >= 1")
        if self.lr <= 0:
            raise ValueError(f"trainer.lr={self.lr!r} is invalid, expected a positive number")

    @property
    def steps(self) -> int:
        """The budget rounded down to whole validation periods (at least one)."""
        return max(1, self.max_steps // self.eval_every) * self.eval_every

    def fit(self, module: FamilyModule, seed: int) -> dict[str, int]:
        """Train ``module`` in place and leave it at its selected state; returns when each group was selected."""
        selector = SelectBest(module, self.patience)
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=self.steps // self.eval_every,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=self.progress_bar,
            callbacks=[selector],
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pytorch_lightning")
            warnings.filterwarnings("ignore", module="lightning_fabric")
            trainer.fit(module, train_dataloaders=TaskBatches(module.tasks, self.batch_size, self.eval_every, seed))
        selector.restore_best(module)
        return {"steps": trainer.global_step, "selected_steps": selector.best_steps}


def quiet_lightning() -> None:
    """Silence Lightning's per-Trainer banners (GPU/TPU availability and the like)."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
