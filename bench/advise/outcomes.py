"""What happened at each condition of a study, read from its records as the report reads them.

An arm **beats STL** at a condition when its paired difference against STL (Δm%, the report's measure: the
mean over tasks of the relative change on each task's primary metric, MSE for R²; for transfer, the target
alone) has a 95% bootstrap CI above zero and a mean beyond the report's practical-equivalence margin (1 Δm%
point). Δm% is the one unit every arm shares, so the regret of a recommendation is in Δm% points too. The
MTL answer is the ``mtl`` arm's; the TL answer is the better of the two transfer strategies every study runs
(full fine-tuning and the linear probe, the report's TL arms): either beating STL makes it yes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, delta_m_scores, study_data
from bench.report.claims import MARGINS, TL_ARMS
from bench.report.paired import delta_m, summarize_differences

MARGIN = MARGINS["delta_m"]
HEADS = {"mtl": ("mtl",), "tl": TL_ARMS}
ARMS = (BASELINE, *HEADS["mtl"], *HEADS["tl"])


def arm_of(label: str) -> str:
    """An arm's label without its variant: ``tl-full[pretrain=multi_task]`` is full fine-tuning too (a family
    whose sources' classes differ must pretrain a head per source)."""
    return label.split("[", 1)[0]


def data_key(data: dict) -> str:
    """A condition's identity across studies and pilots: its STL data config, as canonical JSON."""
    return json.dumps(data, sort_keys=True, default=str)


def training_seconds(records: list[dict]) -> float:
    """What the records' jobs cost: each member's share of its job's wall time."""
    return float(sum(r["timings"]["total_s"] / max(r["timings"].get("population_size") or 1, 1)
                     for r in records if "total_s" in (r.get("timings") or {})))


def condition_outcomes(name: str, records: list[dict]) -> pd.DataFrame:
    """One row per condition of the study ``name`` that has STL: ``condition`` (its knob values, as text),
    ``data`` (the data config of its first STL record: what the descriptors draw), ``configs`` (per arm of
    ``ARMS``, the config of its first record there: what a pilot re-runs), ``seeds``, ``seconds`` (the training
    time of those arms there), and per head (``mtl``, ``tl``): ``<head>_gain`` (mean Δm%, best arm),
    ``<head>_beats`` (1/0; NaN when the condition has no arm of that head) and ``<head>_seed_share`` (the share
    of seeds whose own difference is beyond the margin: a single seed's answer)."""
    study = study_data(name, records)
    if study.tidy.empty:
        return pd.DataFrame()
    keys = study.keys
    differences = delta_m(delta_m_scores(study.tidy), keys)
    summary = summarize_differences(differences, keys) if not differences.empty else differences
    by_id = {record["run_id"]: record for record in records}
    runs = study.runs[(study.runs["status"] == "ok") & study.runs["arm"].map(arm_of).isin(ARMS)].sort_values("seed")
    rows = []
    for condition, cell in runs.groupby(keys, sort=True):
        condition = condition if isinstance(condition, tuple) else (condition,)
        if BASELINE not in set(cell["arm"]):
            continue
        knobs = dict(zip(keys, condition, strict=True))
        configs = {arm: by_id[ids.iloc[0]]["config"] for arm, ids in cell.groupby("arm")["run_id"]}
        row = {"study": name, "condition": " ".join(f"{k}={v}" for k, v in knobs.items()),
               "data": configs[BASELINE]["data"], "configs": configs,
               "seeds": int(cell.loc[cell["arm"] == BASELINE, "seed"].nunique()),
               "seconds": training_seconds([by_id[i] for i in cell["run_id"]])}
        for head, arms in HEADS.items():
            row.update(_head_outcome(head, _where(summary, knobs, arms), _where(differences, knobs, arms)))
        rows.append(row)
    return pd.DataFrame(rows)


def _where(frame: pd.DataFrame, knobs: dict, arms: tuple[str, ...]) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[np.logical_and.reduce([frame[k] == v for k, v in knobs.items()]) & frame["arm"].map(arm_of).isin(arms)]


def _head_outcome(head: str, summary: pd.DataFrame, differences: pd.DataFrame) -> dict:
    if summary.empty:
        return {f"{head}_gain": np.nan, f"{head}_beats": np.nan, f"{head}_seed_share": np.nan}
    beats = bool(((summary["ci_low"] > 0) & (summary["mean"] > MARGIN)).any())
    per_seed = differences.groupby("seed")["difference"].max() > MARGIN
    return {f"{head}_gain": float(summary["mean"].max()), f"{head}_beats": float(beats),
            f"{head}_seed_share": float(per_seed.mean())}
