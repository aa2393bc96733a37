"""Issue 13, points 3, 8, 9 and 10: every bad value a user can type stops before anything runs, in one line
that names its key (typed schemas at composition, value checks, the size guard)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

import bench.config_schema  # noqa: F401 - the schemas that conf/ names
from bench.checks import ConfigError, check_config, check_launcher
from bench.cli import describe
from bench.size_guard import GIB, FamilyTooLarge, check_size
from tests.sweeping import ROOT

CONF = str(ROOT / "conf")


def _compose(*overrides: str, hydra: bool = False):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


def _error_line(*overrides: str) -> str:
    """The one-line error a user gets for these overrides, from composition or from the value checks."""
    try:
        cfg = _compose(*overrides)
    except HydraException as error:
        return describe(error)
    with pytest.raises(ConfigError) as raised:
        check_config(cfg, overrides)
    return str(raised.value)


@pytest.mark.parametrize(("override", "key", "expected"), [
    ("trainer.batch_size=1.5", "trainer.batch_size=1.5", "an integer"),
    ("trainer.lr=abc", "trainer.lr='abc'", "a finite number > 0"),
    ("trainer.lr=-1", "trainer.lr=-1", "a finite number > 0"),
    ("trainer.weight_decay=[0.1,x]", "trainer.weight_decay=", "a finite number >= 0"),
    ("trainer.accelerator=tpu", "trainer.accelerator='tpu'", "auto, cpu, gpu"),
    ("model.width=abc", "model.width='abc'", "an integer"),
    ("model.width=0", "model.width=0", "an integer >= 1"),
    ("trainer.max_steps=null", "trainer.max_steps=None", "not be null"),
    ("seed=-1", "seed=-1", "an integer in [0, 2**32 - 1]"),
    ("seed=abc", "seed='abc'", "an integer in [0, 2**32 - 1]"),
    ("seed=12345678901234567890", "seed=12345678901234567890", "an integer in [0, 2**32 - 1]"),
    ("seed=[0,-2]", "seed=[0, -2]", "an integer in [0, 2**32 - 1]"),
    ("seed=true", "seed=True", "an integer"),
    ("threads=0", "threads=0", "an integer >= 1"),
    ("threads=abc", "threads='abc'", "an integer"),
    ("study_name=../../x", "study_name='../../x'", "letters, digits"),
    ("study_name=a/b", "study_name='a/b'", "letters, digits"),
    ("study_name=..", "study_name='..'", "letters, digits"),
    ("+foo=1", "'foo'", "unknown key"),
    ("+trainer.foo=1", "'trainer.foo'", "unknown key"),
    ("+data.foo=1", "'data.foo'", "unknown key"),
    ("data.relatednes=1", "data.relatednes", "not a key"),
])
def test_a_bad_value_is_one_line_naming_its_key(override, key, expected):
    line = _error_line(override)
    assert "\n" not in line
    assert key in line and expected in line


def test_population_lists_and_every_shipped_config_pass():
    check_config(_compose("seed=[0,1,4294967295]", "trainer.lr=[0.001,0.003]", "trainer.weight_decay=[0,0.1]"))
    for group in ("model=cnn", "model=mlp", "regime=tl_probe", "data=digits_tasks", "+study=relatedness",
                  "+study=digits", "trainer.accelerator=cpu"):
        check_config(_compose(group))


def test_launcher_worker_count_is_checked():
    for bad in (0, -2):
        with pytest.raises(ConfigError, match=rf"hydra.launcher.n_jobs={bad} is invalid, expected an integer >= 1"):
            check_launcher(_compose(f"hydra.launcher.n_jobs={bad}", hydra=True).hydra.launcher)
    check_launcher(_compose(hydra=True).hydra.launcher)  # -1, the default: one worker per core


def test_size_guard_names_the_knobs_before_building():
    with pytest.raises(FamilyTooLarge, match=r"feature map 74.5 GiB \(data.input_dim=100000, data.feature_dim=100000"):
        check_size(_compose("data.input_dim=100000"), available=16 * GIB)
    with pytest.raises(FamilyTooLarge, match=r"data.n_tasks=1000 \(STL\)"):
        check_size(_compose("data.n_tasks=1000", "model.width=256"), available=1 * GIB)
    check_size(_compose("data.n_tasks=1000"), available=8 * GIB)  # memory is linear in the tasks now
    check_size(_compose(), available=2 * GIB)
    check_size(_compose("data=digits_tasks"), available=1 * GIB)  # file-sized families are not estimated


def _bench_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args", [
    ["trainer.batch_size=1.5"],
    ["seed=abc"],
    ["+foo=1"],
    ["data.input_dim=100000"],
    ["-m", "hydra.launcher.n_jobs=0", "seed=0,1"],
    ["-m", "hydra/launcher=basic", "seed=0,-1"],
])
def test_the_cli_stops_with_one_line_before_training(tmp_path, args):
    start = time.perf_counter()
    done = _bench_run(*args, f"paths.experiments={tmp_path}")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert not list(tmp_path.rglob("*.json"))  # nothing ran
    assert time.perf_counter() - start < 60


def test_study_name_cannot_leave_the_experiments_folder(tmp_path):
    inside = tmp_path / "experiments"
    done = _bench_run("study_name=../../escaped", f"paths.experiments={inside}")
    assert done.returncode == 1 and "study_name='../../escaped' is invalid" in done.stderr
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path.parent / "escaped").exists()
