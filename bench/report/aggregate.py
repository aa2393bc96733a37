"""From run records to the study's tidy tables: arms, conditions, scores, summaries and missing runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.excess import bayes_frame
from bench.report.stats import bootstrap_ci
from bench.results import runs_table, tidy

NON_KNOB_COLUMNS = {
    "run_id", "study", "regime", "strategy", "label", "arm", "weighting", "seed", "status", "task", "role",
    "kind", "split", "metric", "value", "higher_is_better", "error", "primary",
}
# Delta_m needs a ratio scale: R^2 can be zero or negative, so a task scored by R^2 enters by its MSE.
DELTA_M_METRIC = {"r2": "mse"}
BASELINE = "stl"
ROTATION_KNOB = "target"  # the transfer target's name (bench/data/rotation.py): rotated, it is not a condition
# A knob whose null means "all there is" (target_size: every training row of the target) and the descriptor
# that holds what that came to in each run; a study shows null as one group, at the median of those values.
REALISED = {"target_size": "target_train_size"}


@dataclass(frozen=True)
class StudyData:
    """One study's records as tables: ``runs`` (one row per run, failed ones too) and ``tidy`` (ok runs)."""

    name: str
    runs: pd.DataFrame
    tidy: pd.DataFrame
    knobs: list[str]
    notes: tuple[str, ...] = ()  # how the study's records were read: rotated targets, null knobs
    bayes: pd.DataFrame | None = None  # each run's and task's Bayes risk, where its family states one (excess.py)

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
    rotated = _rotation(records)
    records, notes = _with_realised_nulls(records)
    weightings = {r["run_id"]: weighting_of(r) for r in records}
    runs = _add_arms(runs_table(records), weightings)
    data = tidy(records)
    data = _add_arms(data, weightings) if not data.empty else data
    knobs = varied_knobs(runs[runs["status"] == "ok"])
    if rotated:
        knobs = [k for k in knobs if k != ROTATION_KNOB]
        data = _collapse_rotation(data, rotated)
        notes.insert(0, _rotation_note(records, rotated))
    return StudyData(name, runs, data, knobs, tuple(notes), bayes_frame(records))


def _rotation(records: list[dict]) -> list[str]:
    """The targets a study rotates transfer over (sorted; those of its transfer runs), or [] when every run
    has one target, or when the target's data depend on which task it is (``target_size`` set): then each
    target is a condition of its own. STL and MTL may run once, at the default target."""
    ok = [r for r in records if r.get("status") == "ok" and (r.get("knobs") or {}).get(ROTATION_KNOB) is not None]
    named = {str(r["knobs"][ROTATION_KNOB]) for r in ok}
    if len(named) < 2 or any(r["knobs"].get("target_size") is not None for r in ok):
        return []
    transfer = {str(r["knobs"][ROTATION_KNOB]) for r in ok if r.get("regime") == "tl"}
    return sorted(transfer or named)


def _rotation_note(records: list[dict], targets: list[str]) -> str:
    samples = [d["target_sample"] for r in records if (d := r.get("descriptors") or {}).get("target_sample")]
    sample = (f" They are a sample: draws of a fixed permutation of the {samples[0]['of']} tasks, seeded by "
              f"{samples[0]['seed']} (data.target_draw; bench/data/rotation.py), the same for every seed and arm."
              if samples else "")
    return (f"**Target in turn.** Transfer's target is rotated over {len(targets)} tasks ({', '.join(targets)}; "
            "`data.target`), each run pretraining on the others. The target's data do not depend on which task "
            "it is (`target_size` is null), so each task is compared on the same data in every arm, and the "
            "target-task measures average, per seed, over these targets." + sample)


def _collapse_rotation(data: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """One row per arm, condition, seed, task, split and metric: runs of an arm that differ only in the
    rotated target report the same data, so their rows are averaged; every rotated target has role target."""
    if data.empty:
        return data
    data = data.drop(columns=[ROTATION_KNOB]).assign(role=np.where(data["task"].isin(targets), "target", "source"))
    columns = [c for c in data.columns if c not in ("run_id", "value")]
    grouped = data.groupby(columns, dropna=False, sort=False)
    return grouped.agg(run_id=("run_id", "first"), value=("value", "mean")).reset_index()[data.columns]


def _with_realised_nulls(records: list[dict]) -> tuple[list[dict], list[str]]:
    """A null value of a swept ``REALISED`` knob (e.g. target_size: all the target's rows) is one group,
    shown at the median of what it came to per run, not one group per seed; the notes give the range. A
    knob that is null in every run is not swept and stays null."""
    notes, repaired = [], list(records)
    for knob, descriptor in REALISED.items():
        nulls = [i for i, r in enumerate(repaired)
                 if knob in (r.get("knobs") or {}) and r["knobs"][knob] is None
                 and (r.get("descriptors") or {}).get(descriptor) is not None]
        if not nulls or all((r.get("knobs") or {}).get(knob) is None for r in repaired):
            continue
        sizes = [repaired[i]["descriptors"][descriptor] for i in nulls]
        shown = int(np.median(sizes))
        for i in nulls:
            repaired[i] = {**repaired[i], "knobs": {**repaired[i]["knobs"], knob: shown}}
        notes.append(f"`{knob}` null (all there is) is one group, shown as {shown}: the median of what it came "
                     f"to in its {len(nulls)} run(s) (`{descriptor}` {min(sizes)}–{max(sizes)}).")
    return repaired, notes


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
    """The primary metric of each run's target task: the one score every regime, TL included, reports.
    With the target rotated, a seed's targets are averaged per metric into one row whose ``task`` says how
    many (pairs form only between arms that cover the same number of targets)."""
    scores = task_scores(tidy_frame, split)
    scores = scores[scores["role"] == "target"]
    columns = [c for c in scores.columns if c not in ("run_id", "task", "value", "kind")]
    counts = scores.groupby(columns, dropna=False)["task"].transform("nunique")
    if scores.empty or counts.max() == 1:
        return scores.copy()
    grouped = scores.groupby(columns, dropna=False, sort=False)
    mean = grouped.agg(run_id=("run_id", "first"), kind=("kind", "first"), value=("value", "mean"),
                       n=("task", "nunique")).reset_index()
    return mean.assign(task=[f"mean of {n} targets" for n in mean.pop("n")])[scores.columns]


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
