"""The training protocol every regime shares: budget, optimiser, batches, early stopping, selection.

Budgets count optimisation steps, and each step sees one batch of ``batch_size`` examples from every
task, so a task gets the same batches whether it is trained alone, with the others in one shared
model, or as T independent copies. Validation runs every ``eval_every`` steps on the whole in-memory
val split; each selection group of each population member keeps its best state and stops after
``patience`` evaluations without improvement. The test split is evaluated once, after the best states
are restored.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import pytorch_lightning as pl
import torch

from bench.checks import check_trainer
from bench.data.family import Task
from bench.regimes.module import DIVERGENCE_FACTOR, PopulationModule
from bench.regimes.population import MemberFit
from bench.regimes.task_sampling import TaskSampling


def task_seed(seed: int, task: Task) -> int:
    """A per-task seed, so that what a task draws does not depend on the other tasks in the run."""
    return seed * 1_000_003 + zlib.crc32(task.name.encode())


class TaskBatches:
    """Endless per-member, per-task shuffled streams, served as one chunk ``[steps, R, T, B, ...]``.

    Each (member, task) has its own generator, seeded by the member's seed and the task's name, so a
    task's batches depend neither on the other tasks nor on the other members. A task with fewer than
    ``batch_size`` examples repeats them within a batch. Iterating again continues the streams. Indices
    are drawn on the CPU (the same streams on every device) and gather rows on ``device``.

    With a ``sampling`` (``bench/regimes/task_sampling.py``) each member trains one drawn task per step: the
    chunk also carries the draws ``[steps, R, T]`` (bool), a task's stream advances only on the steps that
    draw it (its k-th batch is the one it gets alone), and the slots of tasks not drawn hold placeholder rows
    (the task's first row) whose loss the module leaves out.
    """

    def __init__(self, task_sets: Sequence[tuple[Task, ...]], seeds: Sequence[int], batch_size: int, steps: int,
                 device: torch.device | str = "cpu", sampling: TaskSampling | None = None) -> None:
        self.batch_size, self.steps, self.device = batch_size, steps, torch.device(device)
        self.streams = [[_Stream(task, seed) for task in tasks] for tasks, seed in zip(task_sets, seeds, strict=True)]
        self.draws = None if sampling is None else [sampling.draws([len(task.train) for task in tasks], seed)
                                                    for tasks, seed in zip(task_sets, seeds, strict=True)]
        self.train = [[(task.train.x.to(self.device), task.train.y.to(self.device)) for task in tasks]
                      for tasks in task_sets]

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        drawn = None if self.draws is None else torch.stack([d.take(self.steps) for d in self.draws], dim=1)
        picks = [[self._pick(stream, None if drawn is None else drawn[:, r, t]) for t, stream in enumerate(streams)]
                 for r, streams in enumerate(self.streams)]
        xs = torch.stack([torch.stack([x[idx] for (x, _), idx in zip(train, member, strict=True)], dim=1)
                          for train, member in zip(self.train, picks, strict=True)], dim=1)
        ys = [torch.stack([train[t][1][member[t]] for train, member in zip(self.train, picks, strict=True)], dim=1)
              for t in range(len(self.train[0]))]
        yield (xs, ys) if drawn is None else (xs, ys, drawn.to(self.device))

    def _pick(self, stream: _Stream, drawn: torch.Tensor | None) -> torch.Tensor:
        """``[steps, B]`` row indices of one (member, task): its next batch at every step, or at the steps that
        ``drawn`` marks (row 0 elsewhere, a placeholder)."""
        if drawn is None:
            return stream.take(self.steps * self.batch_size).view(self.steps, self.batch_size).to(self.device)
        picks = torch.zeros(self.steps, self.batch_size, dtype=torch.long)
        picks[drawn] = stream.take(int(drawn.sum()) * self.batch_size).view(-1, self.batch_size)
        return picks.to(self.device)


class _Stream:
    """One task's endless stream of concatenated permutations of its training rows."""

    def __init__(self, task: Task, seed: int) -> None:
        self.size = len(task.train)
        self.generator = torch.Generator().manual_seed(task_seed(seed, task))
        self.order = torch.empty(0, dtype=torch.long)

    def take(self, count: int) -> torch.Tensor:
        fresh, have = [self.order], len(self.order)
        while have < count:
            fresh.append(torch.randperm(self.size, generator=self.generator))
            have += self.size
        stream = torch.cat(fresh)
        self.order = stream[count:]
        return stream[:count]


class SelectBest(pl.Callback):
    """Early stopping with model selection on validation loss, per member and selection group, in memory.

    A group is one member's whole model when its tasks share a backbone, one (member, task) copy when they
    do not. The best state is one copy of the parameters whose slices are overwritten where a group
    improves, so memory does not grow with the number of groups. A member stops when all its groups have;
    the population stops when every member has stopped or failed.
    """

    def __init__(self, module: PopulationModule, patience: int) -> None:
        self.patience = patience
        members, groups = module.n_members, module.selection_groups
        self.tasks_of = [[t for t in range(len(module.tasks)) if module.group_of(t) == g] for g in range(groups)]
        self.best = [[float("inf")] * groups for _ in range(members)]
        self.waits = [[0] * groups for _ in range(members)]
        self.stopped = [[False] * groups for _ in range(members)]
        self.best_steps = [[0] * groups for _ in range(members)]
        self.fits = [MemberFit() for _ in range(members)]
        self.selected = torch.zeros(members, groups, dtype=torch.bool)
        self.state: dict[str, torch.Tensor] = {}
        self.trunks: list[dict[str, torch.Tensor]] = []
        self.untrained: list[list[float]] = []

    def on_fit_start(self, trainer: pl.Trainer, module: PopulationModule) -> None:
        self.state = {name: param.detach().clone() for name, param in module.named_parameters()}
        # A trunk shared by several selection groups (MTL selected per task) keeps one copy per group.
        self.trunks = [{name: param.detach().clone() for name, param in module.named_parameters()
                        if module.is_shared_trunk(name)} for _ in range(module.selection_groups)]
        self.untrained = module.losses("val")
        for r in module.initially_failed.nonzero().flatten().tolist():
            self.fail(r, "failed before this stage")
        module.set_active(~torch.tensor(self.stopped))

    def fail(self, member: int, error: str) -> None:
        self.fits[member].error = self.fits[member].error or error
        self.stopped[member] = [True] * len(self.stopped[member])

    def update(self, module: PopulationModule, step: int, optimizer: torch.optim.Optimizer) -> bool:
        """Score every member on validation after ``step`` steps; True once every member has stopped."""
        failed = self._diverged_in_training(module)
        losses = module.losses("val")
        improved = torch.zeros_like(self.selected)
        for r, member_losses in enumerate(losses):
            for g, tasks in enumerate(self.tasks_of):
                if self.stopped[r][g]:
                    continue
                score = sum(member_losses[t] for t in tasks) / len(tasks)
                worst = max(member_losses[t] / max(self.untrained[r][t], 1e-12) for t in tasks)
                if not math.isfinite(score) or worst > DIVERGENCE_FACTOR:
                    self.fail(r, f"DivergenceError: training diverged at step {step}: validation loss {score:.4g}, "
                                 f"not finite or above {DIVERGENCE_FACTOR:g}x the untrained model's")
                    failed.append(r)
                    break
                if score < self.best[r][g]:
                    self.best[r][g], self.waits[r][g], self.best_steps[r][g] = score, 0, step
                    improved[r, g] = True
                else:
                    self.waits[r][g] += 1
                    self.stopped[r][g] = self.waits[r][g] >= self.patience
            if all(self.stopped[r]) and not self.fits[r].steps:
                self.fits[r].steps = step
        if failed:
            module.clear_members(torch.isin(torch.arange(module.n_members), torch.tensor(failed)), optimizer)
        self._snapshot(module, improved)
        module.set_active(~torch.tensor(self.stopped))
        return all(all(groups) for groups in self.stopped)

    def _diverged_in_training(self, module: PopulationModule) -> list[int]:
        """Members the divergence watch caught since the last look, each failed with what went wrong."""
        newly = [r for r in module.watch.failures if self.fits[r].error is None]
        for r in newly:
            self.fail(r, module.watch.failures[r])
        return newly

    @torch.no_grad()
    def _snapshot(self, module: PopulationModule, improved: torch.Tensor) -> None:
        if not improved.any():
            return
        self.selected |= improved
        for name, param in module.named_parameters():
            if module.is_shared_trunk(name):
                for group, rows in enumerate(improved.T):
                    self.trunks[group][name][rows] = param.detach()[rows]
                continue
            rows = module.copy_mask(name, improved).to(param.device)
            self.state[name][rows] = param.detach()[rows]

    def on_train_epoch_end(self, trainer: pl.Trainer, module: PopulationModule) -> None:
        trainer.should_stop = self.update(module, module.steps_done, module.optimizers().optimizer)

    @torch.no_grad()
    def restore_best(self, module: PopulationModule, steps: int) -> list[MemberFit]:
        """Leave every member at its selected state; returns each member's fit."""
        for name, param in module.named_parameters():
            if module.is_shared_trunk(name):
                continue
            rows = module.copy_mask(name, self.selected).to(param.device)
            param[rows] = self.state[name][rows]
        if module.per_task_selection:  # each task is evaluated on the trunk of its own best step
            module.task_trunks = [(self.trunks[module.group_of(t)], self.selected[:, module.group_of(t)])
                                  for t in range(len(module.tasks))]
        for fit, best_steps in zip(self.fits, self.best_steps, strict=True):
            fit.steps = fit.steps or steps
            fit.selected_steps = best_steps
        return self.fits


@dataclass
class Training:
    """Budget, optimiser and device, identical for every regime of a comparison.

    ``lr`` and ``weight_decay`` may each be a list: a population then holds one member per combination
    (see ``bench.regimes.population.grid``). ``fit`` runs Lightning's Trainer with everything a sweep does
    not need turned off (logger, checkpoint files, model summary, sanity checks, the validation loop:
    validation is in memory, in ``SelectBest``). A Lightning epoch is one batch of ``eval_every`` steps.
    """

    max_steps: int = 1500
    eval_every: int = 50
    patience: int = 6
    batch_size: int = 32
    lr: float | list[float] = 3e-3
    weight_decay: float | list[float] = 0.0
    accelerator: str = "auto"
    progress_bar: bool = False

    def __post_init__(self) -> None:
        check_trainer(asdict(self))  # the checks a composed config gets (bench/checks.py)
        if self.accelerator == "gpu" and not torch.cuda.is_available():
            raise ValueError("trainer.accelerator='gpu' but torch sees no GPU (torch.cuda.is_available() is False)")

    @property
    def steps(self) -> int:
        """The budget rounded down to whole validation periods (at least one)."""
        return max(1, self.max_steps // self.eval_every) * self.eval_every

    @property
    def device(self) -> torch.device:
        use_gpu = self.accelerator == "gpu" or (self.accelerator == "auto" and torch.cuda.is_available())
        return torch.device("cuda" if use_gpu else "cpu")

    def fit(self, module: PopulationModule) -> list[MemberFit]:
        """Train ``module`` in place and leave every member at its selected state; returns each member's fit."""
        device = self.device
        module.to(device)
        selector = SelectBest(module, self.patience)
        trainer = pl.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu",
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
        batches = TaskBatches(module.task_sets, [m.seed for m in module.members], self.batch_size, self.eval_every,
                              device, module.task_sampling)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pytorch_lightning")
            warnings.filterwarnings("ignore", module="lightning_fabric")
            trainer.fit(module, train_dataloaders=batches)
        fits = selector.restore_best(module, module.steps_done)
        for fit in fits:
            fit.stage_seconds, fit.population_size = time.perf_counter() - start, module.n_members
        return fits


def quiet_lightning() -> None:
    """Silence Lightning's per-Trainer banners (GPU/TPU availability and the like)."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
