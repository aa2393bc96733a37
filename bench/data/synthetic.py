"""Controllable synthetic task families: the laboratory where each claim's knob is turned alone.

After Wu, Zhang & Ré (2020): every task reads out a shared feature map ``h(x)``. The anchor (task 0) reads
it with ``w_0``; each other task with ``w_t = rho w_0 + sqrt(1 - rho^2) u_t``, independent ``u_t``, so ``rho``
is the expected cosine between the anchor's readout and each other task's (those share ``rho^2`` with each
other). The anchor is drawn from the seed alone, not from ``rho``: within a seed its data are bit for
bit the same at every relatedness, so a curve along ``rho`` moves only the other tasks. Everything is drawn
from the seed alone, each (task, split) from its own stream, so a smaller ``target_size`` gives a prefix
of a larger one and the same seed gives the same data bit for bit.

The anchor is the transfer target by default. ``target`` (or ``target_draw``, bench/data/rotation.py)
makes another task the target without changing the generator: relatedness, covariate shift and the size
ladder stay anchored at task 0, so with ``target_size`` null the family's data are bit for bit the same
whichever task is the target, and rotating the target measures transfer to every task of one family (in
the imbalance study, to every rung of the size ladder, not only the largest). ``target_size`` gives the
chosen target its train size.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.rotation import choose_target, sample_note

_TEACHER, _SHIFT = 1_000_001, 1_000_002  # stream ids distinct from task indices
_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
_REFERENCE_SIZE = 4096  # inputs from the first task's distribution used to normalise every task's signal


def make_synthetic(
    seed: int,
    kind: Literal["regression", "classification"] = "regression",
    n_classes: int = 2,
    n_tasks: int = 4,
    input_dim: int = 20,
    feature_dim: int | None = None,
    feature_map: Literal["linear", "tanh"] = "linear",
    relatedness: float = 0.5,
    imbalance: float = 1.0,
    covariate_shift: float = 0.0,
    label_noise: float = 0.1,
    n_train: int = 64,
    target_size: int | None = None,
    n_val: int = 128,
    n_test: int = 1000,
    target: str | int | None = None,
    target_draw: int | None = None,
) -> TaskFamily:
    """Draw a family of ``n_tasks`` tasks ``task0, task1, ...``; the target (``target``, e.g. ``task2`` or
    ``2``, or ``target_draw``; by default task 0) is the transfer target, the others its sources.

    Train sizes follow a geometric ladder from ``n_train`` (task 0) down to ``n_train / imbalance``;
    ``target_size``, when given, replaces the target's train size. Each task ``t >= 1`` has its inputs'
    mean moved by ``covariate_shift`` (in input standard deviations) along its own random direction
    and its per-coordinate scales spread by ``exp(covariate_shift * g / 4)``.
    """
    check_knobs(kind, n_classes, n_tasks, input_dim, relatedness, imbalance, covariate_shift, label_noise,
                n_train, target_size, n_val, n_test)
    feature_dim = feature_dim or input_dim
    names = [f"task{t}" for t in range(n_tasks)]
    target_name = choose_target(names, target, target_draw, "synthetic data", aliases=("task",))
    target_index = names.index(target_name)
    n_scores = 1 if kind == "regression" or n_classes == 2 else n_classes

    teacher = np.random.default_rng([seed, _TEACHER])
    projection = teacher.standard_normal((input_dim, feature_dim)) / math.sqrt(input_dim)
    target = teacher.standard_normal((feature_dim, n_scores))
    readouts = [target] + [
        relatedness * target + math.sqrt(1 - relatedness**2) * teacher.standard_normal(target.shape)
        for _ in range(1, n_tasks)
    ]

    def features(x: np.ndarray) -> np.ndarray:
        z = x @ projection
        return np.tanh(z) if feature_map == "tanh" else z

    reference = np.random.default_rng([seed, _TEACHER, 1]).standard_normal((_REFERENCE_SIZE, input_dim))
    # One scale per task so that the clean signal has unit variance and label_noise is a noise-to-signal ratio.
    scales = [1.0 / features(reference).dot(w).std(axis=0).mean() for w in readouts]

    shift_rng = np.random.default_rng([seed, _SHIFT])
    means, stds = [np.zeros(input_dim)], [np.ones(input_dim)]
    for _ in range(1, n_tasks):
        direction = shift_rng.standard_normal(input_dim)
        means.append(covariate_shift * direction / np.linalg.norm(direction))
        stds.append(np.exp(covariate_shift * shift_rng.standard_normal(input_dim) / 4))

    train_sizes = _train_sizes(n_tasks, n_train, imbalance, target_size, target_index)
    tasks = []
    for t in range(n_tasks):
        splits = {}
        for split, size in (("train", train_sizes[t]), ("val", n_val), ("test", n_test)):
            rng = np.random.default_rng([seed, t, _SPLIT_IDS[split]])
            x = means[t] + stds[t] * rng.standard_normal((size, input_dim))
            noise = np.random.default_rng([seed, t, _SPLIT_IDS[split], 1]).standard_normal((size, n_scores))
            score = scales[t] * features(x).dot(readouts[t]) + label_noise * noise
            splits[split] = Split(torch.tensor(x, dtype=torch.float32), _labels(score, kind))
        tasks.append(
            Task(
                name=names[t],
                kind=kind,
                n_outputs=n_classes if kind == "classification" else 1,
                role="target" if t == target_index else "source",
                **splits,
            )
        )

    knobs = dict(
        kind=kind, n_tasks=n_tasks, input_dim=input_dim, relatedness=relatedness, imbalance=imbalance,
        covariate_shift=covariate_shift, label_noise=label_noise, n_train=n_train,
        target=target_name, target_size=target_size,
    )
    sample = sample_note(names, target_draw)
    descriptors = dict(
        readout_cosine=_mean_cosine_to_target(readouts),
        train_sizes=train_sizes,
        target_train_size=train_sizes[target_index],
        mean_shift=float(np.mean([np.linalg.norm(t.train.x.mean(0).numpy() - tasks[0].train.x.mean(0).numpy())
                                  for t in tasks[1:]])) if n_tasks > 1 else 0.0,
    )
    descriptors.update({"target_sample": sample} if sample else {})
    return TaskFamily(f"synthetic-{kind}", tuple(tasks), knobs, descriptors)


def _labels(score: np.ndarray, kind: str) -> torch.Tensor:
    if kind == "regression":
        return torch.tensor(score, dtype=torch.float32)
    labels = (score[:, 0] > 0).astype(np.int64) if score.shape[1] == 1 else score.argmax(axis=1)
    return torch.tensor(labels, dtype=torch.long)


def _train_sizes(n_tasks: int, n_train: int, imbalance: float, target_size: int | None,
                 target_index: int) -> list[int]:
    ladder = [n_train * imbalance ** (-t / max(n_tasks - 1, 1)) for t in range(n_tasks)]
    sizes = [max(2, round(n)) for n in ladder]
    if target_size is not None:
        sizes[target_index] = target_size
    return sizes


def _mean_cosine_to_target(readouts: list[np.ndarray]) -> float:
    flat = [w.ravel() / np.linalg.norm(w) for w in readouts]
    return float(np.mean([flat[0] @ w for w in flat[1:]])) if len(flat) > 1 else 1.0


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_knobs(kind, n_classes, n_tasks, input_dim, relatedness, imbalance, covariate_shift, label_noise,
                n_train, target_size, n_val, n_test) -> None:
    checks = [
        ("kind", kind, kind in ("regression", "classification"), "'regression' or 'classification'"),
        ("n_classes", n_classes, _is_count(n_classes, 2), "an integer >= 2"),
        ("n_tasks", n_tasks, _is_count(n_tasks, 1), "an integer >= 1"),
        ("input_dim", input_dim, _is_count(input_dim, 1), "an integer >= 1"),
        ("relatedness", relatedness, _is_number(relatedness) and 0 <= relatedness <= 1, "a number in [0, 1]"),
        ("imbalance", imbalance, _is_number(imbalance) and imbalance >= 1, "a ratio >= 1 (largest / smallest)"),
        ("covariate_shift", covariate_shift, _is_number(covariate_shift) and covariate_shift >= 0, "a number >= 0"),
        ("label_noise", label_noise, _is_number(label_noise) and label_noise >= 0, "a number >= 0"),
        ("n_train", n_train, _is_count(n_train, 2), "an integer >= 2"),
        ("target_size", target_size, target_size is None or _is_count(target_size, 2), "null or an integer >= 2"),
        ("n_val", n_val, _is_count(n_val, 1), "an integer >= 1"),
        ("n_test", n_test, _is_count(n_test, 1), "an integer >= 1"),
    ]
    for name, value, ok, expected in checks:
        if not ok:
            raise FamilyError(f"synthetic data: {name}={value!r} is invalid, expected {expected}")
