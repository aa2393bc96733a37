"""Cached pretraining: a hit restores exactly what training would produce; any change of recipe misses."""

import functools

import bench.regimes.transfer as transfer
from bench.models import MLPBackbone
from bench.regimes import Transfer
from bench.regimes.pretrain_cache import caching_in
from bench.regimes.training import Training
from tests.conftest import run_alone, tiny_family

DEEP = functools.partial(MLPBackbone, width=16, depth=2)


def _without_cache_note(result):
    tasks, fit = result
    return tasks, {**fit, "pretrain": {k: v for k, v in fit["pretrain"].items()
                                       if k not in ("cached", "stage_seconds", "population_size")},
                   "adapt": {k: v for k, v in fit["adapt"].items() if k not in ("stage_seconds", "population_size")}}


def test_a_cached_trunk_gives_the_results_of_pretraining_again(tmp_path, fast_training, monkeypatch):
    family = tiny_family("classification")
    uncached = run_alone(Transfer("lp_ft"), family, DEEP, fast_training, seed=0)
    trained = []
    original = transfer.train_jointly
    monkeypatch.setattr(transfer, "train_jointly", lambda *a, **k: trained.append(1) or original(*a, **k))
    with caching_in(tmp_path):
        first = run_alone(Transfer("lp_ft"), family, DEEP, fast_training, seed=0)
        second = run_alone(Transfer("full"), family, DEEP, fast_training, seed=0)  # another strategy, same trunk
        again = run_alone(Transfer("lp_ft"), family, DEEP, fast_training, seed=0)
    assert len(trained) == 1 and len(list(tmp_path.glob("*.pt"))) == 1
    assert "cached" not in first[1]["pretrain"] and again[1]["pretrain"]["cached"] is True
    assert second[1]["pretrain"]["cached"] is True
    assert _without_cache_note(again) == _without_cache_note(first) == _without_cache_note(uncached)


def test_a_change_of_recipe_misses(tmp_path, fast_training):
    family = tiny_family("classification")
    with caching_in(tmp_path):
        run_alone(Transfer("full"), family, DEEP, fast_training, seed=0)
        for changed in (dict(seed=1), dict(family=tiny_family("classification", relatedness=0.1)),
                        dict(backbone=functools.partial(MLPBackbone, width=8, depth=2)),
                        dict(training=Training(max_steps=100, eval_every=20, patience=3, batch_size=16))):
            args = dict(family=family, backbone=DEEP, training=fast_training, seed=0) | changed
            _, fit = run_alone(Transfer("full"), args["family"], args["backbone"], args["training"], args["seed"])
            assert "cached" not in fit["pretrain"], changed
    assert len(list(tmp_path.glob("*.pt"))) == 5
