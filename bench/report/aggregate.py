"""From run records to the study's tidy tables: arms, conditions, scores, summaries and missing runs."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.metrics import PRIMARY_METRIC
from bench.report.stats import bootstrap_ci
from bench.results import runs_table, tidy

NON_KNOB_COLUMNS = {
    "run_id", "study", "regime", "strategy", "label", "arm", "weighting", "seed", "status", "task", "role",
    "kind", "split", "metric", "value", "higher_is_better", "error",
}
# Delta_m needs a ratio scale: R^2 can be zero or negative, so regression tasks enter by their MSE.
DELTA_M_METRIC = {"classification": "accuracy", "regression": "mse"}
BASELINE = "stl"


@dataclass(frozen=True)
class StudyData:
    """One study's records as tables: ``runs`` (one row per run, failed ones too) and ``tidy`` (ok runs)."""

    name: str
    runs: pd.DataFrame
    tidy: pd.DataFrame
    knobs: list[str]

    @property
    def keys(self) -> list[str]:
        """The columns that name a condition: the varied knobs, or the study itself when none varies."""
        return self.knobs or ["study"]


def weighting_of(record: dict) -> str | None:
    """The MTL weighting method a record names (top level, or in its regime config), if any."""
    weighting = record.get("weighting") or record.get("config", {}).get("regime", {}).get("weighting")
    if isinstance(weighting, dict):
        weighting = str(weighting.get("name") or weighting.get("_target_", "?")).rsplit(".", 1)[-1]
    return weighting


def _with_config_knobs(records: list[dict]) -> list[dict]:
    """Failed runs that died before building their data carry no knobs: take them from their data config."""
    known = {key for r in records for key in r.get("knobs", {})}
    repaired = []
    for record in records:
        if "knobs" not in record:
            data = record.get("config", {}).get("data", {})
            record = {**record, "knobs": {k: v for k, v in data.items() if k in known and v is not None}}
        repaired.append(record)
    return repaired


def _add_arms(frame: pd.DataFrame, weightings: dict[str, str | None]) -> pd.DataFrame:
    """``arm`` = the regime label, split by weighting method only where a study compares several."""
    frame = frame.assign(weighting=frame["run_id"].map(weightings))
    methods = frame.loc[frame["regime"] == "mtl", "weighting"].dropna().unique()
    several = len(methods) > 1
    arm = [f"{label}-{w}" if several and regime == "mtl" and isinstance(w, str) else label
           for label, regime, w in zip(frame["label"], frame["regime"], frame["weighting"], strict=True)]
    return frame.assign(arm=arm)


def study_data(name: str, records: list[dict]) -> StudyData:
    records = _with_config_knobs(records)
    weightings = {r["run_id"]: weighting_of(r) for r in records}
    runs = _add_arms(runs_table(records), weightings)
    data = tidy(records)
    data = _add_arms(data, weightings) if not data.empty else data
    return StudyData(name, runs, data, varied_knobs(runs[runs["status"] == "ok"]))


def varied_knobs(runs: pd.DataFrame) -> list[str]:
    """Knob columns that take more than one value in a study: its x axes."""
    knobs = [c for c in runs.columns if c not in NON_KNOB_COLUMNS]
    return [k for k in knobs if runs[k].astype(str).nunique() > 1]


def target_scores(tidy_frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The primary metric (accuracy or R^2) of each run's target task: the score every regime reports."""
    target = tidy_frame[(tidy_frame["role"] == "target") & (tidy_frame["split"] == split)]
    primary = target["kind"].map(PRIMARY_METRIC)
    return target[target["metric"] == primary].copy()


def delta_m_scores(tidy_frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Each run's per-task score on the ratio-scale metric that Delta_m compares (accuracy or MSE)."""
    frame = tidy_frame[tidy_frame["split"] == split]
    return frame[frame["metric"] == frame["kind"].map(DELTA_M_METRIC)].copy()


def summarize(scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean, 95% bootstrap CI and number of seeds per arm and condition."""
    rows = []
    for (arm, *condition), group in scores.groupby(["arm", *keys], sort=True):
        low, high = bootstrap_ci(group["value"].to_numpy())
        rows.append({"arm": arm, **dict(zip(keys, condition, strict=True)), "metric": group["metric"].iloc[0],
                     "mean": group["value"].mean(), "ci_low": low, "ci_high": high,
                     "n_seeds": group["seed"].nunique()})
    return pd.DataFrame(rows)


def missing_runs(study: StudyData) -> pd.DataFrame:
    """Arm x condition cells that lack a finished run for a seed the study ran elsewhere in that condition.

    The expected seeds of a condition are every seed any arm started there (finished or failed), so a
    failed job and a job that never wrote a record both show up here, with the seeds they lack.
    """
    keys = study.keys
    runs = study.runs.dropna(subset=keys)
    rows = []
    arms = sorted(runs["arm"].unique())
    for condition, cell in runs.groupby(keys, sort=True):
        condition = condition if isinstance(condition, tuple) else (condition,)
        expected = set(cell["seed"])
        for arm in arms:
            mine = cell[cell["arm"] == arm]
            ok = set(mine.loc[mine["status"] == "ok", "seed"])
            failed = set(mine.loc[mine["status"] == "failed", "seed"]) - ok
            if ok != expected:
                rows.append({"arm": arm, **dict(zip(keys, condition, strict=True)), "n_ok": len(ok),
                             "n_expected": len(expected), "failed_seeds": sorted(failed),
                             "absent_seeds": sorted(expected - ok - failed)})
    columns = ["arm", *keys, "n_ok", "n_expected", "failed_seeds", "absent_seeds"]
    return pd.DataFrame(rows, columns=columns)
