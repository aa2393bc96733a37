"""The target's validation split under a realistic protocol: as many labels as its training data allows.

A target with 10 labelled training images does not come with 179 more to select and stop on. With
``data.target_val_ratio`` set, the target keeps ``max(2, round(ratio x its training size))`` of its
validation rows (a seeded subset, stratified by class), as VTAB-1k keeps 200 for 800 training images
(ratio 0.25). Sources keep their whole validation split; so does the target when the key is absent or null.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from bench.data.family import FamilyError, Split, TaskFamily
from bench.data.splits import stratified_subset

KEY = "target_val_ratio"
MIN_ROWS = 2
_STREAM = 7919  # this subset's own random stream: the family's draws stay as they were


def draw_family(data: DictConfig, seed: int) -> TaskFamily:
    """The family ``data`` describes for ``seed``, its target's validation split cut to the protocol."""
    ratio = data.get(KEY)
    if KEY not in data:
        return instantiate(data, seed=seed)
    plain = OmegaConf.to_container(data, resolve=True)
    plain.pop(KEY)
    family = instantiate(plain, seed=seed)
    return family if ratio is None else scaled_target_validation(family, ratio, seed)


def scaled_target_validation(family: TaskFamily, ratio: float, seed: int) -> TaskFamily:
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
        raise FamilyError(f"data.{KEY}={ratio!r} is invalid, expected null or a number in (0, 1]")
    target = family.target
    size = max(MIN_ROWS, round(ratio * len(target.train)))
    labels = target.val.y.numpy() if target.kind == "classification" else None
    rows = stratified_subset(np.arange(len(target.val)), size, np.random.default_rng([seed, _STREAM]), labels)
    kept = dataclasses.replace(target, val=Split(target.val.x[rows], target.val.y[rows]))
    tasks = tuple(kept if task is target else task for task in family.tasks)
    descriptors = {**family.descriptors, "target_val_size": len(rows)}
    return TaskFamily(family.name, tasks, family.knobs, descriptors)
