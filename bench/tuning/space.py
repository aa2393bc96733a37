"""What one arm tunes: the common grid every tuned arm trains whole (learning rate x weight decay) and the
arm's own key knob on top of it (conf/tuning/: ``space`` and ``arms``).

Every dimension is a list of values, a grid axis: every tuned arm covers the whole common grid, so neither a
range nor a sampler may take part of it away. Population keys (learning rate, weight decay) vary per member
of one batched model; any other key (``regime.trunk_lr``, ``weighting.c``) needs a population of its own.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

POPULATION_KEYS = ("trainer.lr", "trainer.weight_decay")


class TuningError(ValueError):
    """A tuning config that cannot define a fair search (a range, a budget that is not the grid, ...)."""


@dataclass(frozen=True)
class Dimension:
    key: str  # a dotted config key, e.g. "trainer.lr"
    values: tuple

    def on_edge(self, value: Any) -> bool:
        """Whether a choice sits at the end of this axis, so a wider one might have chosen beyond it. A lower
        end of 0 (no decay, no penalty) is a natural bound, not an edge; so is any axis of two values or
        fewer, and non-numeric values, which have no order."""
        numbers = [v for v in self.values if _is_number(v)]
        if len(numbers) < 3 or len(numbers) != len(self.values) or not _is_number(value):
            return False
        return value == max(numbers) or (value == min(numbers) and value != 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def dimension(key: str, spec: Any) -> Dimension:
    """One grid axis from its config: a non-empty list of distinct values."""
    where = f"tuning: {key}"
    if not isinstance(spec, list | tuple):
        raise TuningError(f"{where}={spec!r} is invalid, expected a list of values (every tuned arm trains the "
                          "whole grid, so a range that only a sampler could search is refused)")
    if not spec:
        raise TuningError(f"{where} lists no values")
    encoded = [json.dumps(v, sort_keys=True) for v in spec]
    if len(set(encoded)) != len(encoded):
        raise TuningError(f"{where} lists a value twice: {list(spec)}")
    return Dimension(key, tuple(spec))


def arm_space(space: dict, arms: dict, arm: str) -> tuple[list[Dimension], list[Dimension]]:
    """The common grid's axes and ``arm``'s own (``arms[arm]``, searched on top), in config order."""
    own = arms.get(arm) or {}
    shared = sorted(set(space) & set(own))
    if shared:
        raise TuningError(f"tuning.arms.{arm} repeats the common key(s) {shared}: an arm adds its own knob, "
                          "the common grid is the same for every arm")
    return [dimension(key, spec) for key, spec in space.items()], [dimension(key, spec) for key, spec in own.items()]


def grid(dimensions: list[Dimension]) -> list[dict]:
    """Every setting of the axes, the first axis slowest."""
    keys = [d.key for d in dimensions]
    return [dict(zip(keys, point, strict=True)) for point in itertools.product(*(d.values for d in dimensions))]


def grid_size(dimensions: list[Dimension]) -> int:
    return math.prod(len(d.values) for d in dimensions)
