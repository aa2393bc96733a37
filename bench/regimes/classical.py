"""scikit-learn arms: cheap, strong anchors beside the neural regimes, each regularised on the validation split.

A reviewer's first question of any comparison is whether a well-tuned classical model beats every arm. These
answer it in every study at the cost of seconds. Each is scored like the neural regimes (``task_metrics``
on the val and test splits of every task), so it appears in the tables, plots, regime map and claims:

- ``ridge`` per task: ``Ridge`` for regression, ``LogisticRegression`` (L2) for classification; the
  strength is chosen on the task's validation split from a log grid;
- ``ridge_pooled``: one such model on the union of the tasks' rows (the tasks must share kind and outputs),
  ``ridge_pooled_tasks`` the same with a one-hot task indicator appended to the inputs;
- ``hgb`` per task: ``HistGradientBoostingRegressor`` / ``Classifier``, its leaf count and leaf size
  chosen on validation: the strong tabular single-task baseline;
- ``multitask_elasticnet``: ``MultiTaskElasticNet`` on every task's outputs at once, its strength and
  L1 ratio chosen on the tasks' mean validation loss. Its L1/L2 penalty selects the same input features for
  every task (Obozinski et al. 2010), the classical form of hard sharing; it needs regression tasks on the
  same rows (several target columns of one table).

Features are standardised on the training rows (linear models only). The test split is read once, by the
chosen model. Population members differ here only by their seed's data draw (and the boosted trees' seed);
learning rate and weight decay do not apply.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import torch

from bench.data.family import FamilyError, Task, TaskFamily
from bench.metrics import task_metrics
from bench.regimes.joint import Outcome
from bench.regimes.population import Member

ESTIMATORS = ("ridge", "ridge_pooled", "ridge_pooled_tasks", "hgb", "multitask_elasticnet")
STRENGTHS = np.logspace(-4, 4, 17)  # ridge alpha; logistic C = 1 / alpha
HGB_GRID = {"max_leaf_nodes": (7, 31), "min_samples_leaf": (3, 20)}  # small data needs small leaves
ELASTIC_NET_GRID = {"alpha": np.logspace(-4, 1, 11), "l1_ratio": (0.2, 0.5, 0.8)}


class Classical:
    """One scikit-learn arm over every task of a family (``estimator`` is one of ``ESTIMATORS``)."""

    name = "sklearn"

    def __init__(self, estimator: str = "ridge") -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"regime.estimator={estimator!r} is invalid, expected one of {ESTIMATORS}")
        self.estimator = self.strategy = estimator

    def run(self, families: list[TaskFamily], backbone, training, members: list[Member]) -> list[Outcome]:
        """``backbone`` and ``training`` are the neural regimes' and play no part here."""
        return [self.fit_family(family, member.seed) for family, member in zip(families, members, strict=True)]

    def fit_family(self, family: TaskFamily, seed: int) -> Outcome:
        if self.estimator.startswith("ridge_pooled"):
            models = _fit_pooled(family.tasks, indicators=self.estimator == "ridge_pooled_tasks")
        elif self.estimator == "multitask_elasticnet":
            models = _fit_elastic_net(family.tasks)
        else:
            fit = _fit_ridge if self.estimator == "ridge" else _fit_boosted
            models = [fit(task, seed) for task in family.tasks]
        rows, chosen = [], {}
        for task, (predict, setting) in zip(family.tasks, models, strict=True):
            scores = {split: task_metrics(task, predict(task, split), task.split(split).y) for split in ("val", "test")}
            rows.append({"task": task.name, "role": task.role, "kind": task.kind, **scores})
            chosen[task.name] = setting
        return Outcome(tasks=rows, fit={"steps": 0, "selected_steps": [], "chosen": chosen})


def _inputs(task: Task, split: str) -> np.ndarray:
    return task.split(split).x.flatten(1).numpy().astype(np.float64)


def _targets(task: Task, split: str) -> np.ndarray:
    y = task.split(split).y.numpy()
    return y if task.kind == "classification" else y.astype(np.float64)


def _as_output(task: Task, model, x: np.ndarray) -> torch.Tensor:
    """What ``task_metrics`` reads: predictions for regression, log-probabilities (as logits) otherwise."""
    if task.kind == "regression":
        return torch.tensor(model.predict(x), dtype=torch.float32).reshape(len(x), task.n_outputs)
    probabilities = np.full((len(x), task.n_outputs), 1e-12)
    probabilities[:, model.classes_] = np.clip(model.predict_proba(x), 1e-12, None)
    return torch.tensor(np.log(probabilities), dtype=torch.float32)


def _fit_linear(task: Task, strength: float, x: np.ndarray, y: np.ndarray):
    """Standardised features, then Ridge (regression) or L2 logistic regression of the given strength."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task.kind == "regression":
        model, y = make_pipeline(StandardScaler(), Ridge(alpha=strength)), y if y.shape[1] > 1 else y[:, 0]
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / strength, max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at the grid's weakest strengths
        return model.fit(x, y)


def _best(candidates, fit_one, val_loss) -> tuple:
    """Fit every candidate setting on train; the model and setting with the lowest validation loss."""
    best = None
    for setting in candidates:
        model = fit_one(setting)
        loss = val_loss(model)
        if best is None or loss < best[0]:
            best = (loss, model, setting)
    return best[1], best[2]


def _select(task: Task, candidates, fit_one) -> tuple:
    """``_best`` on one task's validation loss; returns its predictor and the chosen setting."""
    def val_loss(model) -> float:
        return task_metrics(task, _as_output(task, model, _inputs(task, "val")), task.val.y)["loss"]

    model, setting = _best(candidates, fit_one, val_loss)
    return (lambda t, split: _as_output(t, model, _inputs(t, split))), setting


def _single_class(task: Task) -> bool:
    return task.kind == "classification" and len(np.unique(_targets(task, "train"))) < 2


def _fit_ridge(task: Task, seed: int):
    if _single_class(task):
        raise FamilyError(f"task {task.name!r}: one class in its training rows, a classifier cannot be fit")
    x, y = _inputs(task, "train"), _targets(task, "train")
    predict, strength = _select(task, STRENGTHS, lambda strength: _fit_linear(task, strength, x, y))
    return predict, {"alpha": float(strength)}


def _fit_boosted(task: Task, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task.kind == "regression" and task.n_outputs > 1:
        raise FamilyError(f"task {task.name!r}: hgb fits one regression output, the task has {task.n_outputs}")
    x, y = _inputs(task, "train"), _targets(task, "train")
    y = y if task.kind == "classification" else y[:, 0]
    kind = HistGradientBoostingClassifier if task.kind == "classification" else HistGradientBoostingRegressor

    predict, setting = _select(task, _grid(HGB_GRID), lambda s: kind(**s, random_state=seed % 2**32).fit(x, y))
    return predict, setting


def _fit_pooled(tasks: tuple[Task, ...], indicators: bool):
    """One linear model on every task's rows; with ``indicators``, a one-hot of the task is appended."""
    first = tasks[0]
    for task in tasks[1:]:
        if (task.kind, task.n_outputs) != (first.kind, first.n_outputs):
            raise FamilyError(f"pooled arms need tasks of one kind and output size: {first.name!r} is "
                              f"{first.kind}/{first.n_outputs}, {task.name!r} is {task.kind}/{task.n_outputs}")

    def inputs(index: int, task: Task, split: str) -> np.ndarray:
        x = _inputs(task, split)
        if not indicators:
            return x
        onehot = np.zeros((len(x), len(tasks)))
        onehot[:, index] = 1.0
        return np.hstack([x, onehot])

    x = np.vstack([inputs(i, t, "train") for i, t in enumerate(tasks)])
    y = np.concatenate([_targets(t, "train") for t in tasks])
    val_x = [inputs(i, t, "val") for i, t in enumerate(tasks)]

    def val_loss(model) -> float:  # the mean over tasks of each task's validation loss
        return float(np.mean([task_metrics(t, _as_output(t, model, vx), t.val.y)["loss"]
                              for t, vx in zip(tasks, val_x, strict=True)]))

    model, strength = _best(STRENGTHS, lambda strength: _fit_linear(first, strength, x, y), val_loss)
    index = {task.name: i for i, task in enumerate(tasks)}

    def predict(task: Task, split: str) -> torch.Tensor:
        return _as_output(task, model, inputs(index[task.name], task, split))

    return [(predict, {"alpha": float(strength)})] * len(tasks)


def _grid(options: dict) -> list[dict]:
    return [dict(zip(options, values, strict=True)) for values in itertools.product(*options.values())]


def _fit_elastic_net(tasks: tuple[Task, ...]):
    """One MultiTaskElasticNet over the outputs of every task, which must be regression tasks on one set of rows."""
    from sklearn.linear_model import MultiTaskElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    first = tasks[0]
    for task in tasks:
        if task.kind != "regression":
            raise FamilyError(f"multitask_elasticnet fits regression tasks, {task.name!r} is {task.kind}")
        for split in ("train", "val", "test"):
            if not torch.equal(task.split(split).x, first.split(split).x):
                raise FamilyError(f"multitask_elasticnet needs tasks on the same rows (several targets of one "
                                  f"table): {task.name!r} and {first.name!r} differ in their {split} inputs")
    ends = np.cumsum([0, *(task.n_outputs for task in tasks)])
    y = np.hstack([_targets(task, "train") for task in tasks])

    def fit_one(setting: dict):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the grid's weakest strengths
            return make_pipeline(StandardScaler(), MultiTaskElasticNet(**setting, max_iter=5000)).fit(
                _inputs(first, "train"), y)

    def outputs(model, index: int, split: str) -> torch.Tensor:
        return torch.tensor(model.predict(_inputs(first, split))[:, ends[index]:ends[index + 1]], dtype=torch.float32)

    def val_loss(model) -> float:  # the mean over tasks of each task's validation loss
        return float(np.mean([task_metrics(task, outputs(model, i, "val"), task.val.y)["loss"]
                              for i, task in enumerate(tasks)]))

    model, setting = _best(_grid(ELASTIC_NET_GRID), fit_one, val_loss)
    chosen = {key: float(value) for key, value in setting.items()}
    return [((lambda _, split, i=i: outputs(model, i, split)), chosen) for i in range(len(tasks))]
