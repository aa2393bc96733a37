"""The claims of DESIGN.md section 1, each tested on the study that turns its knob, by a written rule that reads
both ends of the knob (HOW_TO_READ; docs/statistics.md), and the table and sentences that show the verdicts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, StudyData, target_scores
from bench.report.excess import claim_evidence, task_risks
from bench.report.paired import measured_differences, seed_differences, summarize_differences
from bench.report.stats import half_width, seeds_to_resolve, simultaneous_level, t_interval, welch_p
from bench.report.tables import Table, interval, knob_text

MIN_SEEDS = 3
TL_ARMS = ("tl-full", "tl-linear_probe")
# Practical-equivalence margins, one per measure family: a change smaller than this is no effect.
MARGINS = {"delta_m": 1.0, "target": 0.01}
UNITS = {"delta_m": "Δm% points", "target": "target score (R² or accuracy)"}
FAMILY_LEVEL = 0.95
SETS_DIFFER = 0.05  # a row whose tuning-seed sets' changes differ at this Welch p is flagged


@dataclass(frozen=True)
class Claim:
    """One received-wisdom claim and the measurement that tests it."""

    number: int
    text: str
    study: str
    knob: str
    arms: tuple[str, ...]
    measure: str  # "delta_m": Delta_m% over every task; "target": target-task score difference
    expected_sign: int  # predicted sign of the change of (arm - baseline) from the smallest to the largest knob
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
# The family of simultaneous intervals: every interval a verdict reads (the difference at each end of the knob
# and the change between them) on every claim row of the design, whether its study ran or not, so that a
# verdict of `make bench` stays the same when `make bench-full` adds studies.
FAMILY_SIZE = 3 * sum(len(claim.arms) for claim in CLAIMS)
LEVEL = simultaneous_level(FAMILY_SIZE, FAMILY_LEVEL)

HOW_TO_READ = [
    "Each row tests one prediction on its study, from the paired difference **arm − STL**, seed by seed "
    "(positive: the arm is better; `A − B` rows compare two arms, Kumar et al. 2022 under claim 5). The rule "
    "reads **both ends** of the knob: the difference at the smallest and at the largest value, and the "
    "**change** between them per seed (a curve that saturates counts as much as a straight one).",
    f"Intervals are **simultaneous**: the design's {len(CLAIMS)} claim rows hold {FAMILY_SIZE // 3} (row, arm) "
    f"pairs, each read by three intervals (both ends and the change), so each is a Student-t interval at "
    f"1 − 0.05/{FAMILY_SIZE} = {LEVEL:.3%}, and all {FAMILY_SIZE} hold together at 95% (Bonferroni). The family "
    "is the design's, whichever studies ran, so a verdict does not move when `make bench-full` adds studies.",
    f"**Margins**, one unit per measure family: ±{MARGINS['delta_m']:g} Δm% point for MTL rows (the relative "
    f"change against STL over every task), ±{MARGINS['target']:g} in the target's score (R² or accuracy) for "
    "TL rows. A difference within the margin is no difference in practice.",
    "**premise fails**: at neither end does the arm beat STL beyond the margin (both intervals lie below +margin) "
    "and no knob value's mean does: the claim speaks of where the arm helps, and it helps nowhere here (e.g. "
    "negative transfer throughout). Otherwise, on the change oriented so that positive is the claim's pattern: "
    "**no effect** when its interval lies within ±margin; **supported** when it lies above zero; "
    "**contradicted** when it lies below zero; **underpowered** when it holds zero and reaches past the margin "
    "(or fewer than 3 seeds have both ends): the row says about how many seeds would resolve it, from the "
    "measured mean and per-seed spread. **resolves** is the half width of the change's interval: the smallest "
    "change these seeds can tell from zero.",
    "Tuning noise is in every interval: each evaluation seed trains with the choice of its own tuning-seed set "
    "(docs/tuning.md). ⚠ **sets differ** flags a row whose change differs between the sets' seeds (Welch "
    f"p < {SETS_DIFFER}): its verdict leans on which tuning set chose.",
    "A verdict is scoped to the family its study measured (the prediction names it). A **positive control** row "
    "uses a same-class source, where transfer must help: a negative verdict elsewhere in its family can then be "
    "laid at the source's door, not the pipeline's. Claim 6 is **descriptive**: its conditions are counted by "
    "95% intervals each (no verdict reads them), and its pooled mean is over whole seeds.",
]


@dataclass(frozen=True)
class Estimate:
    """The mean of per-seed values, its simultaneous t-interval, and what it rests on."""

    mean: float
    low: float
    high: float
    n: int
    sd: float
    level: float

    @property
    def resolves(self) -> float:
        """The interval's half width: the smallest mean these seeds can tell from zero."""
        return half_width(self.sd, self.n, self.level)


def estimate(values, level: float = LEVEL) -> Estimate:
    values = np.asarray(values, dtype=float)
    low, high = t_interval(values, level)
    return Estimate(float(values.mean()) if len(values) else math.nan, low, high, len(values),
                    float(values.std(ddof=1)) if len(values) > 1 else math.nan, level)


def per_unit(differences: pd.DataFrame, knob: str, keys: list[str]) -> pd.DataFrame:
    """One row per unit (seed, other knobs), one column per knob value: the unit's difference there."""
    units = ["seed", *[k for k in keys if k != knob]]
    return differences.pivot_table(index=units, columns=knob, values="difference", aggfunc="mean")


def verdict(at_low: Estimate, at_high: Estimate, change: Estimate, margin: float, expected_sign: int,
            best_mean: float) -> str:
    """The rule of HOW_TO_READ on the simultaneous intervals of both ends and of the change; ``best_mean`` is
    the largest mean difference over every knob value."""
    if change.n < MIN_SEEDS or math.isnan(change.low):
        return "underpowered"
    if at_low.high < margin and at_high.high < margin and best_mean < margin:
        return "premise fails"
    low, high = sorted((expected_sign * change.low, expected_sign * change.high))
    if -margin < low and high < margin:
        return "no effect"
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "underpowered"


def _row(claim: Claim, arm: str, **fields) -> dict:
    shown = arm if claim.baseline == BASELINE else f"{arm} − {claim.baseline}"
    return {"claim": claim.number, "text": claim.text, "study": claim.study, "arm": shown,
            "prediction": claim.prediction, "knob": claim.knob, "log_knob": claim.log_knob,
            "unit": UNITS[claim.measure], "margin": MARGINS[claim.measure], "excess": "", "note": "", **fields}


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


def measure_arm(claim: Claim, arm: str, differences: pd.DataFrame, study: StudyData) -> dict:
    """One row: the difference at both ends and along the knob, the change per unit, the verdict, the seeds
    that would resolve it, and how the tuning-seed sets' units compare."""
    wide = per_unit(differences, claim.knob, study.keys)
    wide = wide[sorted(wide.columns, key=float)]
    low_value, high_value = wide.columns[0], wide.columns[-1]
    changes = (wide[high_value] - wide[low_value]).dropna()
    at_low, at_high, change = estimate(wide[low_value].dropna()), estimate(wide[high_value].dropna()), estimate(changes)
    curve = [(value, estimate(wide[value].dropna())) for value in wide.columns]
    best_mean = max(e.mean for _, e in curve)
    outcome = verdict(at_low, at_high, change, MARGINS[claim.measure], claim.expected_sign, best_mean)
    needed = (seeds_to_resolve(change.mean, change.sd, change.n, LEVEL, MARGINS[claim.measure])
              if outcome == "underpowered" and change.n >= 2 else None)
    sets = _by_tuning_set(changes, study.tuning_sets)
    note = f"only {change.n} seeds with both ends" if change.n < MIN_SEEDS else ""
    return _row(claim, arm, low_knob=low_value, high_knob=high_value, at_low=at_low, at_high=at_high,
                change=change, curve=curve, verdict=outcome, seeds_needed=needed, expected_sign=claim.expected_sign,
                sets={index: float(np.mean(values)) for index, values in sets.items()}, sets_p=_sets_p(sets),
                note=note)


def _by_tuning_set(changes: pd.Series, tuning_sets: dict[int, int]) -> dict[int, list[float]]:
    """Each unit's change, grouped by the tuning-seed set its seed trained with (none when untuned)."""
    groups: dict[int, list[float]] = {}
    for unit, value in changes.items():
        seed = unit[0] if isinstance(unit, tuple) else unit
        if seed in tuning_sets:
            groups.setdefault(tuning_sets[seed], []).append(float(value))
    return groups if len(groups) > 1 else {}


def _sets_p(groups: dict[int, list[float]]) -> float:
    """Whether the sets' changes differ: the smallest pairwise Welch p, Bonferroni over the pairs."""
    pairs = [(a, b) for a in groups for b in groups if a < b]
    ps = [welch_p(groups[a], groups[b]) for a, b in pairs]
    ps = [p for p in ps if not math.isnan(p)]
    return min(1.0, len(pairs) * min(ps)) if ps else math.nan


def evaluate_claim(claim: Claim, studies: dict[str, StudyData]) -> list[dict]:
    """One row per arm the claim concerns; a measured row's ``excess`` is its excess risk over the Bayes risk at
    both ends of the knob (excess.py; empty where the family states no Bayes risk)."""
    study = studies.get(claim.study)
    if study is not None and claim.where:
        study = selected(study, claim.where)
    if study is None or study.tidy.empty:
        runs = " with " + ", ".join(f"{k}={v}" for k, v in claim.where.items()) if claim.where else ""
        return [_row(claim, arm, verdict="not run", note=f"study `{claim.study}` has no finished runs{runs}")
                for arm in claim.arms]
    if claim.knob not in study.knobs:
        return [_row(claim, arm, verdict="not run", note=f"`{claim.knob}` takes one value in the study")
                for arm in claim.arms]
    differences = claim_differences(claim, study)
    risks, scope = task_risks(study.tidy, study.bayes), "every_task" if claim.measure == "delta_m" else "target"
    rows = []
    for arm in claim.arms:
        mine = differences[differences["arm"] == arm]
        if mine.empty:
            rows.append(_row(claim, arm, verdict="not run", note=f"no `{arm}` runs paired with {claim.baseline}"))
            continue
        if mine[claim.knob].nunique() < 2:
            rows.append(_row(claim, arm, verdict="not run", note=f"`{arm}` ran at one `{claim.knob}` only"))
            continue
        rows.append({**measure_arm(claim, arm, mine, study),
                     "excess": claim_evidence(risks, study.keys, claim.knob, arm, scope)})
    return rows


def compare_mtl_tl(studies: dict[str, StudyData]) -> list[dict]:
    """Claim 6, descriptive: MTL − TL on the target task, per condition, in every study that ran both; one
    row per TL arm and metric (R^2 and accuracy differences are never pooled). The pooled mean is over whole
    seeds: each seed's mean over every condition of every study, so conditions sharing a seed are not counted
    as independent."""
    rows = []
    text = DESCRIPTIVE_CLAIM[1]
    for tl_arm in TL_ARMS:
        base = {"claim": DESCRIPTIVE_CLAIM[0], "text": text, "arm": f"mtl vs {tl_arm}", "excess": "",
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
                found = by_metric.setdefault(metric, {"win": 0, "tie": 0, "loss": 0, "n/a": 0, "per_seed": [],
                                                      "used": []})
                for result in summarize_differences(mine, study.keys)["outcome"]:
                    found[result] += 1
                found["per_seed"].append(mine[["seed", "difference"]])
                found["used"].append(name)
        if not by_metric:
            rows.append({**base, "study": "—", "verdict": "not run", "note": "no study ran both MTL and TL"})
        for metric, found in sorted(by_metric.items()):
            per_seed = pd.concat(found.pop("per_seed")).groupby("seed")["difference"].mean()
            rows.append({**base, "arm": f"mtl vs {tl_arm} ({metric})", "study": ", ".join(found.pop("used")),
                         "verdict": "descriptive", **found, "pooled": estimate(per_seed, FAMILY_LEVEL),
                         "note": f"MTL − TL on the target's {metric} (positive: MTL better); counts are conditions "
                                 "where the 95% CI of the paired difference is above / contains / is below zero"})
    return rows


def claims_table(studies: dict[str, StudyData]) -> pd.DataFrame:
    rows = [row for claim in CLAIMS for row in evaluate_claim(claim, studies)]
    return pd.DataFrame(rows + compare_mtl_tl(studies))


# --- for people: the table, one sentence per claim, the rows that need more seeds -----------------------------

def _unit_value(value: float, digits: int) -> str:
    return "—" if math.isnan(value) else f"{value:+.{digits}f}"


def _digits(row) -> int:
    return 1 if row["unit"] == UNITS["delta_m"] else 3


def _end(value, estimate_: Estimate, digits: int) -> str:
    return f"{knob_text(value)}: {interval(estimate_.mean, estimate_.low, estimate_.high, digits)}"


def _needed(row) -> int | None:
    """The seeds that would resolve an underpowered row (a table column: NaN where there is none)."""
    needed = row.get("seeds_needed")
    return int(needed) if isinstance(needed, int | float | np.number) and not math.isnan(needed) else None


def _more_seeds(row) -> str:
    needed = _needed(row)
    return f"about {needed} seeds would resolve it" if needed else "more seeds would not resolve it at this mean"


def _seeds(row) -> str:
    change: Estimate = row["change"]
    parts = [f"{change.n}"]
    if row["verdict"] == "underpowered":
        parts.append(_more_seeds(row))
    if not math.isnan(row.get("sets_p", math.nan)) and row["sets_p"] < SETS_DIFFER:
        shown = ", ".join(f"set {k}: {_unit_value(v, _digits(row))}" for k, v in sorted(row["sets"].items()))
        parts.append(f"⚠ sets differ ({shown})")
    return "; ".join(parts)


def claims_view(table: pd.DataFrame) -> Table:
    """The claims at a glance: one row per answered claim row and arm (seven columns), the rows whose study did
    not run collapsed into one line; the rule is HOW_TO_READ."""
    rows, not_run = [], []
    for _, row in table.iterrows():
        if row["verdict"] == "not run":
            not_run.append(row)
            continue
        if row["verdict"] == "descriptive":
            pooled: Estimate = row["pooled"]
            mean = interval(pooled.mean, pooled.low, pooled.high)
            rows.append({"claim": f"{int(row['claim'])} · {row['study']}", "arm": row["arm"],
                         "prediction": row["prediction"],
                         "arm − STL at the ends": f"MTL wins {int(row['win'])}, ties {int(row['tie'])}, loses "
                                                 f"{int(row['loss'])} conditions",
                         "change [simultaneous CI]": f"pooled MTL − TL {mean} (95%, over seeds)",
                         "verdict": "descriptive", "seeds": f"{pooled.n}"})
            continue
        digits = _digits(row)
        change: Estimate = row["change"]
        notes = [n for n in (row.get("note"), row.get("excess")) if isinstance(n, str) and n]
        rows.append({
            "claim": f"{int(row['claim'])} · {row['study']}", "arm": row["arm"], "prediction": row["prediction"],
            "arm − STL at the ends": f"{_end(row['low_knob'], row['at_low'], digits)}; "
                                     f"{_end(row['high_knob'], row['at_high'], digits)}",
            "change [simultaneous CI]": f"{interval(change.mean, change.low, change.high, digits)} {row['unit']}; "
                                        f"margin ±{row['margin']:g}; resolves ±{change.resolves:.{digits}f}",
            "verdict": row["verdict"], "seeds": "; ".join([_seeds(row), *notes])})
    if not_run:
        studies = sorted({row["study"] for row in not_run})
        rows.append({"claim": "—", "arm": "—", "prediction": f"{len(not_run)} more row(s) did not run here: "
                     + ", ".join(f"`{s}`" for s in studies) + " (or the runs they name); `make bench-full` runs them",
                     "arm − STL at the ends": "", "change [simultaneous CI]": "", "verdict": "not run", "seeds": ""})
    caption = (f"Paired differences arm − STL (positive: the arm is better) in each row's unit; intervals are "
               f"simultaneous over the design's {FAMILY_SIZE} verdict intervals (each at {LEVEL:.3%}). How to read: "
               "the block below the table.")
    return Table("claims", "Claims under test (DESIGN.md section 1)", caption, pd.DataFrame(rows))


def _knob_words(row) -> tuple[str, str]:
    return f"{row['knob']} {knob_text(row['low_knob'])}", f"{knob_text(row['high_knob'])}"


def sentence(row) -> str | None:
    """One plain sentence for an answered claim row, from its numbers; None for a row that did not run."""
    if row["verdict"] == "not run":
        return None
    if row["verdict"] == "descriptive":
        pooled: Estimate = row["pooled"]
        return (f"Claim 6 ({row['arm']}): across {row['study']}, MTL beats TL in {int(row['win'])} conditions, ties "
                f"in {int(row['tie'])} and loses in {int(row['loss'])}; pooled over {pooled.n} seeds MTL − TL is "
                f"{interval(pooled.mean, pooled.low, pooled.high)}.")
    digits, change = _digits(row), row["change"]
    low, high = _knob_words(row)
    ends = (f"{_unit_value(row['at_low'].mean, digits)} at {low}, {_unit_value(row['at_high'].mean, digits)} at "
            f"{high}")
    who = f"Claim {int(row['claim'])} on {row['study']} ({row['arm']})"
    measured = (f"the difference moves by {interval(change.mean, change.low, change.high, digits)} {row['unit']} "
                f"({ends}; {change.n} seeds)")
    if row["verdict"] == "premise fails":
        return (f"{who}: the premise fails — the arm never beats STL beyond the ±{row['margin']:g} margin ({ends}), "
                "so the claim has nothing to say here.")
    if row["verdict"] == "underpowered":
        return (f"{who}: underpowered — {measured}, which these seeds cannot tell apart at ±{row['margin']:g}; "
                f"{_more_seeds(row)}.")
    said = {"supported": f"supported — {row['prediction']}: {measured}",
            "contradicted": f"contradicted — the opposite of “{row['prediction']}”: {measured}",
            "no effect": f"no effect — {measured}, within the ±{row['margin']:g} margin"}[row["verdict"]]
    return f"{who}: {said}."


def sentences(table: pd.DataFrame) -> list[str]:
    """One plain sentence per answered claim row (supported, contradicted, no effect, premise fails,
    underpowered, descriptive), in the table's order; rows whose study did not run say nothing."""
    return [s for s in (sentence(row) for _, row in table.iterrows()) if s]


def needs_more_seeds(table: pd.DataFrame) -> str:
    """The sentence that says which rows would need more seeds (the underpowered ones), and about how many."""
    rows = table[table["verdict"] == "underpowered"]
    if rows.empty:
        return "No claim row is underpowered: every answered row is resolved by its seeds."
    named = [f"claim {int(r['claim'])} on {r['study']} ({r['arm']}): "
             + (f"about {_needed(r)}" if _needed(r) else "no count would") for _, r in rows.iterrows()]
    return f"{len(rows)} row(s) would need more seeds: " + "; ".join(named) + "."
