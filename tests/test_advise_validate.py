"""Nested leave-one-family-out validation: held-out predictions, baselines, regret, the page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.advise.page import write_page
from bench.advise.validate import main, noise_ceiling, oracle_regime, validate
from tests.advice_corpus import fake_corpus


@pytest.fixture(scope="module")
def corpus():
    return fake_corpus()


@pytest.fixture(scope="module")
def by_family(corpus):
    return validate(corpus, "family")


def test_every_example_is_predicted_by_heads_that_never_saw_its_family(by_family, corpus):
    mtl = by_family["predictions"]["mtl"]
    assert len(mtl) == len(corpus) and set(mtl["held_out"]) == set(corpus["family"])
    assert len(by_family["predictions"]["tl"]) == len(corpus) - 8  # the family without transfer arms
    assert set(mtl.loc[mtl["held_out"] == "f0", "majority"].round(6)) == {
        round(corpus.loc[corpus["family"] != "f0", "mtl_beats"].mean(), 6)}


def test_the_best_single_descriptor_is_found_in_the_inner_folds(by_family):
    assert (by_family["predictions"]["mtl"]["descriptor"] == "pooled_gain").all()
    assert (by_family["predictions"]["tl"]["descriptor"] == "log_target_rows").all()


def test_an_advisor_that_can_learn_beats_the_majority(by_family):
    overall = by_family["heads"].query("held_out == 'overall'").set_index(["head", "method"])
    assert overall.loc[("mtl", "advisor"), "brier"] < overall.loc[("mtl", "majority"), "brier"]
    paired = by_family["paired"].set_index(["baseline", "measure"])
    assert paired.loc[("majority", "Brier (mtl)"), "advisor"] == "better"
    assert paired.loc[("majority", "regret"), "ci_high"] < 0


def test_regret_is_what_the_recommended_regime_trails_the_best_by(by_family, corpus):
    regret = by_family["regret"]
    assert (regret[[c for c in regret if c.endswith("regret")]] >= 0).all().all()
    oracle = oracle_regime(corpus)
    assert set(oracle) == {"stl", "mtl", "tl"}
    both = corpus[(corpus["mtl_beats"] == 1) & (corpus["tl_beats"] == 1)].index
    assert (oracle[both] == "tl").all()  # TL gains 8 points where both beat STL, MTL 5


def test_the_noise_ceiling_reads_one_seed_against_its_condition(corpus):
    assert noise_ceiling(corpus) == {"mtl": pytest.approx(0.8), "tl": pytest.approx(0.9)}


def test_the_page_and_numbers_are_written(corpus, by_family, tmp_path):
    page = write_page(tmp_path, corpus, "ab" * 32, by_family, validate(corpus, "source"), noise_ceiling(corpus))
    text = page.read_text()
    for section in ("## Overall", "## Does the advisor beat its baselines?", "## Noise ceiling", "## Calibration",
                    "## Confusion matrices", "## Where the advisor is wrong", "## Leave one source out"):
        assert section in text
    assert (tmp_path / "calibration.png").stat().st_size > 1000
    numbers = json.loads((tmp_path / "validation.json").read_text())
    assert numbers["examples"] == len(corpus) and np.isfinite(numbers["advisor_over_pilot_cost"])


def test_a_missing_corpus_is_one_line(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "none.csv"), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
