"""Which task is the transfer target: every task in turn, or a documented sample of them (DESIGN.md, protocol).

A family with no designated target (several labels of one image set, one task per group of a user's
table, the synthetic family's tasks) can make any of its tasks the target: ``data.target`` names one.
A study rotates the target by sweeping it for the transfer arms; the report then compares transfer on
every task it was the target of, beside STL and MTL on the same tasks.

With many tasks, ``data.target_draw=i`` names the ``i``-th task of a fixed permutation of the family's
tasks instead, so that a sweep over ``data.target_draw=range(k)`` runs transfer on a sample of ``k``
targets. The permutation is seeded by ``SAMPLE_SEED`` and the task names, not by the data seed: every
seed and every arm sees the same sample, and a larger sample extends a smaller one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.data.family import FamilyError

SAMPLE_SEED = 0  # the permutation that target_draw indexes: stated in every record (descriptors.target_sample)


def target_order(names: Sequence[str]) -> list[str]:
    """The family's tasks in the order ``target_draw`` takes them: a permutation seeded by ``SAMPLE_SEED``
    and the number of tasks (the names are sorted first, so that the family's own order does not matter)."""
    ordered = sorted(names)
    permutation = np.random.default_rng([SAMPLE_SEED, len(ordered)]).permutation(len(ordered))
    return [ordered[i] for i in permutation]


def choose_target(names: Sequence[str], target: str | None, draw: int | None, where: str,
                  aliases: Sequence[str] = ()) -> str:
    """The target's name: ``target`` (a name, or one of ``aliases`` joined to a name: ``school=3`` for
    ``3``), else draw ``draw`` of ``target_order``, else the first task."""
    names = list(names)
    if target is not None and draw is not None:
        raise FamilyError(f"{where}: data.target={target!r} and data.target_draw={draw!r} both choose the target; "
                          "set one of them")
    if draw is not None:
        if isinstance(draw, bool) or not isinstance(draw, int) or not 0 <= draw < len(names):
            raise FamilyError(f"{where}: data.target_draw={draw!r} is invalid, expected an integer in "
                              f"[0, {len(names)}) (one of the {len(names)} tasks)")
        return target_order(names)[draw]
    if target is None:
        return names[0]
    for candidate in (str(target), *(f"{prefix}{target}" for prefix in aliases)):
        if candidate in names:
            return candidate
    shown = ", ".join(names[:20]) + (f", ... ({len(names) - 20} more)" if len(names) > 20 else "")
    raise FamilyError(f"{where}: data.target={target!r} is not a task; tasks: {shown}")


def sample_note(names: Sequence[str], draw: int | None) -> dict | None:
    """What a record says about a drawn target: its draw, the seed and the number of tasks drawn from."""
    return None if draw is None else {"draw": draw, "seed": SAMPLE_SEED, "of": len(names)}
