"""Excess risk over the Bayes risk, and the strength check: is each arm near what is possible, and are the
neural arms the right tool for the study's tasks?

A synthetic task knows its Bayes risk (bench/data/bayes.py: the noise variance for regression, the Bayes
error for classification, stored per task in the record's descriptors). An arm's **risk** is its test MSE
(regression) or error rate, 1 − accuracy (classification); its **excess risk** is risk − Bayes risk; the
**gap closed** is (risk of the best classical anchor − risk of the arm) / (risk of the anchor − Bayes risk):
1 reaches the Bayes risk, 0 is no better than the best scikit-learn arm of the condition, below 0 is worse.

The **strength check** flags a study whose comparisons could not say much about sharing: tuned STL's risk at
the largest size (of the target, or of every task when no size is varied) above the best classical anchor's
(STL is the reference every arm is compared with, and it is weaker than a linear model), or no neural arm
beating per-task ridge anywhere (the study measures the wrong tool). It needs risks only, so it runs on
every study; the excess-risk tables on those whose records carry a Bayes risk. Pure functions of the tidy
data (bench/report/aggregate.py) and of the records' descriptors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.stats import bootstrap_ci

BASELINE, ANCHOR = "stl", "sklearn-ridge"  # arm labels: STL, per-task ridge
CLASSICAL = "sklearn"  # the regime of the scikit-learn arms (bench/regimes/classical.py)
RISK_COLUMNS = ("run_id", "arm", "regime", "seed", "task", "role", "kind", "split", "metric", "value")
SIZE_KNOBS = ("target_size", "n_train")  # the knob the strength check reads the largest value of, if varied
EXCESS_RULE = (
    "Risk: test MSE (regression) or error rate, 1 − accuracy (classification). Bayes risk: the least risk any "
    "learner can reach on the task (the noise variance; for classification a Monte Carlo estimate from the "
    "teacher's own probabilities, standard error about 1e-3), stated by the synthetic family. Excess risk = risk − "
    "Bayes risk, mean over seeds with its 95% bootstrap CI. Gap closed = (risk of the best classical anchor − risk "
    "of the arm) / (risk of that anchor − Bayes risk): 1 reaches the Bayes risk, 0 is no better than the best "
    "scikit-learn arm of the condition, below 0 is worse."
)
SCOPES = {"target": "the target task (every arm reports it; the mean over targets when they rotate)",
          "every_task": "every task the run reports, averaged (TL: its target)"}


def bayes_frame(records: list[dict]) -> pd.DataFrame:
    """One row per finished run and task whose family states its Bayes risk: run_id, task, bayes, bayes_se."""
    rows = []
    for record in records:
        descriptors = record.get("descriptors") or {}
        risks, errors = descriptors.get("bayes_risk"), descriptors.get("bayes_risk_se") or {}
        if record.get("status") == "ok" and isinstance(risks, dict):
            rows += [{"run_id": record["run_id"], "task": task, "bayes": float(risk),
                      "bayes_se": float(errors.get(task, np.nan))} for task, risk in risks.items()]
    return pd.DataFrame(rows, columns=["run_id", "task", "bayes", "bayes_se"])


def task_risks(tidy: pd.DataFrame, bayes: pd.DataFrame | None) -> pd.DataFrame:
    """Every run's test risk on every task (MSE, or 1 − accuracy), with the task's Bayes risk (NaN if unknown)."""
    bayes = bayes_frame([]) if bayes is None else bayes
    if tidy.empty or not set(RISK_COLUMNS) <= set(tidy.columns):
        return pd.DataFrame(columns=[*RISK_COLUMNS, "risk", "bayes"])
    test = tidy[tidy["split"] == "test"]
    mse = test[(test["kind"] == "regression") & (test["metric"] == "mse")]
    accuracy = test[(test["kind"] == "classification") & (test["metric"] == "accuracy")]
    risks = pd.concat([mse, accuracy.assign(value=1.0 - accuracy["value"])]).rename(columns={"value": "risk"})
    risks = risks.dropna(subset=["risk"]).drop(columns=["metric", "higher_is_better", "primary", "split"])
    merged = risks.merge(bayes[["run_id", "task", "bayes"]], on=["run_id", "task"], how="left")
    return merged.astype({"bayes": float})


def scoped(risks: pd.DataFrame, keys: list[str], scope: str) -> pd.DataFrame:
    """Per arm, condition and seed: the mean risk (and Bayes risk) over the scope's tasks."""
    rows = risks[risks["role"] == "target"] if scope == "target" else risks
    columns = ["arm", "regime", *keys, "seed"]
    return rows.groupby(columns, as_index=False, dropna=False).agg(risk=("risk", "mean"), bayes=("bayes", "mean"))


def excess_summary(risks: pd.DataFrame, keys: list[str], scope: str) -> pd.DataFrame:
    """Per arm and condition: mean risk, Bayes risk, excess risk with its 95% bootstrap CI over seeds, the best
    classical anchor and the share of its gap to the Bayes risk the arm closes."""
    per_seed = scoped(risks, keys, scope).assign(excess=lambda f: f["risk"] - f["bayes"])
    rows = []
    for (arm, regime, *condition), group in per_seed.groupby(["arm", "regime", *keys], sort=True, dropna=False):
        low, high = bootstrap_ci(group["excess"].to_numpy())
        rows.append({"arm": arm, "regime": regime, **dict(zip(keys, condition, strict=True)),
                     "risk": group["risk"].mean(), "bayes": group["bayes"].mean(), "excess": group["excess"].mean(),
                     "ci_low": low, "ci_high": high, "n_seeds": group["seed"].nunique()})
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    anchors = (summary[summary["regime"] == CLASSICAL].sort_values("risk")
               .groupby(keys, dropna=False, as_index=False).first()[[*keys, "arm", "risk"]]
               .rename(columns={"arm": "anchor", "risk": "anchor_risk"}))
    summary = summary.merge(anchors, on=keys, how="left")
    gap = summary["anchor_risk"] - summary["bayes"]
    return summary.assign(gap_closed=(summary["anchor_risk"] - summary["risk"]) / gap.where(gap > 0))


def excess_table(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The summary as the page shows it: one row per condition and arm."""
    return pd.DataFrame({
        "arm": summary["arm"], **{key: summary[key] for key in keys},
        "test risk": summary["risk"], "Bayes risk": summary["bayes"], "excess risk": summary["excess"],
        "excess 95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(summary["ci_low"], summary["ci_high"],
                                                                      strict=True)],
        "best classical anchor": summary["anchor"].fillna("—"), "gap closed": summary["gap_closed"],
        "n seeds": summary["n_seeds"],
    }).sort_values([*keys, "excess risk"]).reset_index(drop=True)


def largest_size(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows at the largest value of the study's size knob (every row when it varies none)."""
    size = next((knob for knob in SIZE_KNOBS if knob in keys), None)
    return summary if size is None else summary[summary[size] == summary[size].max()]


def strength_warnings(risks: pd.DataFrame, keys: list[str]) -> list[str]:
    """The strength check's ⚠ lines (none when the study passes or lacks the arms a check needs)."""
    warnings = []
    every = largest_size(excess_summary(risks, keys, "every_task"), keys)
    measure = "excess risk" if every["bayes"].notna().all() else "test risk"
    for _, row in every[every["arm"] == BASELINE].iterrows():
        if pd.notna(row["anchor_risk"]) and row["risk"] > row["anchor_risk"]:
            where = ", ".join(f"{k}={row[k]}" for k in keys)
            warnings.append(f"⚠ Strength check: tuned STL's {measure} at the largest size ({where}, every task) "
                            f"exceeds the best classical anchor's ({row['anchor']}): risk {row['risk']:.3f} against "
                            f"{row['anchor_risk']:.3f}. STL, the reference every arm is compared with, is weaker "
                            "than a linear model here.")
    beating = neural_wins_over_ridge(risks, keys)
    if beating is not None and not beating:
        warnings.append("⚠ Strength check: no neural arm beats per-task ridge anywhere in this study (paired 95% "
                        "CI of ridge − arm on the target task above zero in no condition): the study measures the "
                        "wrong tool, and what it says of sharing is said of networks weaker than a linear model.")
    return warnings


def neural_wins_over_ridge(risks: pd.DataFrame, keys: list[str]) -> list[tuple] | None:
    """(arm, condition) pairs where a neural arm's target risk beats per-task ridge's, paired by seed with a 95%
    bootstrap CI above zero; None when the study has no ridge arm or no neural arm."""
    per_seed = scoped(risks, keys, "target")
    ridge = per_seed[per_seed["arm"] == ANCHOR]
    neural = per_seed[per_seed["regime"] != CLASSICAL]
    if ridge.empty or neural.empty:
        return None
    paired = neural.merge(ridge[[*keys, "seed", "risk"]], on=[*keys, "seed"], suffixes=("", "_ridge"))
    wins = []
    for (arm, *condition), group in paired.groupby(["arm", *keys], dropna=False):
        low, _ = bootstrap_ci((group["risk_ridge"] - group["risk"]).to_numpy())
        if low > 0:
            wins.append((arm, *condition))
    return wins


def claim_evidence(risks: pd.DataFrame, keys: list[str], knob: str, arm: str, scope: str) -> str:
    """One line for the claims table: the arm's, STL's and the best anchor's excess risk at both ends of the
    knob (mean over the other knobs' values), in the claim's scope; empty without a Bayes risk."""
    summary = excess_summary(risks, keys, scope) if not risks.empty else pd.DataFrame()
    if summary.empty or summary["bayes"].isna().any() or knob not in summary:
        return ""
    ends = [summary[knob].min(), summary[knob].max()]

    def at_ends(rows: pd.DataFrame, column: str) -> str:
        values = [rows.loc[rows[knob] == end, column].mean() for end in ends]
        return " → ".join(f"{v:.3f}" for v in values)

    anchor = summary.drop_duplicates([*keys])
    shown = [f"{name} {at_ends(summary[summary['arm'] == name], 'excess')}" for name in dict.fromkeys([arm, BASELINE])
             if name in set(summary["arm"])]
    anchor_excess = anchor.assign(anchor_excess=anchor["anchor_risk"] - anchor["bayes"])
    return (f"excess risk over Bayes ({scope.replace('_', ' ')}, {knob} {ends[0]} → {ends[1]}): " + ", ".join(shown)
            + f", best anchor {at_ends(anchor_excess, 'anchor_excess')}; Bayes {at_ends(anchor, 'bayes')}")
