"""The claims of DESIGN.md section 1, each tested on the study that turns its knob, with a written rule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.aggregate import StudyData, target_scores
from bench.report.paired import measured_differences, seed_differences, summarize_differences
from bench.report.stats import bootstrap_ci, slope

MIN_SEEDS = 3
TL_ARMS = ("tl-full", "tl-linear_probe")
VERDICT_RULE = (
    "Each claim predicts the sign of the trend of a paired difference (arm − STL, seed by seed) along its "
    "knob. For every seed we fit the least-squares slope of that difference on the knob (on log2 of the "
    "knob for sizes and ratios, i.e. per doubling), then take the mean slope over seeds with a 95% "
    "bootstrap CI. **supported**: the CI excludes zero on the predicted side; **contradicted**: it excludes "
    "zero on the other side; **inconclusive**: it contains zero, or fewer than "
    f"{MIN_SEEDS} seeds have the difference at two knob values or more. **not run**: the study (or the arm) "
    "has no finished runs. The differences at the smallest and largest knob value are shown as evidence "
    "but do not enter the verdict."
)


@dataclass(frozen=True)
class Claim:
    """One received-wisdom claim and the measurement that tests it."""

    number: int
    text: str
    study: str
    knob: str
    arms: tuple[str, ...]
    measure: str  # "delta_m": Delta_m% over every task; "target": target-task score difference
    expected_sign: int  # predicted sign of the slope of (arm - STL) along the knob
    log_knob: bool
    prediction: str


CLAIMS = (
    Claim(1, "MTL needs related tasks; with unrelated tasks it brings nothing or hurts.", "relatedness",
          "relatedness", ("mtl",), "delta_m", +1, False, "MTL's Δm% over STL grows with relatedness"),
    Claim(2, "MTL needs balanced data per task; a dominant task biases the shared model.", "imbalance",
          "imbalance", ("mtl",), "delta_m", -1, True, "MTL's Δm% over STL shrinks as imbalance grows"),
    Claim(3, "MTL needs consistent feature distributions across tasks.", "covariate_shift", "covariate_shift",
          ("mtl",), "delta_m", -1, False, "MTL's Δm% over STL shrinks as the tasks' inputs move apart"),
    Claim(4, "TL helps most when target data is scarce; its advantage shrinks as target data grows.",
          "target_size", "target_size", TL_ARMS, "target", -1, True,
          "TL's target-score gain over STL shrinks as target data grows"),
    # Claims 4 and 5 again on real images: digits 0-4 -> 5-9, and digits whose target images are noisy.
    Claim(4, "TL helps most when target data is scarce; its advantage shrinks as target data grows.",
          "digits", "target_size", TL_ARMS, "target", -1, True,
          "on digits 0-4 -> 5-9, TL's target-accuracy gain over STL shrinks as target data grows"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "covariate_shift", "covariate_shift", TL_ARMS, "target", -1, False,
          "TL's target-score gain over STL shrinks as the sources move away from the target"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "digits_shift", "severity", TL_ARMS, "target", -1, False,
          "on digits, TL's target-accuracy gain over STL shrinks as the target images get noisier"),
)
DESCRIPTIVE_CLAIM = (6, "MTL shares information across tasks learned together; TL reuses knowledge in sequence.")


def knob_values(values: pd.Series, log_knob: bool) -> np.ndarray:
    values = values.astype(float).to_numpy()
    return np.log2(values) if log_knob else values


def trend(differences: pd.DataFrame, knob: str, keys: list[str], log_knob: bool) -> dict:
    """Mean over seeds of the per-seed slope of the difference along ``knob``, with its 95% bootstrap CI.

    Other varied knobs, if any, stay fixed within a slope: each (seed, other knobs) is one unit.
    """
    units = ["seed", *[k for k in keys if k != knob]]
    slopes = [slope(knob_values(g[knob], log_knob), g["difference"]) for _, g in differences.groupby(units)]
    slopes = np.array([s for s in slopes if not math.isnan(s)])
    low, high = bootstrap_ci(slopes)
    return {"slope": float(slopes.mean()) if len(slopes) else float("nan"), "slope_low": low,
            "slope_high": high, "n_units": len(slopes)}


def verdict(slope_low: float, slope_high: float, n_units: int, expected_sign: int) -> str:
    """The rule of VERDICT_RULE on one measured trend."""
    if n_units < MIN_SEEDS or math.isnan(slope_low):
        return "inconclusive"
    if slope_low > 0 or slope_high < 0:
        return "supported" if (slope_low > 0) == (expected_sign > 0) else "contradicted"
    return "inconclusive"


def _row(claim: Claim, arm: str, **fields) -> dict:
    return {"claim": claim.number, "text": claim.text, "study": claim.study, "arm": arm,
            "prediction": claim.prediction, "unit": _unit(claim), **fields}


def _unit(claim: Claim) -> str:
    measure = "Δm% points" if claim.measure == "delta_m" else "score"
    return f"{measure} per doubling of {claim.knob}" if claim.log_knob else f"{measure} per unit {claim.knob}"


def evaluate_claim(claim: Claim, studies: dict[str, StudyData]) -> list[dict]:
    """One row per arm the claim concerns: the trend, the end-point differences and the verdict."""
    study = studies.get(claim.study)
    if study is None or study.tidy.empty:
        return [_row(claim, arm, verdict="not run", note=f"study `{claim.study}` has no finished runs")
                for arm in claim.arms]
    if claim.knob not in study.knobs:
        return [_row(claim, arm, verdict="inconclusive", note=f"`{claim.knob}` takes one value in the study")
                for arm in claim.arms]
    differences = measured_differences(study, claim.measure)
    rows = []
    for arm in claim.arms:
        mine = differences[differences["arm"] == arm]
        if mine.empty:
            rows.append(_row(claim, arm, verdict="not run", note=f"no `{arm}` runs paired with STL"))
            continue
        measured = trend(mine, claim.knob, study.keys, claim.log_knob)
        ends = summarize_differences(mine, study.keys).sort_values(claim.knob)
        rows.append(_row(
            claim, arm, **measured, verdict=verdict(measured["slope_low"], measured["slope_high"],
                                                    measured["n_units"], claim.expected_sign),
            low_knob=ends[claim.knob].iloc[0], low=_interval(ends.iloc[0]),
            high_knob=ends[claim.knob].iloc[-1], high=_interval(ends.iloc[-1]),
            note="" if measured["n_units"] >= MIN_SEEDS else f"only {measured['n_units']} seeds with a trend",
        ))
    return rows


def _interval(row: pd.Series) -> tuple[float, float, float, int]:
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n_pairs"])


def compare_mtl_tl(studies: dict[str, StudyData]) -> list[dict]:
    """Claim 6, descriptive: MTL - TL on the target task, per condition, in every study that ran both; one
    row per TL arm and metric (R^2 and accuracy differences are never pooled)."""
    rows = []
    text = DESCRIPTIVE_CLAIM[1]
    for tl_arm in TL_ARMS:
        base = {"claim": DESCRIPTIVE_CLAIM[0], "text": text, "arm": f"mtl vs {tl_arm}",
                "prediction": "descriptive: where does learning together beat learning in sequence?"}
        by_metric: dict[str, dict] = {}
        for name, study in sorted(studies.items()):
            if study.tidy.empty:
                continue
            scores = target_scores(study.tidy)
            scores = scores[scores["arm"].isin(["mtl", tl_arm])]
            if set(scores["arm"]) != {"mtl", tl_arm}:
                continue
            differences = seed_differences(scores, study.keys, baseline=tl_arm)
            for metric, mine in differences.groupby("metric"):
                found = by_metric.setdefault(metric, {"win": 0, "tie": 0, "loss": 0, "n/a": 0, "pooled": [],
                                                      "used": []})
                for result in summarize_differences(mine, study.keys)["outcome"]:
                    found[result] += 1
                found["pooled"].extend(mine["difference"])
                found["used"].append(name)
        if not by_metric:
            rows.append({**base, "study": "—", "verdict": "not run", "note": "no study ran both MTL and TL"})
        for metric, found in sorted(by_metric.items()):
            pooled = np.array(found.pop("pooled"))
            low, high = bootstrap_ci(pooled)
            rows.append({**base, "arm": f"mtl vs {tl_arm} ({metric})", "study": ", ".join(found.pop("used")),
                         "verdict": "descriptive", **found, "pooled": (float(pooled.mean()), low, high, len(pooled)),
                         "note": f"MTL − TL on the target's {metric} (positive: MTL better); counts are conditions "
                                 "where the 95% CI of the paired difference is above / contains / is below zero"})
    return rows


def claims_table(studies: dict[str, StudyData]) -> pd.DataFrame:
    rows = [row for claim in CLAIMS for row in evaluate_claim(claim, studies)]
    return pd.DataFrame(rows + compare_mtl_tl(studies))
