"""Task families on scikit-learn's bundled digits (1797 8x8 grey images; shipped in the wheel, no download).

Two shapes of family over the same images, given to every backbone as ``[n, 1, 8, 8]`` in [0, 1]:

- ``make_digits_tasks``: several labels of the same images (identity, parity, >= 5, mod 3, prime), the
  multi-task case where tasks share inputs and differ in what they ask of them;
- ``make_digits_transfer``: a source and a target task on disjoint images, either new classes
  (digits 0-4 -> 5-9) or the same classes with the target's images shifted (noise, blur, rotation,
  inversion) by a ``severity`` in [0, 1].

In both, ``target_size`` keeps a class-stratified subset of the target's training images (the labelled
data a transfer target is short of); validation and test splits stay whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import torch
from scipy import ndimage

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.rotation import choose_target, sample_note
from bench.data.splits import split_rows, stratified_subset

# Each derived task: (number of classes, digit -> class). All are functions of the digit, so they share
# the stroke features that tell digits apart; jointly, parity, ge5, mod3 and prime identify the digit.
DIGIT_TASKS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
    "identity": (10, lambda d: d),
    "parity": (2, lambda d: d % 2),
    "ge5": (2, lambda d: (d >= 5).astype(np.int64)),
    "mod3": (3, lambda d: d % 3),
    "prime": (2, lambda d: np.isin(d, (2, 3, 5, 7)).astype(np.int64)),
}
# What severity 1 means for each shift of the target images (pixels lie in [0, 1]).
SHIFTS = {
    "none": "no shift",
    "noise": "additive Gaussian noise of standard deviation `severity`",
    "blur": "Gaussian blur of standard deviation 1.5 * `severity` pixels",
    "rotation": "rotation by 90 * `severity` degrees",
    "inversion": "a fraction `severity` of the images inverted (x -> 1 - x)",
}
_SPLIT, _SUBSET, _SIDE, _SHIFT = 1, 2, 3, 4  # random stream ids


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def shift_images(images: np.ndarray, shift: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """``images`` ``[n, 8, 8]`` moved away from the source domain; severity 0 leaves them unchanged."""
    if shift == "none" or severity == 0:
        return images
    if shift == "noise":
        return images + severity * rng.standard_normal(images.shape).astype(np.float32)
    if shift == "blur":
        return ndimage.gaussian_filter(images, sigma=(0, 1.5 * severity, 1.5 * severity), mode="constant")
    if shift == "rotation":
        return ndimage.rotate(images, 90 * severity, axes=(1, 2), reshape=False, order=1, mode="constant")
    inverted = rng.random(len(images)) < severity
    return np.where(inverted[:, None, None], 1 - images, images)


def _task(name: str, images: np.ndarray, labels: np.ndarray, n_classes: int, splits: dict, role: str) -> Task:
    parts = {split: Split(torch.from_numpy(images[rows][:, None]).contiguous(), torch.from_numpy(labels[rows]))
             for split, rows in splits.items()}
    return Task(name=name, kind="classification", n_outputs=n_classes, role=role, **parts)


def _shrink_target(splits: dict, labels: np.ndarray, target_size: int | None, seed: int) -> dict:
    if target_size is None:
        return splits
    rng = np.random.default_rng([seed, _SUBSET])
    train = stratified_subset(splits["train"], target_size, rng, labels[splits["train"]])
    return {**splits, "train": train}


def _check_common(target_size: int | None, val_fraction: float, test_fraction: float) -> None:
    if target_size is not None and target_size < 2:
        raise FamilyError(f"digits: target_size={target_size!r} is invalid, expected null or an integer >= 2")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise FamilyError(f"digits: val_fraction={val_fraction} and test_fraction={test_fraction} must lie in "
                          "(0, 1) and sum to less than 1")


def make_digits_tasks(
    seed: int,
    tasks: Sequence[str] = ("identity", "parity", "ge5", "mod3", "prime"),
    target: str | None = None,
    target_size: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.3,
    target_draw: int | None = None,
) -> TaskFamily:
    """One task per derived label of the same images; ``target`` (default: the first task; or ``target_draw``,
    bench/data/rotation.py) is the transfer target and may be given fewer labelled training images with
    ``target_size``."""
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in DIGIT_TASKS]
    if not tasks or unknown:
        raise FamilyError(f"digits: tasks={tasks} is invalid, expected a non-empty list of {list(DIGIT_TASKS)}")
    if len(set(tasks)) != len(tasks):
        raise FamilyError(f"digits: tasks={tasks} lists a task twice")
    target = choose_target(tasks, target, target_draw, "digits")
    _check_common(target_size, val_fraction, test_fraction)

    images, digits = _digits()
    splits = split_rows(len(digits), val_fraction, test_fraction, np.random.default_rng([seed, _SPLIT]), digits,
                        where="digits")
    family_tasks = []
    for name in tasks:
        n_classes, label_of = DIGIT_TASKS[name]
        labels = label_of(digits)
        own = _shrink_target(splits, labels, target_size, seed) if name == target else splits
        family_tasks.append(_task(name, images, labels, n_classes, own, "target" if name == target else "source"))
    family_tasks.sort(key=lambda t: t.role != "target")  # the target first, as in every family
    knobs = dict(tasks=",".join(tasks), n_tasks=len(tasks), target=target, target_size=target_size)
    descriptors = dict(train_sizes=[len(t.train) for t in family_tasks], target_train_size=len(family_tasks[0].train),
                       target_per_class=_per_class(family_tasks[0]))
    descriptors.update({"target_sample": sample} if (sample := sample_note(tasks, target_draw)) else {})
    return TaskFamily("digits-tasks", tuple(family_tasks), knobs, descriptors)


def make_digits_transfer(
    seed: int,
    source_digits: Sequence[int] = (0, 1, 2, 3, 4),
    target_digits: Sequence[int] = (5, 6, 7, 8, 9),
    shift: str = "none",
    severity: float = 0.0,
    target_size: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.3,
) -> TaskFamily:
    """A source and a target task on disjoint images; labels are positions in each task's digit list.

    Digits in both lists have their images split half and half between source and target, so a target
    test image is never seen, clean or shifted, in pretraining.
    """
    source_digits, target_digits = [int(d) for d in source_digits], [int(d) for d in target_digits]
    for key, chosen in (("source_digits", source_digits), ("target_digits", target_digits)):
        if len(chosen) < 2 or len(set(chosen)) != len(chosen) or not set(chosen) <= set(range(10)):
            raise FamilyError(f"digits: {key}={chosen} is invalid, expected at least 2 distinct digits in 0-9")
    if shift not in SHIFTS:
        raise FamilyError(f"digits: shift={shift!r} is invalid, expected one of {list(SHIFTS)}")
    if not 0 <= severity <= 1:
        raise FamilyError(f"digits: severity={severity!r} is invalid, expected a number in [0, 1]")
    _check_common(target_size, val_fraction, test_fraction)

    images, digits = _digits()
    shared = np.isin(digits, source_digits) & np.isin(digits, target_digits)
    side = np.random.default_rng([seed, _SIDE]).random(len(digits)) < 0.5  # True: a shared digit's image goes to target
    sides = {
        "source": np.flatnonzero(np.isin(digits, source_digits) & ~(shared & side)),
        "target": np.flatnonzero(np.isin(digits, target_digits) & ~(shared & ~side)),
    }
    family_tasks = []
    for role, chosen in (("target", target_digits), ("source", source_digits)):
        rows = sides[role]
        labels = np.array([chosen.index(d) for d in digits[rows]], dtype=np.int64)
        task_images = images[rows]
        if role == "target":
            task_images = shift_images(task_images, shift, severity, np.random.default_rng([seed, _SHIFT]))
        stream = np.random.default_rng([seed, _SPLIT, role == "target"])
        splits = split_rows(len(rows), val_fraction, test_fraction, stream, labels, where=f"digits {role}")
        if role == "target":
            splits = _shrink_target(splits, labels, target_size, seed)
        name = f"{role}_{''.join(map(str, chosen))}"
        family_tasks.append(_task(name, task_images.astype(np.float32), labels, len(chosen), splits, role))

    target, source = family_tasks
    knobs = dict(source_digits="".join(map(str, source_digits)), target_digits="".join(map(str, target_digits)),
                 shift=shift, severity=severity, target_size=target_size)
    descriptors = dict(
        train_sizes=[len(t.train) for t in family_tasks],
        target_train_size=len(target.train),
        target_per_class=_per_class(target),
        pixel_shift=float((target.test.x.mean(0) - source.test.x.mean(0)).norm()),
    )
    return TaskFamily("digits-transfer", tuple(family_tasks), knobs, descriptors)


def _per_class(task: Task) -> list[int]:
    return torch.bincount(task.train.y, minlength=task.n_outputs).tolist()
