import pytest
import torch

from bench.data import FamilyError, Split, Task, TaskFamily


def _split(n=4, d=3, kind="classification"):
    y = torch.zeros(n, dtype=torch.long) if kind == "classification" else torch.zeros(n, 1)
    return Split(torch.randn(n, d), y)


def _task(name="a", **overrides):
    fields = dict(name=name, kind="classification", n_outputs=2, train=_split(), val=_split(), test=_split())
    return Task(**{**fields, **overrides})


def test_valid_task_and_family():
    family = TaskFamily("f", (_task("a", role="target"), _task("b")))
    assert family.target.name == "a"
    assert [t.name for t in family.sources] == ["b"]
    assert family.input_shape == (3,)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(val=Split(torch.randn(0, 3), torch.zeros(0, dtype=torch.long))), "split 'val': split is empty"),
        (dict(train=Split(torch.full((4, 3), float("nan")), torch.zeros(4, dtype=torch.long))),
         "split 'train': inputs contain NaN"),
        (dict(test=Split(torch.randn(4, 3), torch.zeros(3, dtype=torch.long))), "split 'test': 4 inputs but 3 labels"),
        (dict(train=Split(torch.randn(4, 3), torch.full((4,), 5))), "labels must lie in [0, 2)"),
        (dict(train=Split(torch.randn(4, 3), torch.zeros(4))), "1-D int64"),
        (dict(kind="ranking"), "kind must be"),
        (dict(kind="regression", n_outputs=1, train=_split(kind="regression"), val=_split(kind="regression"),
              test=Split(torch.randn(4, 3), torch.full((4, 1), float("inf")))),
         "split 'test': targets contain NaN or inf"),
    ],
)
def test_invalid_task_names_task_and_split(overrides, message):
    with pytest.raises(FamilyError, match="task 'a'") as error:
        _task(**overrides)
    assert message in str(error.value)


def test_family_rejects_mismatched_inputs_and_duplicate_names():
    other = _task("b", train=_split(d=5), val=_split(d=5), test=_split(d=5))
    with pytest.raises(FamilyError, match="task 'b' has input shape"):
        TaskFamily("f", (_task("a"), other))
    with pytest.raises(FamilyError, match="not unique"):
        TaskFamily("f", (_task("a"), _task("a")))
    with pytest.raises(FamilyError, match="no tasks"):
        TaskFamily("f", ())
