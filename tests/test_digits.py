"""Digits families (scikit-learn's bundled images): labels, splits, shifts, target sizes, every regime."""

import functools
import json
import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.data import FamilyError, make_digits_tasks, make_digits_transfer
from bench.data.digits import SHIFTS
from bench.models import CNNBackbone, MLPBackbone
from bench.regimes import MultiTask, SingleTask, Transfer
from bench.regimes.training import Training
from bench.run import run_job
from tests.conftest import run_alone

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def family():
    return make_digits_tasks(seed=0)


def test_labels_of_the_same_images(family):
    names = [t.name for t in family.tasks]
    assert names == ["identity", "parity", "ge5", "mod3", "prime"]
    assert [t.role for t in family.tasks] == ["target"] + ["source"] * 4
    identity = family.tasks[0]
    digit = identity.test.y
    expected = {"parity": digit % 2, "ge5": (digit >= 5).long(), "mod3": digit % 3,
                "prime": sum((digit == p).long() for p in (2, 3, 5, 7))}
    for task in family.tasks[1:]:
        assert torch.equal(task.test.x, identity.test.x)
        assert torch.equal(task.test.y, expected[task.name])
    assert identity.train.x.shape[1:] == (1, 8, 8)
    assert 0 <= identity.train.x.min() and identity.train.x.max() <= 1
    assert len(identity.train) + len(identity.val) + len(identity.test) == 1797


def test_tasks_knob_and_target(family):
    chosen = make_digits_tasks(seed=0, tasks=["parity", "prime"], target="prime", target_size=20)
    assert [t.name for t in chosen.tasks] == ["prime", "parity"]
    assert chosen.knobs == {"tasks": "parity,prime", "n_tasks": 2, "target": "prime", "target_size": 20}
    assert torch.bincount(chosen.target.train.y).tolist() == [12, 8]  # class-stratified: 2, 3, 5, 7 are 40%
    assert torch.equal(chosen.target.test.x, family.target.test.x)  # the same split whatever the tasks
    with pytest.raises(FamilyError, match=r"tasks=\['parity', 'odd'\] is invalid"):
        make_digits_tasks(seed=0, tasks=["parity", "odd"])
    with pytest.raises(FamilyError, match="target='identity' is not a task"):
        make_digits_tasks(seed=0, tasks=["parity"], target="identity")


def test_new_classes_transfer():
    family = make_digits_transfer(seed=1, target_size=10)
    target, source = family.tasks
    assert (target.name, target.role, source.name, source.role) == ("target_56789", "target", "source_01234", "source")
    assert torch.bincount(target.train.y).tolist() == [2] * 5  # "a handful per class"
    assert target.n_outputs == source.n_outputs == 5
    assert family.knobs["target_size"] == 10 and family.descriptors["train_sizes"][1] > 400
    whole = make_digits_transfer(seed=1)
    assert len(whole.target.train) > 400
    assert torch.equal(whole.target.test.x, target.test.x)  # target_size leaves val and test alone
    small = {bytes(x.numpy()) for x in target.train.x}
    assert small <= {bytes(x.numpy()) for x in make_digits_transfer(seed=1, target_size=40).target.train.x}


def test_shared_digits_split_images_between_source_and_target():
    family = make_digits_transfer(seed=2, source_digits=range(10), target_digits=range(10))
    sizes = [len(t.train) + len(t.val) + len(t.test) for t in family.tasks]
    assert sum(sizes) == 1797 and abs(sizes[0] - sizes[1]) < 120
    assert family.tasks[0].n_outputs == 10


@pytest.mark.parametrize("shift", [s for s in SHIFTS if s != "none"])
def test_shift_severity_moves_the_target_only(shift):
    def target_test(severity):
        family = make_digits_transfer(seed=3, source_digits=range(10), target_digits=range(10), shift=shift,
                                      severity=severity)
        return family.target.test.x, family.sources[0].test.x

    clean, clean_source = target_test(0.0)
    mild, mild_source = target_test(0.25)
    strong, _ = target_test(1.0)
    assert torch.equal(clean_source, mild_source)
    distance = [float((x - clean).abs().mean()) for x in (mild, strong)]
    assert 0 < distance[0] < distance[1]
    if shift == "inversion":
        torch.testing.assert_close(strong, 1 - clean)


def test_same_seed_same_data_and_named_errors():
    a, b = make_digits_transfer(seed=5, shift="noise", severity=0.5), make_digits_transfer(seed=5, shift="noise",
                                                                                           severity=0.5)
    assert all(torch.equal(s.x, t.x) for s, t in zip(
        [a.target.train, a.target.test], [b.target.train, b.target.test], strict=True))
    with pytest.raises(FamilyError, match="shift='fog' is invalid"):
        make_digits_transfer(seed=0, shift="fog")
    with pytest.raises(FamilyError, match=r"severity=1.5 is invalid"):
        make_digits_transfer(seed=0, shift="blur", severity=1.5)
    with pytest.raises(FamilyError, match=r"target_digits=\[5\] is invalid"):
        make_digits_transfer(seed=0, target_digits=[5])


TINY_TRAINING = Training(max_steps=50, eval_every=25, patience=2, batch_size=16)
REGIMES = [SingleTask(), MultiTask(), Transfer("full"), Transfer("linear_probe")]
BACKBONES = {"mlp": functools.partial(MLPBackbone, width=16, depth=1),
             "cnn": functools.partial(CNNBackbone, channels=(4, 8), width=16)}


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("regime", REGIMES, ids=lambda r: f"{r.name}-{r.strategy}")
def test_every_regime_runs_on_digits(regime, backbone):
    family = make_digits_transfer(seed=0, target_size=10)
    results, fit = run_alone(regime, family, BACKBONES[backbone], TINY_TRAINING, seed=0)
    target = next(r for r in results if r["role"] == "target")
    assert target["task"] == "target_56789"
    assert 0 <= target["test"]["accuracy"] <= 1 and math.isfinite(target["test"]["loss"])
    assert fit


def test_vectorised_cnn_stl_equals_each_task_alone():
    family = make_digits_tasks(seed=0, tasks=["parity", "mod3"], target_size=30)
    together, _ = run_alone(SingleTask(), family, BACKBONES["cnn"], TINY_TRAINING, seed=2)
    for task, joint in zip(family.tasks, together, strict=True):
        alone, _ = run_alone(SingleTask(), family.subset((task,)), BACKBONES["cnn"], TINY_TRAINING, seed=2)
        assert joint["test"] == pytest.approx(alone[0]["test"], rel=1e-4, abs=1e-5)


def test_multi_label_sources_need_multi_task_pretraining():
    family = make_digits_tasks(seed=0, tasks=["parity", "mod3", "prime"], target_size=20)
    with pytest.raises(FamilyError, match="use regime.pretrain=multi_task"):
        run_alone(Transfer(), family, BACKBONES["mlp"], TINY_TRAINING, seed=0)
    results, _ = run_alone(Transfer(pretrain="multi_task"), family, BACKBONES["mlp"], TINY_TRAINING, seed=0)
    assert [r["task"] for r in results] == ["parity"]


@pytest.mark.parametrize("name", ["digits_tasks", "digits_classes", "digits_shift"])
def test_data_configs_build_their_family(name):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"data={name}", "data.target_size=12", "model=cnn"])
    family = instantiate(cfg.data, seed=0)
    assert family.knobs["target_size"] == 12
    backbone = instantiate(cfg.model)(input_shape=family.input_shape, copies=2)
    assert backbone(torch.zeros(2, 3, *family.input_shape)).shape == (2, 3, cfg.model.width)


def test_digits_study_composes_and_runs_a_population_job(tmp_path):
    overrides = ["+study=digits", f"paths.experiments={tmp_path}", "regime=tl_probe", "data.target_size=10",
                 "trainer.max_steps=40", "trainer.eval_every=20", "model.width=16", "seed=[0,1]"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
        study = compose("config", overrides=["+study=digits"])
    assert list(study.seed) == list(range(10))  # a study's job trains its ten seeds as one population
    sweep = cfg.hydra.sweeper.params
    assert sweep.regime.startswith("stl,mtl,tl_full,tl_probe,ridge") and "seed" not in sweep
    assert sweep["data.target_size"].split(",")[0] == "10" and "null" in sweep["data.target_size"]
    del cfg.hydra
    summary = run_job(cfg)
    assert (summary["status"], summary["members"]) == ("ok", 2), summary["error"]
    records = sorted((json.loads(p.read_text()) for p in (tmp_path / "digits").glob("*.json")),
                     key=lambda r: r["seed"])
    assert [r["seed"] for r in records] == [0, 1]
    for record in records:
        assert (record["status"], record["study"], record["regime"]) == ("ok", "digits", "tl")
        assert record["knobs"]["target_size"] == 10 and record["knobs"]["target_digits"] == "56789"


def test_digits_shift_study_sweeps_severity_on_a_scarce_target():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["+study=digits_shift", "data.severity=0.75"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params["data.severity"].split(",") == ["0.0", "0.25", "0.5", "0.75", "1.0"]
    family = instantiate(cfg.data, seed=0)
    assert family.knobs["severity"] == 0.75 and family.knobs["shift"] == "noise"
    assert family.knobs["target_size"] == 30 and family.target.n_outputs == 10
