"""Controllable synthetic task families: the laboratory where each claim's knob is turned alone.

Two families share one code path (bench/data/teacher.py): the nonlinear **teacher**, where a linear model
fails and a network must learn each task's latent features (every claim study runs on it), and the **linear**
family after Wu, Zhang & Ré (2020), the analytic twin whose closed forms test the pipeline. This function's
defaults are the linear twin's (the unit tests' closed forms); conf/data/synthetic.yaml picks the teacher.
Each task's Bayes risk is known (bench/data/bayes.py) and stored per task in the family's descriptors, so the
report shows every arm's excess risk.

Task 0 is the anchor: relatedness (of features and of readouts), covariate and concept shift and the size
ladder all measure from it, and its teacher is drawn from the seed alone, so within a seed its data are bit
for bit the same along any of those knobs, which move only the other tasks. Everything is drawn from the
seed alone, each (task, split) from its own stream, so a smaller ``target_size`` gives a prefix of a larger
one and the same seed gives the same data bit for bit.

The anchor is the transfer target by default. ``target`` (or ``target_draw``, bench/data/rotation.py)
makes another task the target without changing the generator: with ``target_size`` null the family's data
are bit for bit the same whichever task is the target, and rotating the target measures transfer to every
task of one family (in the imbalance study, to every rung of the size ladder, not only the largest).
``target_size`` gives the chosen target its train size.
"""

from __future__ import annotations

import inspect
from typing import Literal

import numpy as np
import torch

from bench.data.bayes import RISK_METRIC, bayes_risk
from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.rotation import choose_target, sample_note
from bench.data.teacher import FEATURE_MAPS, Teacher, draw_teacher

_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
TEACHER_LATENT = 4  # the teacher's latent features per task when feature_dim is null
OWN_MAP = {"teacher": "abs", "linear": "linear"}  # each family's feature map when feature_map is null


def make_synthetic(
    seed: int,
    kind: Literal["regression", "classification"] = "regression",
    n_classes: int = 2,
    family: Literal["teacher", "linear"] = "linear",
    n_tasks: int = 4,
    input_dim: int = 20,
    feature_dim: int | None = None,
    feature_map: Literal["abs", "linear", "tanh"] | None = None,
    relatedness: float = 0.5,
    feature_relatedness: float | None = None,
    imbalance: float = 1.0,
    covariate_shift: float = 0.0,
    concept_shift: float = 0.0,
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

    ``relatedness`` relates the tasks' readouts; ``feature_relatedness`` (teacher only; null: the same value)
    their latent features. Train sizes follow a geometric ladder from ``n_train`` (task 0) down to
    ``n_train / imbalance``; ``target_size``, when given, replaces the target's train size. Each task
    ``t >= 1`` has its inputs' mean moved by ``covariate_shift`` (in input standard deviations) along its own
    random direction and its per-coordinate scales spread by ``exp(covariate_shift * g / 4)``; with
    ``concept_shift`` in (0, 1] its function moves with them. ``label_noise`` is the noise-to-signal ratio on
    each task's own inputs, whatever the shift.
    """
    knobs = {name: value for name, value in locals().items() if name != "seed"}
    _validate(knobs)
    names = [f"task{t}" for t in range(n_tasks)]
    target_name = choose_target(names, target, target_draw, "synthetic data", aliases=("task",))
    target_index = names.index(target_name)
    teacher = synthetic_teacher(seed, knobs)
    n_scores = teacher.readouts[0].shape[1]

    train_sizes = _train_sizes(n_tasks, n_train, imbalance, target_size, target_index)
    tasks = []
    for t in range(n_tasks):
        splits = {}
        for split, size in (("train", train_sizes[t]), ("val", n_val), ("test", n_test)):
            x = teacher.inputs(t, np.random.default_rng([seed, t, _SPLIT_IDS[split]]), size)
            noise = np.random.default_rng([seed, t, _SPLIT_IDS[split], 1]).standard_normal((size, n_scores))
            score = teacher.signal(t, x) + teacher.noise[t] * noise
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

    shown = dict(kind=kind, family=family, n_tasks=n_tasks, input_dim=input_dim, relatedness=relatedness,
                 feature_relatedness=feature_relatedness, imbalance=imbalance, covariate_shift=covariate_shift,
                 concept_shift=concept_shift, label_noise=label_noise, n_train=n_train, target=target_name,
                 target_size=target_size)
    descriptors = dict(
        readout_cosine=_mean_cosine_to_anchor(teacher.readouts),
        feature_overlap=_mean_overlap_with_anchor(teacher),
        train_sizes=train_sizes,
        target_train_size=train_sizes[target_index],
        mean_shift=float(np.mean([np.linalg.norm(t.train.x.mean(0).numpy() - tasks[0].train.x.mean(0).numpy())
                                  for t in tasks[1:]])) if n_tasks > 1 else 0.0,
        **_bayes_descriptors(teacher, kind, seed, names),
    )
    sample = sample_note(names, target_draw)
    descriptors.update({"target_sample": sample} if sample else {})
    prefix = "synthetic" if family == "linear" else "teacher"
    return TaskFamily(f"{prefix}-{kind}", tuple(tasks), shown, descriptors)


def check_knobs(**knobs) -> dict:
    """Every knob of ``make_synthetic`` (defaults filled in) checked before anything is drawn; raises
    FamilyError with one line naming the first bad knob. A sweep calls it once per condition before it starts."""
    try:
        bound = inspect.signature(make_synthetic).bind(0, **knobs)
    except TypeError as error:
        raise FamilyError(f"synthetic data: {error}") from None
    bound.apply_defaults()
    values = {name: value for name, value in bound.arguments.items() if name != "seed"}
    _validate(values)
    choose_target([f"task{t}" for t in range(values["n_tasks"])], values["target"], values["target_draw"],
                  "synthetic data", aliases=("task",))
    return values


def synthetic_teacher(seed: int, knobs: dict) -> Teacher:
    """The teacher ``make_synthetic(seed, **knobs)`` draws its tasks from (``knobs`` complete: ``check_knobs``),
    each family's nulls resolved: the teacher's features as related as its readouts unless told otherwise,
    the linear family's map shared (feature relatedness 1)."""
    family, kind = knobs["family"], knobs["kind"]
    teacher = family == "teacher"
    features = knobs["feature_relatedness"]
    return draw_teacher(
        seed, family, knobs["n_tasks"], knobs["input_dim"],
        knobs["feature_dim"] or (TEACHER_LATENT if teacher else knobs["input_dim"]),
        knobs["feature_map"] or OWN_MAP[family], 1 if kind == "regression" or knobs["n_classes"] == 2 else
        knobs["n_classes"], knobs["relatedness"], (knobs["relatedness"] if features is None else features)
        if teacher else 1.0, knobs["covariate_shift"], knobs["concept_shift"], knobs["label_noise"])


def _bayes_descriptors(teacher: Teacher, kind: str, seed: int, names: list[str]) -> dict:
    risks = [bayes_risk(teacher, t, kind, seed) for t in range(teacher.n_tasks)]
    return dict(risk_metric=RISK_METRIC[kind], bayes_risk=dict(zip(names, (r for r, _ in risks), strict=True)),
                bayes_risk_se=dict(zip(names, (se for _, se in risks), strict=True)))


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


def _mean_cosine_to_anchor(readouts: tuple[np.ndarray, ...]) -> float:
    flat = [w.ravel() / np.linalg.norm(w) for w in readouts]
    return float(np.mean([flat[0] @ w for w in flat[1:]])) if len(flat) > 1 else 1.0


def _mean_overlap_with_anchor(teacher: Teacher) -> float:
    """Mean over the other tasks of ``‖Q_0ᵀ Q_t‖²_F / k`` (Q: orthonormal bases of the latent directions): the
    share of the anchor's latent subspace each task spans, 1 for identical features, about k/d for unrelated."""
    bases = [np.linalg.qr(p)[0] for p in teacher.projections]
    overlaps = [float(np.sum((bases[0].T @ q) ** 2)) / q.shape[1] for q in bases[1:]]
    return float(np.mean(overlaps)) if overlaps else 1.0


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_fraction(value) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _validate(knobs: dict) -> None:
    """Raise FamilyError naming the first knob whose value the generator cannot use."""
    family, input_dim = knobs["family"], knobs["input_dim"]
    checks = [
        ("kind", knobs["kind"] in ("regression", "classification"), "'regression' or 'classification'"),
        ("n_classes", _is_count(knobs["n_classes"], 2), "an integer >= 2"),
        ("family", family in OWN_MAP, "'teacher' or 'linear'"),
        ("n_tasks", _is_count(knobs["n_tasks"], 1), "an integer >= 1"),
        ("input_dim", _is_count(input_dim, 1), "an integer >= 1"),
        ("feature_dim", knobs["feature_dim"] is None or _is_count(knobs["feature_dim"], 1)
         and (family != "teacher" or not _is_count(input_dim, 1) or knobs["feature_dim"] <= input_dim),
         "null or an integer >= 1 (the teacher's at most input_dim: its latent directions are orthonormal)"),
        ("feature_map", knobs["feature_map"] is None or knobs["feature_map"] in FEATURE_MAPS,
         f"null (the family's own) or one of {sorted(FEATURE_MAPS)}"),
        ("relatedness", _is_fraction(knobs["relatedness"]), "a number in [0, 1]"),
        ("feature_relatedness", knobs["feature_relatedness"] is None
         or family == "teacher" and _is_fraction(knobs["feature_relatedness"]),
         "null or, for the teacher family, a number in [0, 1] (the linear family's map is shared)"),
        ("imbalance", _is_number(knobs["imbalance"]) and knobs["imbalance"] >= 1, "a ratio >= 1 (largest / smallest)"),
        ("covariate_shift", _is_number(knobs["covariate_shift"]) and knobs["covariate_shift"] >= 0, "a number >= 0"),
        ("concept_shift", _is_fraction(knobs["concept_shift"]), "a number in [0, 1]"),
        ("label_noise", _is_number(knobs["label_noise"]) and knobs["label_noise"] >= 0, "a number >= 0"),
        ("n_train", _is_count(knobs["n_train"], 2), "an integer >= 2"),
        ("target_size", knobs["target_size"] is None or _is_count(knobs["target_size"], 2), "null or an integer >= 2"),
        ("n_val", _is_count(knobs["n_val"], 1), "an integer >= 1"),
        ("n_test", _is_count(knobs["n_test"], 1), "an integer >= 1"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise FamilyError(f"synthetic data: {name}={knobs[name]!r} is invalid, expected {expected}")
