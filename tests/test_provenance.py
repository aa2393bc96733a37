"""Provenance: an edited data file defines new runs; records carry the code's commit; Hydra's quoting
errors say how to quote."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException

import bench.overrides  # noqa: F401 - the quoting hint under test
from bench.provenance import code_commit, data_file_hashes, file_digest
from bench.results.records import run_id
from bench.run import defining_config, versions

ROOT = Path(__file__).resolve().parents[1]


def _config(*overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_an_edited_table_gets_a_new_run_id(tmp_path):
    table, test = tmp_path / "t.csv", tmp_path / "t_test.csv"
    table.write_text("x,y\n1,2\n")
    test.write_text("x,y\n3,4\n")
    cfg = _config("data=table", f"data.path={table}", f"data.test_path={test}", "data.targets=y")
    before = defining_config(cfg)
    assert before["data_files"] == {"path": file_digest(table), "test_path": file_digest(test)}
    assert run_id(defining_config(cfg)) == run_id(before)  # same bytes, same run
    test.write_text("x,y\n3,5\n")
    assert run_id(defining_config(cfg)) != run_id(before)  # an edit to any file read re-runs
    assert data_file_hashes({"_target_": "bench.data.make_table", "path": str(tmp_path / "gone.csv")}) == {
        "path": "missing"}


def test_families_that_read_no_file_keep_their_run_ids():
    config = defining_config(_config())
    assert "data_files" not in config


def test_versions_store_the_package_and_the_git_commit():
    found = versions()
    assert "mtl-transfer-bench" in found and found["git_commit"] == code_commit()["git_commit"]
    assert found["git_commit"] == "unknown" or len(found["git_commit"]) == 40


@pytest.mark.parametrize(("override", "quoted"), [
    ("data.task_column=subject#", "\"data.task_column='subject#'\""),
    ("data.task_column=sübject", "\"data.task_column='sübject'\""),
    ("data.targets=[motor UPDRS,subject#]", "\"data.targets=['motor UPDRS','subject#']\""),
])
def test_hydra_lexer_errors_say_how_to_quote(override, quoted):
    with pytest.raises(OverrideParseException) as error:
        OverridesParser.create().parse_overrides([override])
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"cannot parse override {override!r}")
    assert message.endswith(quoted)
    (parsed,) = OverridesParser.create().parse_overrides([quoted.strip('"')])  # the suggestion parses
    assert "subject#" in str(parsed.value()) or "sübject" in str(parsed.value())


def test_other_override_errors_stay_hydras_own():
    with pytest.raises(OverrideParseException) as error:
        OverridesParser.create().parse_overrides(["data.targets=[a,b"])
    assert "cannot parse override" not in str(error.value)
