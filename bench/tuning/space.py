"""What one arm may tune: the common dimensions every arm shares (learning rate, weight decay) plus the
arm's own key knob (conf/tuning/: ``space`` and ``arms``).

A dimension is a list of values (a grid axis) or a range ``{low, high, log}`` that only a sampler can
search. Population keys (learning rate, weight decay) vary per member of one batched model; any other key
(``regime.trunk_lr``, ``regime.trunk``) needs a population of its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

POPULATION_KEYS = ("trainer.lr", "trainer.weight_decay")


class TuningError(ValueError):
    """A tuning config that cannot define a fair search (bad range, space smaller than the budget, ...)."""


@dataclass(frozen=True)
class Dimension:
    key: str  # a dotted config key, e.g. "trainer.lr"
    values: tuple | None = None  # a grid axis; None for a range
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def size(self) -> float:
        return len(self.values) if self.values is not None else math.inf

    def on_edge(self, value: Any) -> bool:
        """Whether a choice sits at the end of this dimension, so a wider space might have chosen beyond it.
        A lower end of 0 (no decay, no penalty) is a natural bound, not an edge; so is any axis of two values
        or fewer, and non-numeric values, which have no order."""
        if self.values is None:
            return bool(math.isclose(value, self.high, rel_tol=0.05) or
                        (self.low != 0 and math.isclose(value, self.low, rel_tol=0.05)))
        numbers = [v for v in self.values if _is_number(v)]
        if len(numbers) < 3 or len(numbers) != len(self.values) or not _is_number(value):
            return False
        return value == max(numbers) or (value == min(numbers) and value != 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def dimension(key: str, spec: Any) -> Dimension:
    """One dimension from its config: a non-empty list, or a mapping with ``low``, ``high`` and ``log``."""
    where = f"tuning: {key}"
    if isinstance(spec, list | tuple):
        if not spec:
            raise TuningError(f"{where} lists no values")
        encoded = [json.dumps(v, sort_keys=True) for v in spec]
        if len(set(encoded)) != len(encoded):
            raise TuningError(f"{where} lists a value twice: {list(spec)}")
        return Dimension(key, tuple(spec))
    if isinstance(spec, dict) and set(spec) <= {"low", "high", "log"} and {"low", "high"} <= set(spec):
        low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
        if not (_is_number(low) and _is_number(high) and low < high) or (log and low <= 0):
            raise TuningError(f"{where}: range low={low}, high={high}, log={log} is invalid, expected numbers "
                              "low < high (low > 0 on a log scale)")
        return Dimension(key, low=float(low), high=float(high), log=log)
    raise TuningError(f"{where}={spec!r} is invalid, expected a list of values or {{low, high, log}}")


def arm_space(space: dict, arms: dict, arm: str) -> list[Dimension]:
    """The common dimensions plus ``arm``'s own (``arms[arm]``), in config order."""
    own = arms.get(arm) or {}
    shared = sorted(set(space) & set(own))
    if shared:
        raise TuningError(f"tuning.arms.{arm} repeats the common key(s) {shared}: an arm adds its own knob, "
                          "the common space is the same for every arm")
    return [dimension(key, spec) for key, spec in {**space, **own}.items()]


def grid_size(dimensions: list[Dimension]) -> float:
    return math.prod(d.size for d in dimensions)
