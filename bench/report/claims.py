"""The claims of DESIGN.md section 1, each tested on the study that turns its knob, with a written rule."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, StudyData, target_scores
from bench.report.excess import claim_evidence, task_risks
from bench.report.paired import measured_differences, seed_differences, summarize_differences
from bench.report.stats import bootstrap_ci, slope

MIN_SEEDS = 3
TL_ARMS = ("tl-full", "tl-linear_probe")
# Practical-equivalence margins: a change smaller than this, in the claim's measure, is no effect.
MARGINS = {"delta_m": 1.0, "target": 0.01}
FAMILY_LEVEL = 0.95  # simultaneous coverage over every claim row of the table (Bonferroni)
VERDICT_RULE = (
    "Each claim predicts how a paired difference (arm − STL, seed by seed, positive = the arm is better) "
    "changes along its knob. The verdict rests on the **change from the smallest to the largest knob "
    "value**, per seed (so a curve that saturates counts as much as a straight one), averaged over seeds "
    "with a bootstrap CI whose level is Bonferroni-adjusted over the k claim rows of this table "
    "(simultaneous 95%: each at 1 − 0.05/k). **no effect**: the CI lies within the practical-equivalence "
    f"margin (±{MARGINS['delta_m']:g} Δm% point, ±{MARGINS['target']:g} score); **supported**: otherwise, "
    "the CI excludes zero on the predicted side; **contradicted**: it excludes zero on the other side; "
    f"**inconclusive**: it contains zero, or fewer than {MIN_SEEDS} seeds have both ends. **not run**: the "
    "study (or the arm) has no finished runs. **overall** says whether the arm beats STL at all, averaged "
    "over the knob's values with the same simultaneous CI and margin: helps / hurts / no effect / unclear. "
    "The least-squares slope per seed (per doubling for sizes and ratios) and the differences at both ends "
    "are shown as evidence. A verdict is scoped to the family its study measured (the prediction names it). "
    "Rows whose arm reads `A − B` compare two arms instead of an arm and STL (Kumar et al. 2022, under claim "
    "5). A **positive control** row uses a same-class source, where transfer must help: a negative verdict "
    "elsewhere in its family can then be laid at the source's door, not the pipeline's."
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
    expected_sign: int  # predicted sign of the slope of (arm - baseline) along the knob
    log_knob: bool
    prediction: str
    baseline: str = BASELINE  # the arm differences are taken against (target measure only when not STL)
    where: dict[str, str] = field(default_factory=dict)  # runs of the study this row reads: knob -> value


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
    # Claims 4 and 5 again on real images: digits 0-4 -> 5-9 (with its same-class positive control, digits 5-9
    # on other images: `make bench-full`), MNIST -> UCI digits, and digits whose target images are noisy.
    Claim(4, "TL helps most when target data is scarce; its advantage shrinks as target data grows.",
          "digits", "target_size", TL_ARMS, "target", -1, True,
          "on digits 0-4 -> 5-9, TL's target-accuracy gain over STL shrinks as target data grows",
          where={"source_digits": "01234"}),
    Claim(4, "TL helps most when target data is scarce; its advantage shrinks as target data grows.",
          "digits", "target_size", TL_ARMS, "target", -1, True,
          "positive control for digits 0-4 -> 5-9: from digits 5-9 on other images (the target's own classes), "
          "TL's target-accuracy gain over STL shrinks as target data grows", where={"source_digits": "56789"}),
    Claim(4, "TL helps most when target data is scarce; its advantage shrinks as target data grows.",
          "mnist_digits", "target_size", TL_ARMS, "target", -1, True,
          "on MNIST -> UCI digits (an abundant same-class source, other writers and scanning), TL's "
          "target-accuracy gain over STL shrinks as target data grows"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "covariate_shift", "covariate_shift", TL_ARMS, "target", -1, False,
          "TL's target-score gain over STL shrinks as the sources move away from the target"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "digits_shift", "severity", TL_ARMS, "target", -1, False,
          "on digits, TL's target-accuracy gain over STL shrinks as the target images get noisier"),
    # The shift study: abundant sources, a scarce target, the sources moved away from it (conf/study/shift.yaml).
    Claim(3, "MTL needs consistent feature distributions across tasks.", "shift", "covariate_shift", ("mtl",),
          "delta_m", -1, False, "with abundant sources and a scarce target, MTL's Δm% over STL shrinks as the "
          "sources' inputs move away from the target's"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "shift", "covariate_shift", (*TL_ARMS, "tl-lp_ft"), "target", -1, False,
          "with abundant sources and a scarce target, TL's target-score gain over STL shrinks as the sources "
          "move away from the target"),
    # Kumar et al. 2022 ("Fine-Tuning can Distort Pretrained Features"): out of distribution, a linear probe
    # beats full fine-tuning, and LP-FT keeps the best of both. Here "out of distribution" is the sources'
    # shift from the target (the target trains and tests on one distribution), a proxy for their setting.
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "shift", "covariate_shift", ("tl-linear_probe",), "target", +1, False,
          "Kumar et al. 2022: the linear probe degrades less than full fine-tuning as the shift grows "
          "(probe − fine-tuning grows)", baseline="tl-full"),
    Claim(5, "TL must cope with source/target shift; the larger the shift, the smaller the benefit.",
          "shift", "covariate_shift", ("tl-lp_ft",), "target", +1, False,
          "Kumar et al. 2022: LP-FT degrades less than full fine-tuning as the shift grows (LP-FT − fine-tuning "
          "grows)", baseline="tl-full"),
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


def verdict(change_low: float, change_high: float, margin: float, n_units: int, expected_sign: int) -> str:
    """The rule of VERDICT_RULE on the (simultaneous) CI of one end-to-end change."""
    if n_units < MIN_SEEDS or math.isnan(change_low):
        return "inconclusive"
    if -margin < change_low and change_high < margin:
        return "no effect"
    if change_low > 0 or change_high < 0:
        return "supported" if (change_low > 0) == (expected_sign > 0) else "contradicted"
    return "inconclusive"


def overall_effect(low: float, high: float, margin: float) -> str:
    """Whether the arm beats STL at all, from the CI of its mean difference over the knob's values."""
    if math.isnan(low):
        return "unclear"
    if -margin < low and high < margin:
        return "no effect"
    return "helps" if low > 0 else "hurts" if high < 0 else "unclear"


def end_to_end(differences: pd.DataFrame, knob: str, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (seed, other knobs): the difference at the largest knob value minus at the smallest, and
    the mean difference over every knob value. Units missing either end give no change."""
    units = ["seed", *[k for k in keys if k != knob]]
    changes, levels = [], []
    low_value, high_value = differences[knob].min(), differences[knob].max()
    for _, group in differences.groupby(units):
        by_knob = group.groupby(knob)["difference"].mean()
        levels.append(float(by_knob.mean()))
        if low_value in by_knob.index and high_value in by_knob.index and low_value != high_value:
            changes.append(float(by_knob[high_value] - by_knob[low_value]))
    return np.array(changes), np.array(levels)


def _row(claim: Claim, arm: str, **fields) -> dict:
    shown = arm if claim.baseline == BASELINE else f"{arm} − {claim.baseline}"
    return {"claim": claim.number, "text": claim.text, "study": claim.study, "arm": shown,
            "prediction": claim.prediction, "unit": _unit(claim), **fields}


def claim_differences(claim: Claim, study: StudyData) -> pd.DataFrame:
    """Per-seed differences of the claim's arms against its baseline, on the runs its ``where`` selects."""
    if claim.baseline == BASELINE:
        return measured_differences(study, claim.measure)
    return seed_differences(target_scores(study.tidy), study.keys, baseline=claim.baseline)


def selected(study: StudyData, where: dict[str, str]) -> StudyData:
    """The study restricted to the runs whose knobs match ``where`` (compared as text); those knobs no
    longer vary."""
    tidy = study.tidy
    for knob, value in where.items():
        tidy = tidy[tidy[knob].astype(str) == value] if knob in tidy else tidy.iloc[:0]
    return dataclasses.replace(study, tidy=tidy, knobs=[k for k in study.knobs if k not in where])


def _unit(claim: Claim) -> str:
    measure = "Δm% points" if claim.measure == "delta_m" else "score"
    return f"{measure} per doubling of {claim.knob}" if claim.log_knob else f"{measure} per unit {claim.knob}"


def evaluate_claim(claim: Claim, studies: dict[str, StudyData]) -> list[dict]:
    """One row per arm the claim concerns: the trend, the end-point differences and the verdict."""
    study = studies.get(claim.study)
    if study is not None and claim.where:
        study = selected(study, claim.where)
    if study is None or study.tidy.empty:
        runs = " with " + ", ".join(f"{k}={v}" for k, v in claim.where.items()) if claim.where else ""
        return [_row(claim, arm, verdict="not run", note=f"study `{claim.study}` has no finished runs{runs}")
                for arm in claim.arms]
    if claim.knob not in study.knobs:
        return [_row(claim, arm, verdict="inconclusive", note=f"`{claim.knob}` takes one value in the study")
                for arm in claim.arms]
    differences = claim_differences(claim, study)
    risks, scope = task_risks(study.tidy, study.bayes), "every_task" if claim.measure == "delta_m" else "target"
    rows = []
    for arm in claim.arms:
        mine = differences[differences["arm"] == arm]
        if mine.empty:
            rows.append(_row(claim, arm, verdict="not run", note=f"no `{arm}` runs paired with {claim.baseline}"))
            continue
        measured = trend(mine, claim.knob, study.keys, claim.log_knob)
        ends = summarize_differences(mine, study.keys).sort_values(claim.knob)
        changes, levels = end_to_end(mine, claim.knob, study.keys)
        rows.append(_row(
            claim, arm, **measured, changes=changes, levels=levels, margin=MARGINS[claim.measure],
            expected_sign=claim.expected_sign,
            low_knob=ends[claim.knob].iloc[0], low=_interval(ends.iloc[0]),
            high_knob=ends[claim.knob].iloc[-1], high=_interval(ends.iloc[-1]),
            note="" if len(changes) >= MIN_SEEDS else f"only {len(changes)} seeds with both ends",
            excess=claim_evidence(risks, study.keys, claim.knob, arm, scope),
        ))
    return rows


def judge(rows: list[dict], family_level: float = FAMILY_LEVEL) -> list[dict]:
    """Verdicts on every measured row, each CI at the Bonferroni level that keeps the table's rows
    simultaneously at ``family_level``."""
    measured = [row for row in rows if "changes" in row]
    level = 1 - (1 - family_level) / max(len(measured), 1)
    for row in measured:
        changes, levels = row.pop("changes"), row.pop("levels")
        low, high = bootstrap_ci(changes, level=level)
        row.update(change=float(changes.mean()) if len(changes) else float("nan"), change_low=low,
                   change_high=high, n_units=len(changes), level=level,
                   verdict=verdict(low, high, row["margin"], len(changes), row["expected_sign"]))
        level_low, level_high = bootstrap_ci(levels, level=level)
        row.update(overall=overall_effect(level_low, level_high, row["margin"]),
                   overall_mean=float(levels.mean()) if len(levels) else float("nan"),
                   overall_low=level_low, overall_high=level_high)
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
    rows = judge([row for claim in CLAIMS for row in evaluate_claim(claim, studies)])
    return pd.DataFrame(rows + compare_mtl_tl(studies))
