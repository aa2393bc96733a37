"""data=openml: the Parquet cache is read offline; a missing cache is fetched once, or named when it cannot be.

No test touches the network: the fetch function is replaced by one that fails or returns a small frame.
"""

from pathlib import Path
from urllib.error import URLError

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import bench.data.openml as openml
from bench.data import TableError, make_openml
from tests.test_table import school_table

ROOT = Path(__file__).resolve().parents[1]


def no_network(*args, **kwargs):
    raise AssertionError("the network was used")


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setattr(openml, "fetch_frame", no_network)
    school_table().to_parquet(openml.cache_path(tmp_path, 42), index=False)
    return tmp_path


def test_cached_data_set_is_read_offline(cached):
    family = make_openml(0, 42, data_dir=str(cached), download=False, targets=["score", "passed"],
                         exclude=["school"])
    assert family.name == "openml-42"
    assert [(t.name, t.kind) for t in family.tasks] == [("score", "regression"), ("passed", "classification")]
    assert family.descriptors["source"] == "OpenML data set 42"


def test_missing_cache_offline_says_a_download_is_needed(tmp_path, monkeypatch):
    monkeypatch.setattr(openml, "fetch_frame", no_network)
    with pytest.raises(TableError) as error:
        make_openml(0, 7, data_dir=str(tmp_path), download=False, targets="y")
    message = str(error.value)
    assert "\n" not in message
    assert f"OpenML data set 7 is not cached at {tmp_path / 'openml-7.parquet'}" in message
    assert "a download is needed" in message


def test_first_fetch_writes_the_cache_and_later_runs_read_it(tmp_path, monkeypatch):
    fetched = []

    def fake_fetch(data_id, data_dir):
        fetched.append((data_id, data_dir))
        return school_table()

    monkeypatch.setattr(openml, "fetch_frame", fake_fetch)
    first = make_openml(3, 5, data_dir=str(tmp_path / "cache"), targets="passed", task_column="school")
    assert fetched == [(5, tmp_path / "cache")]
    assert list((tmp_path / "cache").iterdir()) == [tmp_path / "cache" / "openml-5.parquet"]  # no temp file left
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cache" / "openml-5.parquet"), school_table())

    monkeypatch.setattr(openml, "fetch_frame", no_network)
    again = make_openml(3, 5, data_dir=str(tmp_path / "cache"), download=False, targets="passed",
                        task_column="school")
    for a, b in zip(first.tasks, again.tasks, strict=True):
        assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)


def test_failed_download_names_the_cache_file(tmp_path, monkeypatch):
    def offline(data_id, data_dir):
        raise URLError("no route to host")

    monkeypatch.setattr(openml, "fetch_frame", offline)
    with pytest.raises(TableError, match=r"OpenML data set 9 is not cached at .*openml-9.parquet and downloading "
                                         r"it failed \(URLError"):
        make_openml(0, 9, data_dir=str(tmp_path), targets="y")
    assert not list(tmp_path.glob("*.parquet"))


def test_openml_config_builds_from_the_cache(cached):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["data=openml", "data.data_id=42", f"data.data_dir={cached}",
                                           "data.download=false", "data.targets=score", "data.task_column=school",
                                           "data.target_size=10"])
    family = instantiate(cfg.data, seed=0)
    assert [t.name for t in family.tasks] == ["school=A", "school=B", "school=C"]
    assert family.knobs["target_size"] == 10
