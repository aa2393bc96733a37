"""scikit-learn arms: cheap, strong anchors beside the neural regimes, each regularised on the validation split.

A reviewer's first question of any comparison is whether a well-tuned classical model beats every arm. These
answer it in every study at the cost of seconds. Each is scored like the neural regimes (``task_metrics``
on the val and test splits of every task), so it appears in the tables, plots, regime map and claims:

- ``ridge`` per task: ``Ridge`` for regression, ``LogisticRegression`` (L2) for classification; the
  strength is chosen on the task's validation split from a log grid;
- ``ridge_pooled``: one such model on the union of the tasks' rows (the tasks must share kind and outputs),
  ``ridge_pooled_tasks`` the same with a one-hot task indicator appended to the inputs. Regression targets
  are pooled in their original units: the per-task standardisation the neural arms train on would hand the
  pooled model each task's mean and spread, that is, its identity;
- ``hgb`` per task: ``HistGradientBoostingRegressor`` / ``Classifier``, its leaf count and leaf size
  chosen on validation: the strong tabular single-task baseline;
- ``multitask_elasticnet``: ``MultiTaskElasticNet`` on every task's outputs at once, its strength and
  L1 ratio chosen on the tasks' mean validation loss. Its L1/L2 penalty selects the same input features for
  every task (Obozinski et al. 2010), the classical form of hard sharing; it needs regression tasks on the
  same rows (several target columns of one table).

The linear arms walk the whole strength grid as a regularisation path: ridge in closed form from one SVD
(every strength for the price of one fit), logistic regression strongest first, each fit warm-started from
the last (the path of Friedman, Hastie & Tibshirani 2010), so that a 100-task table costs seconds.
Features are standardised on the training rows (linear models only). The test split is read once, by the
chosen model. Population members differ here only by their seed's data draw (and the boosted trees' seed);
learning rate and weight decay do not apply.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from bench.data.family import FamilyError, Task, TaskFamily
from bench.metrics import task_metrics
from bench.regimes.joint import Outcome
from bench.regimes.population import Member

ESTIMATORS = ("ridge", "ridge_pooled", "ridge_pooled_tasks", "hgb", "multitask_elasticnet")
STRENGTHS = np.logspace(-4, 4, 17)  # ridge alpha; logistic C = 1 / alpha
LOGISTIC_MAX_ITER = 2000
HGB_GRID = {"max_leaf_nodes": (7, 31), "min_samples_leaf": (3, 20)}  # small data needs small leaves
ELASTIC_NET_GRID = {"alpha": np.logspace(-4, 1, 11), "l1_ratio": (0.2, 0.5, 0.8)}

# A fitted candidate: inputs [n, d] -> outputs [n, k] as task_metrics reads them (standardised predictions for
# regression in the model's own target units, log-probabilities for classification).
Predictor = Callable[[np.ndarray], np.ndarray]


class Classical:
    """One scikit-learn arm over every task of a family (``estimator`` is one of ``ESTIMATORS``)."""

    name = "sklearn"

    def __init__(self, estimator: str = "ridge") -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"regime.estimator={estimator!r} is invalid, expected one of {ESTIMATORS}")
        self.estimator = self.strategy = estimator

    def run(self, families: list[TaskFamily], backbone, training, members: list[Member]) -> list[Outcome]:
        """``backbone`` and ``training`` are the neural regimes' and play no part here. scikit-learn's BLAS and
        OpenMP pools get torch's thread count (``threads``: one per job by default): with a pool per core in
        each of a sweep's parallel jobs, a logistic fit ran 5 to 20 times slower on two busy cores."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=torch.get_num_threads()):
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
            scores = {split: task_metrics(task, torch.tensor(predict(task, split), dtype=torch.float32),
                                          task.split(split).y) for split in ("val", "test")}
            rows.append({"task": task.name, "role": task.role, "kind": task.kind, **scores})
            chosen[task.name] = setting
        return Outcome(tasks=rows, fit={"steps": 0, "selected_steps": [], "chosen": chosen})


def _inputs(task: Task, split: str) -> np.ndarray:
    return task.split(split).x.flatten(1).numpy().astype(np.float64)


def _targets(task: Task, split: str) -> np.ndarray:
    y = task.split(split).y.numpy()
    return y if task.kind == "classification" else y.astype(np.float64)


def _loss(task: Task, output: np.ndarray, split: str = "val") -> float:
    """``task_metrics``' loss, in numpy: MSE of the standardised targets, or the class-weighted cross-entropy."""
    y = _targets(task, split)
    if task.kind == "regression":
        return float(np.mean((output - y) ** 2))
    weights = np.ones(len(y)) if task.class_weights is None else task.class_weights.numpy()[y]
    return float(np.sum(weights * -output[np.arange(len(y)), y]) / np.sum(weights))


def _first_lowest(losses: Sequence[float]) -> int:
    """The index of the lowest loss, the first of equal ones; NaN (a failed fit) never wins unless all are."""
    return min(range(len(losses)), key=lambda i: (math.isnan(losses[i]), losses[i], i))


def _standardiser(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Standardise with the training rows' mean and standard deviation, a constant column by 1 (as scikit-learn's
    ``StandardScaler``, whose input checks cost more than the fits here)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(np.ptp(x, axis=0) > 0, scale, 1.0)
    return lambda inputs: (inputs - mean) / scale


class _RidgePath:
    """Ridge regression on standardised inputs at every strength of ``STRENGTHS`` from one SVD of the centred
    inputs: ``w(alpha) = V diag(s / (s^2 + alpha)) U^T (y - mean y)`` (Hoerl & Kennard 1970), the solution
    scikit-learn's ``Ridge`` computes one strength at a time."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.standardise = _standardiser(x)
        z = self.standardise(x)
        self.x_mean, self.y_mean = z.mean(axis=0), y.mean(axis=0)
        u, s, vt = np.linalg.svd(z - self.x_mean, full_matrices=False)
        self.v, self.shrink, self.uty = vt.T, s / (s**2 + STRENGTHS[:, None]), u.T @ (y - self.y_mean)

    def predictor(self, index: int) -> Predictor:
        coef = self.v @ (self.shrink[index][:, None] * self.uty)
        return lambda x: (self.standardise(x) - self.x_mean) @ coef + self.y_mean


def _logistic_path(x: np.ndarray, y: np.ndarray, n_classes: int) -> list[Predictor]:
    """L2 logistic regression at every strength of ``STRENGTHS``, strongest first, each fit warm-started from
    the last (the path of Friedman, Hastie & Tibshirani 2010): a weak penalty on separable classes is where a
    cold start spends its thousands of steps.

    The problem is scikit-learn's ``LogisticRegression(C=1/alpha)`` with its L-BFGS solver, to its tolerances
    (gradient 1e-4, at most ``LOGISTIC_MAX_ITER`` iterations): ``mean(loss) + ||W||^2 / (2 C n)``, the intercept
    unpenalised, a sigmoid of one score for two classes and a softmax over the classes present otherwise
    (tests/test_classical_paths.py compares the two). Solved here on numpy arrays, because scikit-learn's
    checks around each of 17 x tasks small fits took most of their time."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit, log_softmax, softmax

    standardise = _standardiser(x)
    z = np.hstack([standardise(x), np.ones((len(x), 1))])  # the last column carries the intercept
    classes = np.unique(y)
    binary = len(classes) == 2
    targets = (y == classes[1]).astype(float)[:, None] if binary else (y[:, None] == classes).astype(float)
    shape = (z.shape[1], targets.shape[1])
    n = len(y)

    def objective(flat: np.ndarray, strength: float) -> tuple[float, np.ndarray]:
        weights = flat.reshape(shape)
        scores = z @ weights
        if binary:
            loss = -np.mean(targets * log_expit(scores) + (1 - targets) * log_expit(-scores))
            residual = expit(scores) - targets
        else:
            loss = -np.mean(np.sum(targets * log_softmax(scores, axis=1), axis=1))
            residual = softmax(scores, axis=1) - targets
        penalised = weights[:-1]
        gradient = z.T @ residual / n
        gradient[:-1] += strength * penalised / n
        return loss + strength * float(np.sum(penalised**2)) / (2 * n), gradient.ravel()

    solution, fitted = np.zeros(shape).ravel(), {}
    for strength in STRENGTHS[::-1]:
        solution = minimize(objective, solution, args=(strength,), jac=True, method="L-BFGS-B",
                            options={"maxiter": LOGISTIC_MAX_ITER, "maxls": 50, "gtol": 1e-4,
                                     "ftol": 64 * np.finfo(float).eps}).x
        fitted[strength] = solution.reshape(shape)

    def predictor(weights: np.ndarray) -> Predictor:
        def log_probabilities(inputs: np.ndarray) -> np.ndarray:
            scores = standardise(inputs) @ weights[:-1] + weights[-1]
            found = np.hstack([log_expit(-scores), log_expit(scores)]) if binary else log_softmax(scores, axis=1)
            logs = np.full((len(inputs), n_classes), np.log(1e-12))
            logs[:, classes] = np.maximum(found, np.log(1e-12))
            return logs
        return log_probabilities

    return [predictor(fitted[strength]) for strength in STRENGTHS]


def _linear_path(kind: str, x: np.ndarray, y: np.ndarray, n_outputs: int) -> list[Predictor]:
    """One predictor per strength of ``STRENGTHS``: ridge for regression, L2 logistic regression otherwise."""
    if kind == "regression":
        path = _RidgePath(x, y)
        return [path.predictor(i) for i in range(len(STRENGTHS))]
    return _logistic_path(x, y, n_outputs)


def _strengths() -> list[dict]:
    return [{"alpha": float(strength)} for strength in STRENGTHS]


def _select(task: Task, predictors: list[Predictor], settings: list[dict]):
    """The candidate with the lowest validation loss of ``task``; returns its predictor and setting."""
    val = _inputs(task, "val")
    best = _first_lowest([_loss(task, predict(val)) for predict in predictors])
    predict = predictors[best]
    return (lambda t, split: predict(_inputs(t, split))), settings[best]


def _single_class(task: Task) -> bool:
    return task.kind == "classification" and len(np.unique(_targets(task, "train"))) < 2


def _fit_ridge(task: Task, seed: int):
    if _single_class(task):
        raise FamilyError(f"task {task.name!r}: one class in its training rows, a classifier cannot be fit")
    predictors = _linear_path(task.kind, _inputs(task, "train"), _targets(task, "train"), task.n_outputs)
    return _select(task, predictors, _strengths())


def _fit_boosted(task: Task, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task.kind == "regression" and task.n_outputs > 1:
        raise FamilyError(f"task {task.name!r}: hgb fits one regression output, the task has {task.n_outputs}")
    x, y = _inputs(task, "train"), _targets(task, "train")
    y = y if task.kind == "classification" else y[:, 0]
    kind = HistGradientBoostingClassifier if task.kind == "classification" else HistGradientBoostingRegressor

    def predictor(setting: dict) -> Predictor:
        model = kind(**setting, random_state=seed % 2**32).fit(x, y)
        if task.kind == "regression":
            return lambda inputs: model.predict(inputs)[:, None]
        return lambda inputs: _log_probabilities(model, inputs, task.n_outputs)

    settings = _grid(HGB_GRID)
    return _select(task, [predictor(setting) for setting in settings], settings)


def _log_probabilities(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    probabilities = np.full((len(x), n_classes), 1e-12)
    probabilities[:, model.classes_] = np.clip(model.predict_proba(x), 1e-12, None)
    return np.log(probabilities)


def _original_units(task: Task, y: np.ndarray) -> np.ndarray:
    """A regression task's standardised targets back in the column's units (``target_mean`` / ``target_std``)."""
    return y * np.asarray(task.target_std) + np.asarray(task.target_mean) if task.target_std else y


def _task_units(task: Task, y: np.ndarray) -> np.ndarray:
    """Predictions in the column's units, standardised as the task's targets are."""
    return (y - np.asarray(task.target_mean)) / np.asarray(task.target_std) if task.target_std else y


def _fit_pooled(tasks: tuple[Task, ...], indicators: bool):
    """One linear model on every task's rows, regression targets in their original units; with
    ``indicators``, a one-hot of the task is appended to the inputs."""
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
    y = np.concatenate([_original_units(t, _targets(t, "train")) for t in tasks])
    path = _linear_path(first.kind, x, y, first.n_outputs)
    val_x = [inputs(i, t, "val") for i, t in enumerate(tasks)]
    val_losses = [float(np.mean([_loss(t, _task_units(t, predict(vx))) for t, vx in zip(tasks, val_x, strict=True)]))
                  for predict in path]  # the mean over tasks of each task's validation loss
    best = _first_lowest(val_losses)
    predict, setting = path[best], _strengths()[best]
    index = {task.name: i for i, task in enumerate(tasks)}
    return [((lambda t, split: _task_units(t, predict(inputs(index[t.name], t, split)))), setting)] * len(tasks)


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
    settings = _grid(ELASTIC_NET_GRID)

    def fit_one(setting: dict):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the grid's weakest strengths
            return make_pipeline(StandardScaler(), MultiTaskElasticNet(**setting, max_iter=5000)).fit(
                _inputs(first, "train"), y)

    models = [fit_one(setting) for setting in settings]
    val = _inputs(first, "val")
    val_losses = [float(np.mean([_loss(task, outputs[:, ends[i]:ends[i + 1]]) for i, task in enumerate(tasks)]))
                  for outputs in (model.predict(val) for model in models)]  # the mean over tasks' validation losses
    best = _first_lowest(val_losses)
    model, chosen = models[best], {key: float(value) for key, value in settings[best].items()}
    return [((lambda _, split, i=i: model.predict(_inputs(first, split))[:, ends[i]:ends[i + 1]]), chosen)
            for i in range(len(tasks))]
