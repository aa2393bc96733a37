"""MTL weighting methods compared: Δm% against STL, against the best static weighting, and per-step cost.

Pure functions of the study's tidy data and its records (``pareto_points``, ``method_table``), and one
drawing (``plot_pareto``). The best static weighting of a condition is the static arm with the lowest mean
validation loss over seeds and tasks (the choice a user could make; the test split chooses nothing), and
each method is compared with it seed by seed on Δm%: Xin et al. (2022) ask whether any method beats a
tuned scalarisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.paired import outcome
from bench.report.plots import _save, arm_color, plt
from bench.report.stats import bootstrap_ci

STATIC = "mtl-static("


def step_costs(records: list[dict], runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per arm and condition: the median wall time per training step (``timings.step_ms``: one step of the
    whole population, validation included) and the median population size it was measured on; and, for
    methods that solve a problem each step, the steps whose solver missed its tolerance and the steps run,
    summed over seeds (``fit.unconverged_steps``, ``fit.steps``; NaN for methods without a solver)."""
    rows = []
    for record in records:
        timings, fit = record.get("timings") or {}, record.get("fit") or {}
        solved = "unconverged_steps" in fit
        rows.append({"run_id": record["run_id"], "step_ms": timings.get("step_ms"),
                     "members": timings.get("population_size"),
                     "unconverged": fit["unconverged_steps"] if solved else np.nan,
                     "solved_steps": fit.get("steps") if solved else np.nan})
    merged = runs.merge(pd.DataFrame(rows, columns=["run_id", "step_ms", "members", "unconverged", "solved_steps"]),
                        on="run_id")
    if merged.empty:
        return pd.DataFrame(columns=["arm", *keys, "step_ms", "members", "unconverged", "solved_steps"])
    grouped = merged.groupby(["arm", *keys], dropna=False)
    costs = grouped[["step_ms", "members"]].median()
    solver = grouped[["unconverged", "solved_steps"]].sum(min_count=1)
    return costs.join(solver).reset_index()


def solver_note(unconverged: float, steps: float) -> str:
    """How a method's solver fared over a condition's seeds: every step converged, or how many did not."""
    if np.isnan(unconverged):
        return "no solver"
    if unconverged == 0:
        return f"every step ({steps:,.0f})"
    return f"{unconverged:,.0f} of {steps:,.0f} steps missed"


def best_static(tidy: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per condition, the static-weight arm with the lowest mean validation loss (over seeds and tasks)."""
    val = tidy[(tidy["split"] == "val") & (tidy["metric"] == "loss") & tidy["arm"].str.startswith(STATIC)]
    if val.empty:
        return pd.DataFrame(columns=[*keys, "arm"])
    means = val.groupby([*keys, "arm"], dropna=False)["value"].mean().reset_index()
    return means.loc[means.groupby(keys, dropna=False)["value"].idxmin(), [*keys, "arm"]].reset_index(drop=True)


def method_table(delta: pd.DataFrame, delta_summary: pd.DataFrame, costs: pd.DataFrame, best: pd.DataFrame,
                 keys: list[str]) -> pd.DataFrame:
    """One row per MTL arm and condition, best Δm% first: Δm% against STL, the paired difference with the
    condition's best static weighting (per seed, bootstrap CI, outcome), the per-step cost, also as a
    multiple of the plain sum's, and whether the method's solver converged in every step.

    ``delta`` holds per-seed Δm% (arm, keys, seed, difference); ``delta_summary`` its summary per arm.
    """
    mtl = delta_summary[delta_summary["arm"].str.startswith("mtl")]
    rows = []
    for condition, group in mtl.groupby(keys, dropna=False):
        condition = condition if isinstance(condition, tuple) else (condition,)
        where = dict(zip(keys, condition, strict=True))
        chosen = _select(best, where)
        reference = chosen["arm"].iloc[0] if len(chosen) else None
        per_seed = _select(delta, where)
        base = per_seed[per_seed["arm"] == reference].set_index("seed")["difference"] if reference else None
        cost = _select(costs, where).set_index("arm")
        sum_cost = cost["step_ms"].get("mtl-sum", np.nan)
        for _, row in group.sort_values("mean", ascending=False).iterrows():
            record = {**where, "arm": row["arm"], "Δm%": row["mean"], "Δm% low": row["ci_low"],
                      "Δm% high": row["ci_high"], "n": row["n_pairs"]}
            if row["arm"] == reference:
                record["vs outcome"] = "reference"
            elif base is not None:
                mine = per_seed[per_seed["arm"] == row["arm"]].set_index("seed")["difference"]
                paired = (mine - base).dropna()
                low, high = bootstrap_ci(paired.to_numpy())
                record.update({"vs best static": paired.mean() if len(paired) else np.nan,
                               "vs low": low, "vs high": high, "vs outcome": outcome(low, high)})
            record.update({"ms/step": cost["step_ms"].get(row["arm"], np.nan),
                           "x sum": cost["step_ms"].get(row["arm"], np.nan) / sum_cost,
                           "solver converged": solver_note(cost["unconverged"].get(row["arm"], np.nan),
                                                           cost["solved_steps"].get(row["arm"], np.nan)),
                           "best static": reference})
            rows.append(record)
    return pd.DataFrame(rows)


def _select(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    for key, value in where.items():
        frame = frame[frame[key] == value]
    return frame


def pareto_points(scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean test primary metric of each arm on each of the two tasks, per condition (two-task studies):
    one row per (condition, arm) with columns ``task_a``, ``task_b`` and the task names."""
    tasks = sorted(scores["task"].unique())
    if len(tasks) != 2:
        return pd.DataFrame()
    means = scores.groupby([*keys, "arm", "task"], dropna=False)["value"].mean().unstack("task").reset_index()
    return means.rename(columns={tasks[0]: "task_a", tasks[1]: "task_b"}).assign(name_a=tasks[0], name_b=tasks[1])


def plot_pareto(points: pd.DataFrame, keys: list[str], metric: str, title: str, stem: Path) -> Path:
    """Per condition, the static-weight sweep as a line in the order of task A's weight, and every other arm
    as a labelled point."""
    conditions = list(points.groupby(keys, dropna=False))
    fig, axes = plt.subplots(1, len(conditions), figsize=(5.2 * len(conditions), 4.6), squeeze=False)
    for ax, (condition, rows) in zip(axes[0], conditions, strict=True):
        static = rows[rows["arm"].str.startswith(STATIC)]
        static = static.iloc[np.argsort([float(arm[len(STATIC):].split(",")[0]) for arm in static["arm"]])]
        ax.plot(static["task_a"], static["task_b"], "-o", color="grey", label="static weights", zorder=1)
        for _, row in rows[~rows["arm"].str.startswith(STATIC)].iterrows():
            ax.scatter(row["task_a"], row["task_b"], color=arm_color(row["arm"]), s=30, zorder=2,
                       marker="*" if row["arm"] == "stl" else "o")
            ax.annotate(row["arm"].removeprefix("mtl-"), (row["task_a"], row["task_b"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        condition = condition if isinstance(condition, tuple) else (condition,)
        ax.set_title(", ".join(f"{k}={v}" for k, v in zip(keys, condition, strict=True)), fontsize=9)
        ax.set_xlabel(f"{rows['name_a'].iloc[0]} test {metric}")
        ax.set_ylabel(f"{rows['name_b'].iloc[0]} test {metric}")
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    return _save(fig, stem)


METHODS_RULE = (
    "One row per MTL weighting method (arm `mtl-NAME`) and condition, best Δm% first. Δm% against STL with its "
    "95% bootstrap CI over seeds (positive is better). *vs best static*: the paired difference of Δm% with the "
    "condition's best static weighting (chosen on validation loss), per seed, with its CI and outcome (win: the "
    "method beats it). *ms/step*: median wall time of one training step of the whole population (its size in "
    "the protocol), validation included; *x sum*: as a multiple of the plain sum's. Timings are measured "
    "where the jobs ran, beside other jobs: compare them within a study. *solver converged*: for a method "
    "that solves a problem each step (MGDA, CAGrad, Nash-MTL, FairGrad, UPGrad), whether its solver met its "
    "stated tolerance in every training step of every seed (the steps counted), or how many steps it missed.")


def methods_report(study, records: list[dict], figures: Path) -> tuple[list[str], list, list] | None:
    """Text, tables and figures of the methods section, or None when the study compares fewer than two
    MTL weighting methods."""
    from bench.report.aggregate import task_scores
    from bench.report.paired import measured_differences, summarize_differences
    from bench.report.tables import interval, plain_table

    arms = [a for a in study.tidy["arm"].unique() if a.startswith("mtl-")]
    if len(arms) < 2:
        return None
    keys = study.keys
    delta = measured_differences(study, "delta_m")
    table = method_table(delta, summarize_differences(delta, keys), step_costs(records, study.runs, keys),
                         best_static(study.tidy, keys), keys)
    text = [] if len(table) and table["best static"].notna().any() else [
        "No static weighting ran in this study, so no method is compared with one."]
    for condition, rows in table.groupby(keys, dropna=False) if text == [] else []:
        wins = rows.loc[rows["vs outcome"] == "win", "arm"].tolist()
        reference = rows["best static"].iloc[0]
        where = ", ".join(f"{k}={v}" for k, v in zip(keys, np.atleast_1d(condition), strict=True))
        verdict = (f"{', '.join(wins)} beat{'s' if len(wins) == 1 else ''} the best static weighting ({reference}) "
                   "significantly." if wins else f"no method beats the best static weighting ({reference}) "
                   "significantly.")
        text.append(f"{where}: " + (verdict if reference else "no static weighting ran, so no comparison."))
    tables = [plain_table(table, "methods", "MTL weighting methods: Δm%, against the best static weighting, "
                          "and per-step cost", METHODS_RULE, keys)]
    sizes = size_scores(records, task_scores(study.tidy), keys)
    if len(sizes):
        bounds = sizes[["mean", "ci_low", "ci_high"]].to_numpy()
        sizes = sizes.assign(value=[interval(mean, low, high) for mean, low, high in bounds])
        shown = sizes.pivot_table(index=["arm", *keys], columns="task", values="value", aggfunc="first")
        shown = shown.reindex(columns=["largest task", "smallest task", "mean over tasks"]).fillna("—").reset_index()
        tables.append(plain_table(shown, "task_sizes", "Largest and smallest task: test primary metric",
                                  "Mean over seeds of the test primary metric on the task with the most training "
                                  "examples, on the one with the fewest, and on average over tasks, with the 95% "
                                  "bootstrap CI over seeds. TL reports its target only.", keys))
    found = []
    points = pareto_points(task_scores(study.tidy), keys)
    if len(points) and points["arm"].str.startswith(STATIC).any():
        metric = task_scores(study.tidy)["metric"].iloc[0]
        path = plot_pareto(points, keys, metric, f"study {study.name}: static-weight front and every method",
                           figures / "pareto_front")
        found.append((path, "Mean test primary metric of task A against task B: the static-weight sweep (grey "
                            "line, in the order of task A's weight; its upper-right envelope is the scalarisation "
                            "front) and every method (points; "
                            "STL a star). A method above and right of the line beats every static weighting on "
                            "both tasks at once."))
    return text, tables, found


def size_scores(records: list[dict], scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per arm and condition, the mean test primary metric over seeds (95% bootstrap CI) on the task with the
    most training examples, on the one with the fewest, and on average over tasks (``descriptors.train_sizes``:
    the family's tasks in order; a run that reports some tasks only, as TL, is placed by their names).

    Empty when every task has the same size everywhere (nothing to balance)."""
    names: dict[tuple, list[str]] = {}
    for record in records:
        sizes = record.get("descriptors", {}).get("train_sizes")
        if sizes and len(record.get("tasks", [])) == len(sizes):
            names[_draw(record)] = [task["task"] for task in record["tasks"]]
    size_of = {}
    for record in records:
        sizes, order = record.get("descriptors", {}).get("train_sizes"), names.get(_draw(record))
        if sizes and order:
            size_of.update({(record["run_id"], name): size for name, size in zip(order, sizes, strict=True)})
    frame = scores.assign(size=[size_of.get((r, t)) for r, t in zip(scores["run_id"], scores["task"], strict=True)])
    frame = frame.dropna(subset=["size"])
    if frame.empty or (frame.groupby(keys, dropna=False)["size"].nunique() == 1).all():
        return pd.DataFrame()
    family = pd.DataFrame([(run, size) for (run, _), size in size_of.items()], columns=["run_id", "size"])
    bounds = family.groupby("run_id")["size"].agg(["max", "min"])  # over the family, not the reported tasks
    largest = frame[frame["size"] == frame["run_id"].map(bounds["max"])]
    smallest = frame[frame["size"] == frame["run_id"].map(bounds["min"])]
    rows = []
    for which, part in (("largest task", largest), ("smallest task", smallest), ("mean over tasks", frame)):
        per_seed = part.groupby(["arm", *keys, "seed"], dropna=False)["value"].mean().reset_index()
        for (arm, *condition), group in per_seed.groupby(["arm", *keys], dropna=False):
            low, high = bootstrap_ci(group["value"].to_numpy())
            rows.append({"arm": arm, **dict(zip(keys, condition, strict=True)), "task": which,
                         "mean": group["value"].mean(), "ci_low": low, "ci_high": high, "n": len(group)})
    return pd.DataFrame(rows)


def _draw(record: dict) -> tuple:
    """A record's data draw: its seed and its family's knobs (every arm of a condition shares it)."""
    return record.get("seed"), tuple(sorted((k, str(v)) for k, v in record.get("knobs", {}).items()))
