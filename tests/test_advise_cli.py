"""``python -m bench.advise``: an answer with its probabilities and drivers on any family, written to
reports/<study_name>/; one line for each bad input; ``--confirm`` runs a pilot and says whether it agrees."""

from __future__ import annotations

import json

import pytest

from bench.advise.__main__ import main
from bench.advise.train import train
from tests.advice_corpus import fake_corpus

TINY = ["data.n_tasks=3", "data.input_dim=6", "data.n_train=24", "data.n_val=16", "data.n_test=16"]


@pytest.fixture(scope="module")
def advisor_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("advisor") / "advisor.json"
    train(fake_corpus(), "0" * 64).save(path)
    return path


def _advise(arguments: list[str], advisor_file, tmp_path) -> int:
    return main([*arguments, "--advisor", str(advisor_file), "--out", str(tmp_path / "reports")])


def test_a_synthetic_family_gets_an_answer_with_probabilities_and_drivers(advisor_file, tmp_path, capsys):
    assert _advise([*TINY, "study_name=tiny"], advisor_file, tmp_path) == 0
    out = capsys.readouterr().out
    assert "advice for teacher-regression (3 tasks, target task0):" in out
    assert "P(MTL beats STL by > 1 Δm% point) = " in out and "what drove P(" in out and "--confirm" in out
    advice = json.loads((tmp_path / "reports" / "tiny" / "advice.json").read_text())
    assert advice["regime"] in ("stl", "mtl", "tl") and len(advice["drivers"]) == 3
    assert set(advice["probabilities"]) == {"mtl", "tl"}
    assert "| pooled_gain |" in (tmp_path / "reports" / "tiny" / "advice.md").read_text()


@pytest.mark.parametrize("arguments, message", [
    (["data=no_such_family"], "Could not find 'data/no_such_family'"),
    (["data.relatedness=2.0"], "relatedness=2.0 is invalid"),
    (["+data.colour=red"], "unknown key 'data.colour'"),
    (["data.n_tasks=1"], "has 1 task: there is nothing to share or transfer"),
])
def test_bad_input_is_one_line(arguments, message, advisor_file, tmp_path, capsys):
    assert _advise([*TINY, *arguments], advisor_file, tmp_path) == 1
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0


def test_a_corrupted_advisor_is_refused_before_anything_is_measured(advisor_file, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text(advisor_file.read_text().replace('"margin": 1.0', '"margin": 2.0'))
    assert _advise(TINY, broken, tmp_path) == 1
    err = capsys.readouterr().err
    assert "checksum does not match" in err and err.strip().count("\n") == 0


def test_confirm_runs_a_pilot_and_says_whether_it_agrees(advisor_file, tmp_path, capsys):
    arguments = [*TINY, "trainer.max_steps=20", "trainer.eval_every=10", f"paths.experiments={tmp_path / 'exp'}",
                 "study_name=tiny", "--confirm"]
    assert _advise(arguments, advisor_file, tmp_path) == 0
    out = capsys.readouterr().out
    assert "confirming run: " in out and ("agrees with the advice" in out or "DISAGREES with the advice" in out)
    confirmation = json.loads((tmp_path / "reports" / "tiny" / "advice.json").read_text())["confirmation"]
    assert confirmation["seeds"] == 3 and confirmation["agrees"] in (True, False)
