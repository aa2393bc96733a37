"""A population: the independent runs of one condition that train together as one batched model.

A member is exactly one run: its own seed (data draw, initialisation, batch streams), its own learning
rate and weight decay (or one per task, for STL's copies tuned per task), its own early stopping, selected
state and record. Members share the family
recipe, the regime and the architecture, which is what lets them share one forward pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Member:
    seed: int
    lr: float
    weight_decay: float
    # (task name, lr, weight decay) of the tasks that train at settings of their own: STL's copies share
    # nothing, so each is tuned on its own task (bench/tuning/stage.py); the others train at lr, weight_decay
    per_task: tuple[tuple[str, float, float], ...] = ()

    def task_settings(self, tasks: Sequence[str]) -> list[tuple[float, float]]:
        """``(lr, weight decay)`` of each of ``tasks`` (names, in the family's order)."""
        own = {name: (lr, decay) for name, lr, decay in self.per_task}
        unknown = sorted(set(own) - set(tasks))
        if unknown:
            raise ValueError(f"member seed={self.seed} has settings for task(s) {unknown} the family lacks: "
                             f"{list(tasks)}")
        return [own.get(name, (self.lr, self.weight_decay)) for name in tasks]


@dataclass
class MemberFit:
    """How one member's fit went: the steps it ran (when it would have stopped alone), the step each of its
    selection groups was selected at, or the error that made it fail; and, for compute accounting, the wall
    time of the whole population's stage and how many members shared it."""

    steps: int = 0
    selected_steps: list[int] | None = None
    error: str | None = None
    stage_seconds: float = 0.0
    population_size: int = 1

    def info(self) -> dict[str, Any]:
        return {"steps": self.steps, "selected_steps": self.selected_steps,
                "stage_seconds": round(self.stage_seconds, 3), "population_size": self.population_size}


# How, not what: a cached trunk is the same trunk; transfer's diagnostics measure the trunk beside the run.
ACCOUNTING = ("stage_seconds", "population_size", "cached", "diagnostics")


def schedule(fit: Any) -> Any:
    """A fit without its compute accounting (stage wall time, population size): what a run's record must
    reproduce wherever, and beside whichever other members, it trained."""
    if isinstance(fit, dict):
        return {key: schedule(value) for key, value in fit.items() if key not in ACCOUNTING}
    if isinstance(fit, list | tuple):
        return type(fit)(schedule(value) for value in fit)
    return fit


def recipe_signature(tasks) -> tuple:
    """What members must share to train as one population: each task's name, kind, outputs and input shape."""
    return tuple((t.name, t.kind, t.n_outputs, t.input_shape) for t in tasks)


def as_list(value: Any) -> list:
    """A config value that may be one value or a list of them (a population axis)."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def grid(seeds: Sequence[int], lrs: Sequence[float], weight_decays: Sequence[float]) -> list[Member]:
    """Every combination of the given seeds, learning rates and weight decays, seed-major."""
    members = [Member(int(s), float(lr), float(wd)) for s, lr, wd in itertools.product(seeds, lrs, weight_decays)]
    if len(set(members)) != len(members):
        raise ValueError(f"a population lists a member twice: seeds={list(seeds)}, lrs={list(lrs)}, "
                         f"weight decays={list(weight_decays)}")
    return members
