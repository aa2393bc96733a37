"""The advisor's descriptors of a task family: cheap measurements of its training rows, each with its reason.

Every value is a plain number (NaN where it does not apply, e.g. label dependence between tasks that share no
inputs); ``describe`` returns them in ``DESCRIPTORS``' order with the seconds they took. Descriptors whose
cost grows with the number of tasks read the target and at most ``MAX_TASKS - 1`` sources drawn from the seed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from bench.advise.affinity import short_run
from bench.advise.linear import cross_validated, readout_alignment, readout_basis
from bench.advise.rows import TrainingRows, sample_tasks, training_rows
from bench.advise.shift import domain_auc
from bench.data.family import TaskFamily

MAX_TASKS = 12
LABEL_BINS = 5  # regression labels are cut at their quantiles to compare them with mutual information

DESCRIPTORS: dict[str, str] = {
    "log_tasks": "log2 of the number of tasks: more tasks, more to share and more to conflict",
    "log_target_rows": "log2 of the target's training rows: transfer is reached for when they are few",
    "log_mean_rows": "log2 of the mean training rows per task",
    "log_dims_per_row": "log2 of input dimensions per target row: estimation is harder as it grows",
    "size_imbalance": "log2 of the largest over the smallest task's training rows",
    "target_share": "the target's share of all training rows: small when abundant sources stand by it",
    "classification": "the fraction of tasks that are classification",
    "label_entropy": "mean normalised class entropy of the classification tasks",
    "shared_inputs": "the fraction of the target's rows that the sources also label (1: several labels per row)",
    "label_dependence": "normalised mutual information between the target's and each source's labels on shared rows",
    "input_shift": "cross-validated AUC of a classifier telling each source's inputs from the target's",
    "readout_alignment": "squared cosine of the tasks' ridge readouts, mean over pairs (Wu, Zhang & Ré 2020)",
    "readout_alignment_target": "the same, target against each source",
    "linear_fit": "cross-validated score of a ridge model of each task on its own rows",
    "linear_fit_target": "the same, on the target",
    "curve_slope": "score a task's ridge model gains per doubling of its rows (25% to 100%): hunger for data",
    "curve_slope_target": "the same, on the target",
    "pooled_gain": "pooled minus separate cross-validated ridge score (the suite's oracle on training rows)",
    "pooled_gain_target": "the same, on the target",
    "grad_cosine": "mean cosine of the tasks' gradients on a shared MLP over a short run (TAG-like affinity)",
    "grad_cosine_target": "the same, target against each source",
    "logme_gain": "LogME of a trunk trained briefly on the sources minus at its initialisation, on the target",
}


@dataclass(frozen=True)
class Description:
    values: dict[str, float]  # DESCRIPTORS' keys, in order
    seconds: float  # the measurement's wall time: the advisor's cost
    step_ms: float  # one step of the short run over every task: what a confirming run's steps cost here


def describe(family: TaskFamily, seed: int = 0) -> Description:
    """Every descriptor of ``family``'s training rows. Linear algebra runs on one BLAS thread: its matrices are
    small, and OpenBLAS's threads made a 64 x 64 eigendecomposition 35x slower on a busy 2-core machine."""
    started = time.perf_counter()
    tasks = training_rows(family)
    sampled = sample_tasks(tasks, MAX_TASKS, seed)
    with threadpool_limits(1):
        values = {**_sizes(tasks), **_labels(tasks), **_relatedness(sampled[0], sampled[1:], seed),
                  **_linear(sampled, tasks, seed)}
        run = short_run(sampled, seed)
    values.update({key: run[key] for key in ("grad_cosine", "grad_cosine_target", "logme_gain")})
    return Description({name: float(values[name]) for name in DESCRIPTORS}, time.perf_counter() - started,
                       run["step_ms"])


def _sizes(tasks: list[TrainingRows]) -> dict[str, float]:
    rows = np.array([len(task) for task in tasks], dtype=float)
    return {"log_tasks": np.log2(len(tasks)), "log_target_rows": np.log2(rows[0]),
            "log_mean_rows": np.log2(rows.mean()), "log_dims_per_row": np.log2(tasks[0].x.shape[1] / rows[0]),
            "size_imbalance": np.log2(rows.max() / rows.min()), "target_share": rows[0] / rows.sum()}


def _labels(tasks: list[TrainingRows]) -> dict[str, float]:
    entropies = []
    for task in tasks:
        if task.kind == "classification":
            share = task.y.mean(axis=0)
            share = share[share > 0]
            entropies.append(float(-(share * np.log(share)).sum() / np.log(task.n_outputs)))
    return {"classification": np.mean([task.kind == "classification" for task in tasks]),
            "label_entropy": np.mean(entropies) if entropies else np.nan}


def _discrete(task: TrainingRows) -> np.ndarray:
    if task.kind == "classification":
        return task.labels
    edges = np.quantile(task.labels, np.linspace(0, 1, LABEL_BINS + 1)[1:-1])
    return np.searchsorted(edges, task.labels)


def _relatedness(target: TrainingRows, sources: list[TrainingRows], seed: int) -> dict[str, float]:
    shared, dependence, shift = [], [], []
    for source in sources:
        shift.append(domain_auc(target.x, source.x, seed))
        rows_of_source = {row.tobytes(): i for i, row in enumerate(source.x)}
        common = [(i, rows_of_source[row.tobytes()]) for i, row in enumerate(target.x)
                  if row.tobytes() in rows_of_source]
        shared.append(len(common) / len(target))
        if len(common) >= LABEL_BINS * 2:
            mine, theirs = np.array(common).T
            dependence.append(normalized_mutual_info_score(_discrete(target)[mine], _discrete(source)[theirs]))
    return {"shared_inputs": np.mean(shared), "input_shift": _mean(shift),
            "label_dependence": np.mean(dependence) if dependence else np.nan}


def _linear(sampled: list[TrainingRows], tasks: list[TrainingRows], seed: int) -> dict[str, float]:
    fits = [cross_validated(task, [other for other in tasks if other is not task], seed) for task in sampled]
    bases = [readout_basis(task) for task in sampled]
    pairs = [readout_alignment(a, b) for a, b in itertools.combinations(bases, 2)]
    target_pairs = [readout_alignment(bases[0], b) for b in bases[1:]]
    gains = [fit["pooled_gain"] for fit in fits]
    return {"readout_alignment": np.mean(pairs), "readout_alignment_target": np.mean(target_pairs),
            "linear_fit": np.mean([fit["fit"] for fit in fits]), "linear_fit_target": fits[0]["fit"],
            "curve_slope": np.mean([fit["slope"] for fit in fits]), "curve_slope_target": fits[0]["slope"],
            "pooled_gain": _mean(gains),
            "pooled_gain_target": gains[0]}


def _mean(values: list[float]) -> float:
    """The mean of the values that apply (not NaN); NaN when none does."""
    values = np.asarray(values, dtype=float)
    return float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else float("nan")
