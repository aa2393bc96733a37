"""The shared dataset abstraction: a task family is a list of tasks over one input space."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from bench.metrics import METRICS, default_metric

SPLITS = ("train", "val", "test")
Kind = Literal["classification", "regression"]
Role = Literal["target", "source", "task"]


class FamilyError(ValueError):
    """A task family was built from inconsistent or invalid data."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class Task:
    """One prediction problem: ``n_outputs`` is K classes or k regression targets."""

    name: str
    kind: Kind
    n_outputs: int
    train: Split
    val: Split
    test: Split
    role: Role = "task"
    metric: str | None = None  # the primary metric (bench.metrics.METRICS); None: default_metric's choice
    class_weights: torch.Tensor | None = None  # [n_outputs] weights of the classes in the training loss
    target_mean: tuple[float, ...] = ()  # regression: original units = standardised * target_std + target_mean
    target_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise FamilyError(f"task {self.name!r}: kind must be 'classification' or 'regression', got {self.kind!r}")
        if self.n_outputs < 1 or (self.kind == "classification" and self.n_outputs < 2):
            raise FamilyError(f"task {self.name!r}: n_outputs={self.n_outputs} is too small for {self.kind}")
        for split_name in SPLITS:
            self._check_split(split_name, getattr(self, split_name))
        self._check_scoring()

    def _check_scoring(self) -> None:
        if self.metric is not None and self.metric not in METRICS[self.kind]:
            raise FamilyError(f"task {self.name!r}: metric {self.metric!r} is invalid for {self.kind}, expected one "
                              f"of {METRICS[self.kind]}")
        if self.class_weights is not None and (
                self.kind != "classification" or tuple(self.class_weights.shape) != (self.n_outputs,)
                or not bool(torch.isfinite(self.class_weights).all()) or bool((self.class_weights < 0).any())):
            raise FamilyError(f"task {self.name!r}: class_weights must be {self.n_outputs} finite weights >= 0 "
                              f"of a classification task, got {self.class_weights}")
        scale = (len(self.target_mean), len(self.target_std))
        if scale != (0, 0) and (self.kind != "regression" or scale != (self.n_outputs, self.n_outputs)
                                or min(self.target_std) <= 0):
            raise FamilyError(f"task {self.name!r}: target_mean and target_std must give {self.n_outputs} value(s) "
                              f"each (std > 0) for a regression task, got {self.target_mean}, {self.target_std}")

    def _check_split(self, split_name: str, split: Split) -> None:
        where = f"task {self.name!r}, split {split_name!r}"
        x, y = split.x, split.y
        if x.ndim < 2 or not x.is_floating_point():
            raise FamilyError(f"{where}: inputs must be a float tensor [n, ...], got {x.dtype} {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise FamilyError(f"{where}: split is empty")
        if y.shape[0] != x.shape[0]:
            raise FamilyError(f"{where}: {x.shape[0]} inputs but {y.shape[0]} labels")
        if not torch.isfinite(x).all():
            raise FamilyError(f"{where}: inputs contain NaN or inf")
        if self.kind == "classification":
            if y.dtype != torch.long or y.ndim != 1:
                raise FamilyError(f"{where}: class labels must be a 1-D int64 tensor, got {y.dtype} {tuple(y.shape)}")
            if y.min() < 0 or y.max() >= self.n_outputs:
                raise FamilyError(f"{where}: labels must lie in [0, {self.n_outputs}), got [{y.min()}, {y.max()}]")
        else:
            if not y.is_floating_point() or y.ndim != 2 or y.shape[1] != self.n_outputs:
                raise FamilyError(
                    f"{where}: regression targets must be float [n, {self.n_outputs}], "
                    f"got {y.dtype} {tuple(y.shape)}"
                )
            if not torch.isfinite(y).all():
                raise FamilyError(f"{where}: targets contain NaN or inf")

    def split(self, name: str) -> Split:
        return getattr(self, name)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def primary_metric(self) -> str:
        """The metric the report compares this task on: ``metric``, else the default for its labels."""
        if self.metric is not None:
            return self.metric
        labels = torch.cat([s.y for s in (self.train, self.val, self.test)]) if self.kind == "classification" else None
        return default_metric(self.kind, labels)


@dataclass(frozen=True)
class TaskFamily:
    """Tasks over one input space, with the knob values that made them and measured descriptors.

    ``knobs`` are what the generator was asked for (plotted on the report's x axis); ``descriptors``
    are what was measured on the data drawn (empirical relatedness, sizes, shift). ``descriptors`` also
    name each task's primary metric (``primary_metric``), so that the report reads it from the record.
    """

    name: str
    tasks: tuple[Task, ...]
    knobs: dict = field(default_factory=dict)
    descriptors: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tasks:
            raise FamilyError(f"family {self.name!r} has no tasks")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise FamilyError(f"family {self.name!r}: task names are not unique: {names}")
        shape = self.tasks[0].input_shape
        for task in self.tasks:
            if task.input_shape != shape:
                raise FamilyError(
                    f"family {self.name!r}: task {task.name!r} has input shape {task.input_shape}, "
                    f"task {self.tasks[0].name!r} has {shape}"
                )
        if sum(t.role == "target" for t in self.tasks) > 1:
            raise FamilyError(f"family {self.name!r}: more than one task has role 'target'")
        primary = {task.name: task.primary_metric for task in self.tasks}
        object.__setattr__(self, "descriptors", {**self.descriptors, "primary_metric": primary})

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.tasks[0].input_shape

    @property
    def target(self) -> Task:
        """The task transfer adapts to: the one marked 'target', else the first."""
        return next((t for t in self.tasks if t.role == "target"), self.tasks[0])

    @property
    def sources(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t is not self.target)

    def subset(self, tasks: tuple[Task, ...], name: str | None = None) -> TaskFamily:
        return TaskFamily(name or self.name, tuple(tasks), self.knobs, self.descriptors)
