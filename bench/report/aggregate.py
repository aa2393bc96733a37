"""From run records to the study's tidy tables: arms, conditions, scores, summaries and missing runs."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.report.stats import bootstrap_ci
from bench.results import runs_table, tidy

NON_KNOB_COLUMNS = {
    "run_id", "study", "regime", "strategy", "label", "arm", "weighting", "seed", "status", "task", "role",
    "kind", "split", "metric", "value", "higher_is_better", "error", "primary",
}
# Delta_m needs a ratio scale: R^2 can be zero or negative, so a task scored by R^2 enters by its MSE.
DELTA_M_METRIC = {"r2": "mse"}
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
    """Knob columns that take more than one value in a study: its x axes. A knob that older records lack
    (NaN there) is not varied by that alone: records from before a knob was recorded still pair up."""
    knobs = [c for c in runs.columns if c not in NON_KNOB_COLUMNS]
    return [k for k in knobs if runs[k].dropna().astype(str).nunique() > 1]


def task_scores(tidy_frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Every task's primary metric (``data.metric``, else accuracy / AUC / R^2) in every run: what the
    report's headline compares. Undefined values (NaN, e.g. AUC on a split with one class) are left out."""
    frame = tidy_frame[(tidy_frame["split"] == split) & (tidy_frame["metric"] == tidy_frame["primary"])]
    return frame.dropna(subset=["value"]).copy()


def target_scores(tidy_frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The primary metric of each run's target task: the one score every regime, TL included, reports."""
    scores = task_scores(tidy_frame, split)
    return scores[scores["role"] == "target"].copy()


def oriented(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with lower-is-better metrics negated, so that higher is better for rankings and maps."""
    sign = scores["higher_is_better"].map(lambda better: 1.0 if better is not False else -1.0)
    return scores.assign(value=scores["value"] * sign)


def delta_m_metric(primary: str) -> str:
    return DELTA_M_METRIC.get(primary, primary)


def delta_m_scores(tidy_frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Each run's per-task score on the metric Delta_m compares: the primary one (MSE for R^2)."""
    frame = tidy_frame[tidy_frame["split"] == split]
    frame = frame[frame["metric"] == frame["primary"].map(delta_m_metric)]
    return frame.dropna(subset=["value"]).copy()


def summarize(scores: pd.DataFrame, keys: list[str], over_tasks: bool = False) -> pd.DataFrame:
    """Mean, 95% bootstrap CI and number of seeds per arm, condition and metric.

    ``over_tasks``: each seed's value is first averaged over the tasks (of that metric) the run reports.
    """
    if over_tasks:
        scores = (scores.groupby(["arm", *keys, "metric", "seed"], as_index=False)
                  .agg(value=("value", "mean"), n_tasks=("task", "nunique")))
    rows = []
    for (arm, *condition, metric), group in scores.groupby(["arm", *keys, "metric"], sort=True):
        low, high = bootstrap_ci(group["value"].to_numpy())
        rows.append({"arm": arm, **dict(zip(keys, condition, strict=True)), "metric": metric,
                     "mean": group["value"].mean(), "ci_low": low, "ci_high": high,
                     "n_seeds": group["seed"].nunique(),
                     "n_tasks": int(group["n_tasks"].max()) if over_tasks else 1})
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
