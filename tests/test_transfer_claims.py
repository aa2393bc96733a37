"""Claim rows of the transfer families: scoped to the runs they read (the positive control apart from the real
source), MNIST -> digits and the shift study measured, and Kumar et al.'s check read against fine-tuning."""

import numpy as np

from bench.report.aggregate import study_data
from bench.report.claims import CLAIMS, claims_table
from tests.test_report import _record

SIZES = (10, 30, 100, 400)


def _digits_records(gain_of) -> list[dict]:
    """Digits runs from both sources: TL's gain over STL at each target size is ``gain_of(source, size)``."""
    rng = np.random.default_rng(0)
    records = []
    for source in ("01234", "56789"):
        for size in SIZES:
            for seed in range(8):
                knobs = {"source_digits": source, "target_size": size}
                base = 0.5 + 0.05 * np.log2(size)
                records.append(_record("digits", "stl", None, seed, knobs, base + rng.normal(0, 0.001)))
                for strategy in ("full", "linear_probe"):
                    records.append(_record("digits", "tl", strategy, seed, knobs,
                                           base + gain_of(source, size) + rng.normal(0, 0.001)))
    return records


def _rows(table, study, prediction):
    return table[(table["study"] == study) & table["prediction"].str.contains(prediction, regex=False)]


def test_the_positive_control_and_the_real_source_are_judged_apart():
    # The same-class source helps at 10 images and less at 400; digits 0-4 hurt by the same amount everywhere.
    records = _digits_records(lambda source, size: 0.3 / np.log2(size) if source == "56789" else -0.1)
    table = claims_table({"digits": study_data("digits", records)})
    control = _rows(table, "digits", "positive control")
    real = _rows(table, "digits", "on digits 0-4 -> 5-9")
    assert list(control["verdict"]) == ["supported", "supported"]
    assert all(row["at_low"].low > 0.01 for _, row in control.iterrows())  # it helps where the target is scarce
    assert set(real["verdict"]) == {"premise fails"}  # hurts everywhere: the claim has nothing to say
    assert all(row["at_high"].high < 0 for _, row in real.iterrows())


def test_without_control_runs_its_row_says_so_and_the_real_source_is_still_judged():
    records = [r for r in _digits_records(lambda source, size: -0.1) if r["knobs"]["source_digits"] == "01234"]
    table = claims_table({"digits": study_data("digits", records)})
    control = _rows(table, "digits", "positive control")
    assert set(control["verdict"]) == {"not run"}
    assert all("source_digits=56789" in note for note in control["note"])
    assert set(_rows(table, "digits", "on digits 0-4 -> 5-9")["verdict"]) == {"premise fails"}


def test_mnist_digits_and_the_shift_study_have_claim_rows():
    studies = {(c.study, c.number) for c in CLAIMS}
    assert {("mnist_digits", 4), ("shift", 3), ("shift", 5)} <= studies
    table = claims_table({})
    assert set(_rows(table, "mnist_digits", "MNIST")["verdict"]) == {"not run"}


def test_kumars_check_reads_the_probe_against_fine_tuning_along_the_shift():
    """Fine-tuning loses 0.2 from no shift to shift 4, the probe 0.05, LP-FT nothing: both Kumar rows hold."""
    rng = np.random.default_rng(1)
    loss = {"full": 0.05, "linear_probe": 0.0125, "lp_ft": 0.0}
    records = []
    for shift in (0.0, 1.0, 2.0, 4.0):
        for seed in range(8):
            knobs = {"covariate_shift": shift}
            records.append(_record("shift", "stl", None, seed, knobs, 0.5 + rng.normal(0, 0.001)))
            records.append(_record("shift", "mtl", None, seed, knobs, 0.5 + rng.normal(0, 0.001)))
            for strategy, per_unit in loss.items():
                records.append(_record("shift", "tl", strategy, seed, knobs,
                                       0.8 - per_unit * shift + rng.normal(0, 0.001)))
    table = claims_table({"shift": study_data("shift", records)})
    kumar = _rows(table, "shift", "Kumar")
    assert list(kumar["arm"]) == ["tl-linear_probe − tl-full", "tl-lp_ft − tl-full"]
    assert list(kumar["verdict"]) == ["supported", "supported"]
    assert abs(kumar["change"].iloc[0].mean - 0.15) < 0.02 and abs(kumar["change"].iloc[1].mean - 0.2) < 0.02
    against_stl = _rows(table, "shift", "TL's target-score gain")
    assert dict(zip(against_stl["arm"], against_stl["verdict"], strict=True)) == {
        "tl-full": "supported", "tl-linear_probe": "supported", "tl-lp_ft": "no effect"}
