"""Transferability diagnostics: statistics with known answers, probes tied to the arms they explain, and one
computation per pretrained trunk and target, whichever strategies run."""

import dataclasses

import pytest
import torch

import bench.regimes.transfer as transfer
from bench.diagnostics import dead_fraction, effective_rank
from bench.regimes import Transfer
from bench.regimes.pretrain_cache import caching_in
from tests.conftest import run_alone, tiny_family
from tests.test_transfer import DEEP


def orthonormal(n: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


@pytest.mark.parametrize("d", [1, 5, 16])
def test_the_effective_rank_of_an_orthogonal_matrix_is_its_size(d):
    assert effective_rank(3.0 * orthonormal(d, d)) == pytest.approx(d)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_the_effective_rank_of_k_equal_singular_values_is_k(k):
    features = orthonormal(40, 0)[:, :k] @ orthonormal(12, 1)[:k]  # [40, 12], rank k, singular values 1
    assert effective_rank(features) == pytest.approx(k)


def test_unequal_singular_values_count_for_less_than_their_number():
    features = orthonormal(10, 2)[:, :2] @ torch.diag(torch.tensor([10.0, 1.0], dtype=torch.float64)) \
        @ orthonormal(6, 3)[:2]
    assert 1.0 < effective_rank(features) < 2.0
    assert effective_rank(torch.zeros(5, 4)) == 0.0


def test_dead_units_are_the_columns_zero_on_every_row():
    features = torch.tensor([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0], [0.0, 4.0, 0.0, 0.0]])
    assert dead_fraction(features) == 0.5


def test_the_pretrained_probe_is_the_linear_probe_arm_and_raw_inputs_do_not_depend_on_the_source(fast_training):
    family = tiny_family("classification")
    tasks, fit = run_alone(Transfer("linear_probe"), family, DEEP, fast_training, seed=0)
    diagnostics = fit["diagnostics"]
    assert diagnostics["probe"]["pretrained"]["accuracy"] == pytest.approx(tasks[0]["test"]["accuracy"])
    _, single = run_alone(Transfer("full", pretrain="single", source="task2"), family, DEEP, fast_training, seed=0)
    assert single["diagnostics"]["probe"]["raw"] == diagnostics["probe"]["raw"]
    assert single["diagnostics"]["probe"]["random"] == diagnostics["probe"]["random"]  # the STL starting trunk
    assert single["diagnostics"]["effective_rank"]["pretrained"] != diagnostics["effective_rank"]["pretrained"]
    assert 0 < diagnostics["effective_rank"]["pretrained"] <= 16 and 0 <= diagnostics["dead_units"]["random"] <= 1


def test_each_source_in_turn_carries_its_own_diagnostics(fast_training):
    family = tiny_family("classification")
    _, fit = run_alone(Transfer("full", pretrain="single"), family, DEEP, fast_training, seed=0)
    for name, found in fit["sources"].items():
        _, alone = run_alone(Transfer("full", pretrain="single", source=name), family, DEEP, fast_training, seed=0)
        assert found["diagnostics"] == alone["diagnostics"]


def test_each_trunk_and_each_target_is_diagnosed_once(tmp_path, fast_training, monkeypatch):
    calls = []
    compute = transfer.representation
    def spy(module, trunk, skip):
        calls.append(trunk is module.backbone)
        return compute(module, trunk, skip)

    monkeypatch.setattr(transfer, "representation", spy)
    family = tiny_family("classification")
    with caching_in(tmp_path):
        found = [run_alone(Transfer(strategy), family, DEEP, fast_training, seed=0)[1]["diagnostics"]
                 for strategy in ("full", "linear_probe", "lp_ft")]
        assert calls == [True, False, False]  # pretrained, random, raw: once for the three strategies
        slower = dataclasses.replace(fast_training, lr=fast_training.lr / 10)
        tuned = run_alone(Transfer("full"), family, DEEP, slower, seed=0)[1]["diagnostics"]  # a trunk of its own
        assert calls == [True, False, False, True]  # the random trunk and raw inputs are the seed's and target's
        other = run_alone(Transfer("full"), tiny_family("classification", target_size=8), DEEP, fast_training, seed=0)
    assert found[0] == found[1] == found[2]
    assert tuned["probe"]["pretrained"] != found[0]["probe"]["pretrained"]
    assert tuned["probe"]["raw"] == found[0]["probe"]["raw"] and tuned["probe"]["random"] == found[0]["probe"]["random"]
    assert len(calls) == 7 and other[1]["diagnostics"] != found[0]  # another target is another key


def _diagnostics(pretrained: float, random: float, rank: float) -> dict:
    probes = {name: {"r2": value, "mse": 1 - value, "loss": 1 - value}
              for name, value in (("pretrained", pretrained), ("random", random), ("raw", 0.5))}
    return {"probe": probes, "effective_rank": {"pretrained": rank, "random": 12.0},
            "dead_units": {"pretrained": 0.25, "random": 0.0}}


def test_the_report_shows_each_arms_trunks_and_lists_each_single_source():
    from bench.report.aggregate import study_data
    from bench.report.diagnostics import transferability_report
    from tests.test_report import _record

    records = []
    for seed in range(4):
        for size in (8, 64):
            knobs = {"target_size": size}
            records.append(_record("sizes", "stl", None, seed, knobs, 0.6))
            for strategy, offset in (("full", 0.0), ("linear_probe", 0.05)):  # tuned: a trunk of its own each
                found = _diagnostics(0.3 + 0.1 * seed + offset, 0.7, 2.0 + seed)
                records.append({**_record("sizes", "tl", strategy, seed, knobs, 0.6), "fit": {"diagnostics": found}})
            single = _record("sizes", "tl", "full", seed, knobs, 0.6)
            records.append({**single, "run_id": single["run_id"] + "single", "variant": {"pretrain": "single"},
                            "fit": {"sources": {"task1": {"diagnostics": _diagnostics(0.9, 0.7, 9.0)},
                                                "task2": {"diagnostics": _diagnostics(0.8, 0.7, 8.0)}}}})
    text, (table,) = transferability_report(study_data("sizes", records), records)
    frame = table.frame.set_index(["arm", "source", "target_size"])
    assert sorted(set(frame.index.droplevel("target_size"))) == [
        ("tl-full", "pooled"), ("tl-full[pretrain=single]", "single: task1"),
        ("tl-full[pretrain=single]", "single: task2"), ("tl-linear_probe", "pooled")]
    assert (frame["n"] == 4).all()
    assert frame.loc[("tl-full", "pooled", "8"), "probe on pretrained"].startswith("0.450 [")  # mean of 0.3 .. 0.6
    assert frame.loc[("tl-linear_probe", "pooled", "8"), "probe on pretrained"].startswith("0.500 [")
    assert frame.loc[("tl-full", "pooled", "8"), "effective_rank pretrained"].startswith("3.5 [")
    assert frame.loc[("tl-full[pretrain=single]", "single: task1", "64"), "probe on raw"] == "0.500 [0.500, 0.500]"
    assert "falls below the random trunk's in 16 of 32" in text[1]  # the pooled trunks: 2 arms x 4 seeds x 2 sizes


def test_tuning_trials_carry_no_diagnostics(fast_training):
    """Their probes are scored on the test split, which tuning never reads."""
    from bench.regimes.transfer import without_diagnostics

    family = tiny_family("classification")
    with without_diagnostics():
        _, fit = run_alone(Transfer("full", pretrain="single"), family, DEEP, fast_training, seed=0)
    assert "diagnostics" not in fit and all("diagnostics" not in s for s in fit["sources"].values())
    assert "diagnostics" in run_alone(Transfer("full"), family, DEEP, fast_training, seed=0)[1]
