"""Issue 22's fuzz suite for the files the suite reads back: any JSON a record or a choice can hold.

Each example takes real files (tests/studies.py) and replaces one place in each (a key at any depth, or the
whole file) by any JSON value, or removes a key (tests/fuzzing.py). The report either skips a file with one
warning naming it, counted on its page, or reads it and finishes; resume re-runs exactly what the report
would not read as a finished run; the tuning stage uses a stored choice only when it is a setting of the
arm's space, and otherwise tunes again. Never a traceback.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.report.render import write_reports
from bench.results import is_done, load_records
from bench.results.choices import read_choice
from bench.results.schema import choice_problem, record_problem
from bench.tuning import stage
from tests.fuzzing import fuzz, mutated, stub_figures
from tests.studies import STUDY, TUNED_SPACE


def _records(study: Path) -> list[Path]:
    return sorted((study / STUDY).glob("*.json"))


def _choice(study: Path) -> Path:
    (path,) = (study / ".tuning" / STUDY).glob("*.json")
    return path


@fuzz(6)
@given(data=st.data())
def test_the_report_reads_or_skips_every_mutated_file_in_one_line(real_study, monkeypatch, capsys, data):
    stub_figures(monkeypatch)
    victims = data.draw(st.lists(st.sampled_from(_records(real_study)), min_size=1, max_size=4, unique=True))
    if data.draw(st.booleans()):
        victims.append(_choice(real_study))
    with tempfile.TemporaryDirectory() as folder:
        root = shutil.copytree(real_study, Path(folder) / "e")
        refused = {}
        for path in victims:
            content = data.draw(mutated(json.loads(path.read_text())))
            target = root / path.relative_to(real_study)
            target.write_text(json.dumps(content))
            problem = (choice_problem if ".tuning" in target.parts else record_problem)(content)
            if problem:
                refused[target] = problem
        capsys.readouterr()
        write_reports(root, Path(folder) / "r")
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: skipping ")]
        assert sorted(warnings) == sorted(f"warning: skipping {path}: {why}" for path, why in refused.items())
        assert all("\n" not in why for why in refused.values())
        records = sum(".tuning" not in path.parts for path in refused)
        if records:
            assert f"{records} file(s) skipped, not valid run records" in (Path(folder) / "r" / "index.md").read_text()


@fuzz(150)
@given(data=st.data())
def test_resume_reruns_exactly_what_the_report_would_not_read_as_finished(real_study, capsys, data):
    path = data.draw(st.sampled_from(_records(real_study)))
    record = data.draw(mutated(json.loads(path.read_text())))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / path.name).write_text(json.dumps(record))
        capsys.readouterr()
        done = is_done(Path(folder), path.stem)
        warned = capsys.readouterr().err.strip().splitlines()
        readable = record_problem(record) is None and record["run_id"] == path.stem
        assert done == (readable and record["status"] == "ok")
        assert len(warned) == (0 if readable else 1)
        assert len(load_records(Path(folder))) == (record_problem(record) is None)


@fuzz(150)
@given(data=st.data())
def test_the_tuning_stage_uses_a_stored_choice_only_when_it_is_a_setting_of_its_space(real_study, capsys, data):
    path = _choice(real_study)
    choice = data.draw(mutated(json.loads(path.read_text())))
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        copy.write_text(json.dumps(choice))
        capsys.readouterr()
        used = read_choice(copy, TUNED_SPACE)
        warned = capsys.readouterr().err.strip().splitlines()
        if used is None:
            (line,) = warned
            assert line.startswith(f"warning: {copy}") and line.endswith("tuning again to replace it")
            return
        assert not warned and choice_problem(used) is None
        assert set(used["chosen"]) == {d.key for d in TUNED_SPACE}
        assert all(used["chosen"][d.key] in d.values for d in TUNED_SPACE)
        assert "\n" not in stage.describe(used)
