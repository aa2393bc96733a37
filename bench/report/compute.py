"""Compute accounting (issue 9): what each arm spent, with transfer's pretraining counted free and counted in.

Budgets count optimisation steps (DESIGN.md). The report's comparisons count transfer's pretraining as free: a
pretrained model comes to whoever adapts it. Under equal total compute (He, Girshick & Dollár 2019, "Rethinking
ImageNet pre-training"), the arms trained from scratch would get the pretraining's steps too. A run that stopped
early on its validation loss would not change with more steps; one that ran to its step cap might. So both views
are shown: per arm and condition, the steps and seconds on the target alone and in total, and the share of runs
that ended at their step cap. Where no scratch arm reached its cap, the two views agree.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report.aggregate import BASELINE, StudyData

PRETRAINING = "pretrain"  # a transfer record's stages: fit.pretrain, then fit.adapt
COMPUTE_RULE = (
    "Budgets count optimisation steps (one batch of every task per step). **Pretraining free** (the view of every "
    "comparison above): an arm's cost is its steps on the target side (transfer: adaptation). **Equal total "
    "compute** (He et al. 2019): pretraining counts too, so transfer spent the total shown, and STL would be "
    "owed the difference. Seconds are a population's stage wall time divided by its members (a share, on this "
    "machine). A run at its step cap might have gained from more steps; one that stopped earlier on its "
    "validation loss would not. **tuning_trials**: the settings its tuning trained per tuning-seed set before "
    "these runs (the whole common grid for every tuned arm; more where an arm's own knob came on top)."
)


def run_compute(record: dict) -> dict:
    """Steps and seconds of one run: on the target side, in pretraining, and whether it ended at its cap."""
    fit = record.get("fit") or {}
    target = fit.get("adapt") if isinstance(fit.get("adapt"), dict) else fit
    pretrain = fit.get(PRETRAINING) if isinstance(fit.get(PRETRAINING), dict) else {}
    timings = record.get("timings") or {}

    def seconds(stage: dict, fallback: float) -> float:
        if "stage_seconds" in stage:
            return stage["stage_seconds"] / max(stage.get("population_size") or 1, 1)
        return fallback

    job_share = (timings.get("train_s") or math.nan) / max(timings.get("population_size") or 1, 1)
    cap = ((record.get("config") or {}).get("trainer") or {}).get("max_steps")
    steps = target.get("steps") or 0
    return {"run_id": record["run_id"], "target_steps": steps, "pretrain_steps": pretrain.get("steps") or 0,
            "target_s": seconds(target, job_share), "pretrain_s": seconds(pretrain, 0.0),
            "at_cap": bool(cap) and steps >= cap, "tuning_trials": (record.get("tuning") or {}).get("trials", 0)}


def compute_table(study: StudyData, records: list[dict]) -> pd.DataFrame:
    """Per arm and condition: mean steps and seconds, target side and total, and the share of runs at the cap."""
    runs = pd.DataFrame([run_compute(r) for r in records if r.get("status") == "ok"])
    if runs.empty:
        return runs
    keys = study.keys
    frame = study.runs[["run_id", "arm", *keys]].merge(runs, on="run_id")
    frame = frame.assign(total_steps=frame["target_steps"] + frame["pretrain_steps"],
                         total_s=frame["target_s"] + frame["pretrain_s"])
    table = (frame.groupby(["arm", *keys], dropna=False)
             .agg(steps_target=("target_steps", "mean"), steps_total=("total_steps", "mean"),
                  seconds_target=("target_s", "mean"), seconds_total=("total_s", "mean"),
                  at_cap=("at_cap", "mean"), tuning_trials=("tuning_trials", "max"), runs=("run_id", "nunique"))
             .reset_index())
    return table


def compute_view(study: StudyData, records: list[dict]) -> tuple[list[str], pd.DataFrame] | None:
    """The rule, the sentence that says where the two views differ, and the table; None without runs."""
    table = compute_table(study, records)
    if table.empty:
        return None
    pretrained = table[table["steps_total"] > table["steps_target"]]
    if pretrained.empty:
        return [COMPUTE_RULE, "No arm pretrained here: the two views are the same."], table
    scratch = table[table["arm"] == BASELINE]
    capped = float(scratch["at_cap"].mean()) if len(scratch) else math.nan
    ratio = pretrained["steps_total"].mean() / scratch["steps_target"].mean() if len(scratch) else math.nan
    if math.isnan(capped):
        verdict = "This study has no STL runs to weigh the views against."
    elif capped == 0:
        verdict = ("No STL run reached its step cap, so more steps would not have changed STL: under equal total "
                   "compute the comparisons above stand as they are.")
    else:
        verdict = (f"{capped:.0%} of STL runs ended at their step cap: there, equal total compute would give STL "
                   "more steps than it had, so the comparisons above may favour transfer (not re-run; a larger "
                   "`trainer.max_steps` for STL measures it).")
    return [COMPUTE_RULE, f"Transfer spent {ratio:.1f}x STL's steps in total, pretraining included. {verdict}"], table
