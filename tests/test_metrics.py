"""Per-task metrics agree with scikit-learn's, regression errors come in the target's own units, and the
primary metric, class weights and target scale travel on the Task."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as sk

from bench.data.family import FamilyError, Split, Task
from bench.metrics import HIGHER_IS_BETTER, METRICS, default_metric, task_metrics


def _task(kind: str, y: torch.Tensor, n_outputs: int, **scoring) -> Task:
    split = Split(torch.zeros(len(y), 3), y)
    return Task("t", kind, n_outputs, split, split, split, **scoring)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_classification_metrics_match_scikit_learn(n_classes):
    generator = torch.Generator().manual_seed(n_classes)
    y = torch.arange(60) % n_classes
    logits = torch.randn(60, n_classes, generator=generator) + 0.8 * F.one_hot(y, n_classes)
    found = task_metrics(_task("classification", y, n_classes), logits, y)
    probs, predicted = logits.softmax(1).numpy(), logits.argmax(1).numpy()
    auc = sk.roc_auc_score(y, probs[:, 1]) if n_classes == 2 else sk.roc_auc_score(y, probs, multi_class="ovr")
    expected = {"accuracy": sk.accuracy_score(y, predicted),
                "balanced_accuracy": sk.balanced_accuracy_score(y, predicted),
                "f1_macro": sk.f1_score(y, predicted, average="macro"), "auc": auc, "log_loss": sk.log_loss(y, probs)}
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, abs=1e-5), name
    assert set(found) == {"loss", *METRICS["classification"]} and set(found) <= set(HIGHER_IS_BETTER)


def test_balanced_accuracy_over_present_classes_and_auc_undefined_without_every_class():
    y = torch.tensor([0, 0, 0, 1, 1, 1])  # class 2 absent from this split
    logits = F.one_hot(torch.tensor([0, 0, 2, 1, 1, 0]), 3).float()
    found = task_metrics(_task("classification", y, 3), logits, y)
    predicted = logits.argmax(1).numpy()
    with pytest.warns(UserWarning):  # scikit-learn warns that a predicted class is absent from y
        assert found["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, predicted))
    assert math.isnan(found["auc"])


def test_regression_errors_in_original_units():
    generator = torch.Generator().manual_seed(0)
    y, output = torch.randn(50, 1, generator=generator), torch.randn(50, 1, generator=generator)
    task = _task("regression", y, 1, target_mean=(70.0,), target_std=(12.0,))
    found = task_metrics(task, output, y)
    actual, predicted = (y * 12 + 70).numpy(), (output * 12 + 70).numpy()
    assert found["rmse"] == pytest.approx(sk.root_mean_squared_error(actual, predicted), rel=1e-5)
    assert found["mse"] == pytest.approx(sk.mean_squared_error(actual, predicted), rel=1e-5)
    assert found["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted), rel=1e-5)
    assert found["r2"] == pytest.approx(sk.r2_score(actual, predicted), abs=1e-5)  # unchanged by the scale
    assert found["loss"] == pytest.approx(float(F.mse_loss(output, y)))  # selection stays on the standardised scale


def test_default_metric_is_auc_for_a_rare_binary_class():
    assert default_metric("classification", torch.tensor([0] * 94 + [1] * 6)) == "auc"  # Landmine-like
    assert default_metric("classification", torch.tensor([0] * 70 + [1] * 30)) == "accuracy"
    assert default_metric("classification", torch.tensor([0, 1, 2] * 10 + [2] * 90)) == "accuracy"  # not binary
    assert default_metric("regression") == "r2"
    rare = torch.tensor([0] * 19 + [1])
    assert _task("classification", rare, 2).primary_metric == "auc"
    assert _task("classification", rare, 2, metric="f1_macro").primary_metric == "f1_macro"


def test_class_weights_weigh_the_selection_loss():
    y = torch.tensor([0, 0, 0, 1])
    logits = torch.zeros(4, 2)
    logits[:, 0] = 1.0
    weights = torch.tensor([2 / 3, 2.0])
    found = task_metrics(_task("classification", y, 2, class_weights=weights), logits, y)
    assert found["loss"] == pytest.approx(float(F.cross_entropy(logits, y, weight=weights)))
    assert found["log_loss"] == pytest.approx(float(F.cross_entropy(logits, y)))  # the metric stays unweighted


@pytest.mark.parametrize(("kind", "scoring", "message"), [
    ("classification", {"metric": "rmse"}, "metric 'rmse' is invalid for classification"),
    ("classification", {"class_weights": torch.tensor([1.0])}, "class_weights must be 2 finite weights"),
    ("regression", {"target_mean": (1.0,), "target_std": (0.0,)}, "target_mean and target_std must give 1"),
])
def test_task_rejects_scoring_that_does_not_fit(kind, scoring, message):
    y = torch.tensor([0, 1, 0, 1]) if kind == "classification" else torch.zeros(4, 1)
    with pytest.raises(FamilyError, match=message):
        _task(kind, y, 2 if kind == "classification" else 1, **scoring)


def test_family_descriptors_name_each_primary_metric():
    from bench.data.family import TaskFamily

    rare = _task("classification", torch.tensor([0] * 19 + [1]), 2)
    family = TaskFamily("f", (rare,), descriptors={"n_rows": 20})
    assert family.descriptors == {"n_rows": 20, "primary_metric": {"t": "auc"}}
    assert np.isfinite(task_metrics(rare, torch.zeros(20, 2), rare.test.y)["auc"])
