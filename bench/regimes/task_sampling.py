"""Task sampling for multi-task learning: which task each member trains on at each step.

``all`` (the default) trains every task every step and is not a sampler at all (``make_sampling`` returns
None: the engine's arithmetic is untouched). The others draw one task per member per step, with
probability ``p_t ∝ n_t^(1/temperature)`` over the tasks' train sizes ``n_t``: ``proportional`` is
temperature 1, ``uniform`` the limit of an infinite temperature, ``temperature`` any value in between or
beyond (the multilingual-NMT and T5 practice; 2 halves the log-ratio of two tasks' rates). A member's draws
come from its own seed, so they do not depend on the other members of its population.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

SAMPLINGS = ("all", "proportional", "uniform", "temperature")
SALT = 7_919  # keeps the draws apart from the member's other seeded streams


class TaskSampling:
    """One task per step for each member, drawn with the probabilities ``probabilities(sizes)``; built by
    ``make_sampling``, which checks the name and the temperature."""

    def __init__(self, name: str, temperature: float = 2.0) -> None:
        self.name, self.temperature = name, float(temperature)

    def probabilities(self, sizes: Sequence[int]) -> torch.Tensor:
        """``[T]`` probabilities of the tasks whose train sizes are ``sizes``."""
        sizes = torch.tensor(sizes, dtype=torch.float64)
        if self.name == "uniform":
            return torch.full_like(sizes, 1 / len(sizes))
        weights = sizes ** (1 / (1.0 if self.name == "proportional" else self.temperature))
        return weights / weights.sum()

    def draws(self, sizes: Sequence[int], seed: int) -> TaskDraws:
        """The endless stream of one member's drawn tasks, given its tasks' train sizes and its seed."""
        return TaskDraws(self.probabilities(sizes), seed)


class TaskDraws:
    """One member's drawn tasks, ``take(steps)`` at a time; taking again continues the stream."""

    def __init__(self, probabilities: torch.Tensor, seed: int) -> None:
        self.probabilities = probabilities
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + SALT)

    def take(self, steps: int) -> torch.Tensor:
        """``[steps, T]`` bool: the task each of the next ``steps`` steps trains."""
        tasks = torch.multinomial(self.probabilities, steps, replacement=True, generator=self.generator)
        return torch.nn.functional.one_hot(tasks, len(self.probabilities)).bool()


def make_sampling(name: str, temperature: float = 2.0) -> TaskSampling | None:
    """The sampler that ``regime.sampling`` names, None for ``all`` (every task every step)."""
    if name not in SAMPLINGS:
        raise ValueError(f"regime.sampling={name!r} is invalid, expected one of {', '.join(SAMPLINGS)}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature <= 0:
        raise ValueError(f"regime.temperature={temperature!r} is invalid, expected a number > 0")
    return None if name == "all" else TaskSampling(name, temperature)
