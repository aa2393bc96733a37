"""Issue 22: names, values and sizes are checked before any job starts, each in one line.

Before: ``study_name=.tuning`` (or ``.pretrained``) and ``study_name='x"><img src=x onerror=alert(1)>'`` were
accepted, a symlinked study folder sent records outside ``paths.experiments``, ``trainer.lr=inf`` passed,
``data.relatedness=2`` and ``data.n_tasks=0`` wrote failed records, and the size guard did not look at a
table's file (a junk 3 GB ``data.path`` took 13 GB of memory before pandas gave up).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

import bench.config_schema  # noqa: F401 - the schemas that conf/ names
from bench.checks import ConfigError, check_config, check_data
from bench.paths import NotWritable, check_study_folder
from bench.preflight import preflight
from bench.size_guard import GIB, FamilyTooLarge, check_size
from tests.sweeping import ROOT

CONF = str(ROOT / "conf")
HTML = 'x"><img src=x onerror=alert(1)>'


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize("name", [".tuning", ".pretrained", HTML, "a b", "é", "-x", "_x", "x" * 101, ""])
def test_a_study_name_outside_the_safe_alphabet_is_refused(name):
    cfg = _compose()
    cfg.study_name = name
    with pytest.raises(ConfigError, match=r"^study_name=.* is invalid, expected up to 100 letters, digits"):
        check_config(cfg)


def test_the_html_name_is_refused_as_typed_on_the_command_line():
    cfg = _compose(f"study_name='{HTML}'")  # the shell's quotes kept for Hydra's parser, as the audit typed it
    assert cfg.study_name == HTML
    with pytest.raises(ConfigError, match="is invalid, expected up to 100 letters"):
        check_config(cfg)


@pytest.mark.parametrize("name", ["relatedness", "relatedness_mmoe", "balance_small_target", "a.b-c_1", "X" * 100])
def test_the_suite_s_own_study_names_pass(name):
    check_config(_compose(f"study_name={name}"))


def test_a_study_folder_that_links_out_of_the_experiments_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "linked").symlink_to(outside)
    with pytest.raises(NotWritable, match=rf"study folder {tmp_path / 'e' / 'linked'} is a link to {outside}"):
        check_study_folder(_compose(f"paths.experiments={tmp_path / 'e'}", "study_name=linked"))
    check_study_folder(_compose(f"paths.experiments={tmp_path / 'e'}", "study_name=plain"))


@pytest.mark.parametrize(("override", "line"), [
    ("trainer.lr=inf", "trainer.lr=inf is invalid, expected a finite number > 0"),
    ("trainer.lr=nan", "trainer.lr=nan is invalid, expected a finite number > 0"),
    ("trainer.lr=[0.01,inf]", "trainer.lr=[0.01, inf] is invalid, expected a finite number > 0"),
    ("trainer.weight_decay=inf", "trainer.weight_decay=inf is invalid, expected a finite number >= 0"),
    ("data.relatedness=2", "synthetic data: relatedness=2 is invalid, expected a number in [0, 1]"),
    ("data.n_tasks=0", "synthetic data: n_tasks=0 is invalid, expected an integer >= 1"),
    ("data.imbalance=0.5", "synthetic data: imbalance=0.5 is invalid"),
    # knobs the family added after bench.checks was written: its check_knobs covers them, unchanged here
    ("data.concept_shift=2", "synthetic data: concept_shift=2 is invalid, expected a number in [0, 1]"),
    ("data.target=task9", "synthetic data: data.target='task9' is not a task"),
])
def test_a_value_that_cannot_train_is_one_line(override, line):
    with pytest.raises(ConfigError) as raised:
        check_config(_compose(override))
    assert str(raised.value).startswith(line) and "\n" not in str(raised.value)


def test_the_protocol_s_data_key_is_neither_unknown_nor_passed_to_the_family():
    added = "+data.target_val_ratio=0.25"  # read by bench/data/validation.py, not by make_synthetic
    check_config(_compose(added), [added])


def test_the_data_check_is_the_family_s_own_found_from_its_target(monkeypatch):
    """A family adds a knob to its module's ``check_knobs``; bench.checks calls it by name, unchanged."""
    import bench.data.table

    seen = {}

    def check_knobs(targets, val_fraction, test_fraction):
        seen.update(targets=targets, val_fraction=val_fraction, test_fraction=test_fraction)
        if val_fraction + test_fraction >= 1:
            raise ValueError(f"table: val_fraction + test_fraction = {val_fraction + test_fraction}, expected < 1")

    monkeypatch.setattr(bench.data.table, "check_knobs", check_knobs, raising=False)
    check_data(_compose("data=table", "data.path=x.csv", "data.targets=y").data)
    assert seen == {"targets": "y", "val_fraction": 0.2, "test_fraction": 0.2}
    with pytest.raises(ConfigError, match=r"^table: val_fraction \+ test_fraction = 1.2"):
        check_data(_compose("data=table", "data.path=x.csv", "data.targets=y", "data.val_fraction=1.0").data)
    check_data(_compose("data=digits_tasks").data)  # a family without a check: nothing to call


def _sparse(path, size: int):
    with open(path, "wb") as handle:
        handle.truncate(size)  # a hole: the size on disk is what the guard reads, no disk space is used
    return path


def test_the_size_guard_reads_a_table_file_s_size_before_loading_it(tmp_path):
    junk = _sparse(tmp_path / "junk.csv", 3 * 2**30)
    cfg = _compose("data=table", f"data.path={junk}", "data.targets=y")
    with pytest.raises(FamilyTooLarge, match=rf"table file data.path 12.9 GiB \(data.path={junk} is 3.0 GiB on "
                                             r"disk\); use a smaller table, or a machine with more memory"):
        check_size(cfg, available=8 * GIB)
    check_size(cfg, available=16 * GIB)
    check_size(_compose("data=table", f"data.path={tmp_path / 'missing.csv'}", "data.targets=y"), available=GIB)


def test_a_bad_swept_value_stops_the_sweep_before_any_job(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.run", "-m", "hydra/launcher=basic", "regime=ridge",
                           "data.relatedness=0.5,2", f"paths.experiments={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    (error,) = done.stderr.strip().splitlines()
    assert error.startswith("error: synthetic data: relatedness=2 is invalid, expected a number in [0, 1] (in the "
                            "sweep's job"), error
    assert not list(tmp_path.rglob("*.json"))  # no job ran


def test_a_huge_table_stops_before_it_is_read_or_hashed(tmp_path):
    huge = _sparse(tmp_path / "huge.csv", 100 * 2**30)
    with pytest.raises(FamilyTooLarge, match=r"^this job needs about 430.5 GiB"):
        preflight(_compose("data=table", "data.targets=y", f"data.path={huge}", f"paths.experiments={tmp_path}"))
