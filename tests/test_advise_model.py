"""The advisor's heads: they learn, calibrate out of family, recommend, and ship in a file that refuses
anything but what was written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.advise import AdviceError
from bench.advise.descriptors import DESCRIPTORS
from bench.advise.model import fit_head, load_advisor, recommend
from bench.advise.train import train
from tests.advice_corpus import fake_corpus

NAMES = list(DESCRIPTORS)


@pytest.fixture(scope="module")
def advisor():
    return train(fake_corpus(), "0" * 64)


def test_a_head_learns_the_descriptor_that_decides(advisor):
    corpus = fake_corpus(seed=1)
    x = corpus[NAMES].to_numpy(float)
    p = advisor.heads["mtl"].probability(x)
    assert np.mean((p >= 0.5) == corpus["mtl_beats"].to_numpy(bool)) > 0.85
    push = advisor.heads["mtl"].contributions(x[:1])
    assert NAMES[int(np.argmax(np.abs(advisor.heads["mtl"].coef)))] == "pooled_gain"
    assert push.shape == (len(NAMES),)
    assert advisor.heads["tl"].examples == 40  # the family without transfer arms is no TL example


def test_one_class_gives_a_constant_head_with_a_smoothed_rate():
    head = fit_head(np.zeros((6, len(NAMES))), np.zeros(6), np.arange(6))
    assert head.strength is None and head.probability(np.ones(len(NAMES)))[0] == pytest.approx(1 / 8)


def test_missing_descriptors_are_filled_with_the_training_median(advisor):
    row = np.full(len(NAMES), np.nan)
    assert 0 < advisor.heads["tl"].probability(row)[0] < 1


def test_recommend_picks_the_likelier_regime_above_one_half_else_stl():
    assert recommend({"mtl": 0.7, "tl": 0.9}) == "tl"
    assert recommend({"mtl": 0.7, "tl": np.nan}) == "mtl"
    assert recommend({"mtl": 0.4, "tl": 0.49}) == "stl"


def test_the_advisor_file_round_trips(advisor, tmp_path):
    advisor.save(tmp_path / "advisor.json")
    loaded = load_advisor(tmp_path / "advisor.json", NAMES)
    x = fake_corpus(seed=2)[NAMES].to_numpy(float)
    np.testing.assert_array_equal(loaded.heads["tl"].probability(x), advisor.heads["tl"].probability(x))
    assert loaded.corpus_sha256 == "0" * 64


def _edit_a_coefficient(text: str) -> str:
    stored = json.loads(text)
    stored["heads"]["mtl"]["coef"][0] += 1.0
    return json.dumps(stored)


@pytest.mark.parametrize("damage, why", [
    (_edit_a_coefficient, "checksum does not match"),
    (lambda text: text[: len(text) // 2], "JSONDecodeError"),
    (lambda text: "[1, 2]", "not an advisor file"),
])
def test_a_corrupted_advisor_file_is_refused_in_one_line(advisor, tmp_path, damage, why):
    path = tmp_path / "advisor.json"
    advisor.save(path)
    path.write_text(damage(path.read_text()))
    with pytest.raises(AdviceError, match=why) as error:
        load_advisor(path, NAMES)
    assert "\n" not in str(error.value) and "make advisor" in str(error.value)


def test_an_advisor_of_other_descriptors_or_none_is_refused(advisor, tmp_path):
    advisor.save(tmp_path / "advisor.json")
    with pytest.raises(AdviceError, match="trained on other descriptors"):
        load_advisor(tmp_path / "advisor.json", NAMES[::-1])
    with pytest.raises(AdviceError, match="does not exist"):
        load_advisor(tmp_path / "absent.json", NAMES)


def test_the_shipped_advisor_loads_and_names_the_shipped_corpus():
    from bench.advise.corpus import CORPUS, corpus_hash
    from bench.advise.train import ADVISOR

    shipped = load_advisor(ADVISOR, NAMES)
    assert shipped.corpus_sha256 == corpus_hash(CORPUS), "the advisor was trained on another corpus: make advisor"
