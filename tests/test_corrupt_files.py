"""Issue 22: a corrupt tuning choice or pretraining-cache entry is made again, never fatal.

Before, ``{}`` in a choice file stopped every job of the study (``KeyError: 'chosen'``), a truncated or
emptied choice failed them, and a truncated ``.pt`` or an empty diagnostics ``.json`` under ``.pretrained``
failed every transfer job on every re-run with an error that did not name the file. Each is now a warning
naming the file; the job makes the entry again, and replaces the bad file.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hydra import compose, initialize_config_dir

from bench.results.choices import read_choice
from bench.results.schema import choice_problem, diagnostics_problem
from bench.run import run_job
from tests.studies import CONF, STUDY, TINY, TUNED, TUNED_SPACE

SPACE = TUNED_SPACE


@pytest.fixture
def study(real_study, tmp_path):
    return shutil.copytree(real_study, tmp_path / "e")


def _job(experiments, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return run_job(compose("config", overrides=[*TINY, f"paths.experiments={experiments}", *overrides]))


def _chosen(text: str, lr) -> str:
    return json.dumps({**json.loads(text), "chosen": {"trainer.lr": lr, "trainer.weight_decay": 0.0}})


def _choice_file(study):
    (path,) = (study / ".tuning" / STUDY).glob("*.json")
    return path


@pytest.mark.parametrize(("name", "corrupt", "expected"), [
    ("empty object", lambda text: "{}", "not a tuning choice (schema=None"),
    ("truncated", lambda text: text[: len(text) // 2], "unreadable (JSONDecodeError"),
    ("empty", lambda text: "", "unreadable (JSONDecodeError"),
    ("no chosen", lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "chosen"}),
     "chosen is missing"),
    ("another choice's", lambda text: json.dumps({**json.loads(text), "run_id": "0123456789abcdef"}),
     "is another choice's"),
    ("outside its space", lambda text: _chosen(text, 0.5), "is not a setting of its space"),
    ("a string lr", lambda text: _chosen(text, "0.01"), "is not a setting of its space"),
])
def test_a_corrupt_choice_reads_as_missing_with_one_warning(study, capsys, name, corrupt, expected):
    path = _choice_file(study)
    assert read_choice(path, SPACE)["chosen"] == json.loads(path.read_text())["chosen"]
    path.write_text(corrupt(path.read_text()))
    assert read_choice(path, SPACE) is None
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"warning: {path}") and expected in line and line.endswith("tuning again to replace it")


def test_a_tuned_job_remakes_a_corrupt_choice_from_its_stored_trials(study, capsys):
    path = _choice_file(study)
    original = json.loads(path.read_text())
    for corrupt in ("{}", path.read_text()[:100], ""):
        path.write_text(corrupt)
        for record in (study / STUDY).glob("*.json"):  # the tuned arm's records, so that the job trains again
            if json.loads(record.read_text()).get("tuning"):
                record.unlink()
        outcome = _job(study, "regime=mtl", *TUNED)
        assert outcome["status"] == "ok", outcome
        err = capsys.readouterr()
        assert f"warning: {path}" in err.err and "tuned regime=" in err.out  # made again, not read
        remade = json.loads(path.read_text())
        assert choice_problem(remade) is None
        assert remade["chosen"] == original["chosen"] and remade["trials"] == original["trials"]  # same trials


@pytest.mark.parametrize("corrupt", ["truncated pt", "foreign pt", "empty json", "wrong json"])
def test_a_corrupt_cache_entry_is_trained_again_and_replaced(study, capsys, corrupt):
    cache = study / ".pretrained"
    if corrupt.endswith("pt"):
        (path,) = cache.glob("*.pt")
        if corrupt == "truncated pt":
            path.write_bytes(path.read_bytes()[:100])
        else:
            torch.save({"state": {"x": torch.zeros(2)}, "fits": []}, path)  # well-formed, not this population's
    else:
        path = sorted(cache.glob("*.json"))[0]
        path.write_text("" if corrupt == "empty json" else json.dumps([{"probe": "x"}]))
    outcome = _job(study, "regime=tl_full", "study_name=again")  # a new study: the job runs, the cache is read
    assert outcome["status"] == "ok", outcome
    (line,) = [line for line in capsys.readouterr().err.splitlines() if str(path) in line]
    assert line.startswith(f"warning: {path}: ") and line.endswith("computing it again to replace it")
    if corrupt.endswith("pt"):
        entry = torch.load(path, weights_only=True)
        assert set(entry) == {"state", "fits"} and len(entry["fits"]) == 2
    else:
        assert diagnostics_problem(json.loads(path.read_text())) is None

