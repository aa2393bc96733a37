"""One study's report: its tables and figures computed from records, written as files, described for pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.aggregate import StudyData, missing_runs, study_data, summarize, target_scores, task_scores
from bench.report.compute import compute_view
from bench.report.diagnostics import transferability_report
from bench.report.excess import EXCESS_RULE, SCOPES, excess_summary, excess_table, strength_warnings, task_risks
from bench.report.methods import methods_report
from bench.report.paired import (
    OUTCOMES,
    friedman,
    measured_differences,
    negative_transfer,
    regime_map,
    summarize_differences,
    task_differences,
    win_tie_loss,
)
from bench.report.plots import plot_cd_diagram, plot_lines, plot_per_task, plot_regime_map, use_log_x
from bench.report.protocol import code_versions, study_protocol
from bench.report.tables import Table, difference_table, interval, plain_table, score_table

DELTA_M_RULE = (
    "Δm% = mean over tasks of 100·s·(M_arm − M_STL)/|M_STL| on each task's primary metric, with s = +1 when "
    "higher is better and s = −1 for an error metric, so **positive Δm% means better than STL**; a task scored by "
    "R² enters by its MSE (R² has no ratio scale). Guard: a task whose STL value is near zero has no relative "
    "change and is left out of that seed's mean (|M_STL| < 0.01 for accuracy, balanced accuracy, macro-F1 and "
    "AUC; M_STL = 0 for an error metric); the table counts them (n_left_out). Tasks: every task both runs "
    "report (TL reports the target only, so its Δm% is the target's relative change)."
)
EVERY_TASK_RULE = (
    "Every task counts: each task is compared on its primary metric (`data.metric`; by default accuracy, AUC "
    "for a binary task whose minority class is under 20%, and R² for regression). Differences are never "
    "pooled across metrics: each metric has its own rows."
)
PER_TASK_ROWS = 20  # more tasks than this: a per-task figure and per_task.csv instead of a table row each
MAX_PER_TASK_PANELS = 4  # conditions drawn in the per-task figure (where it replaces the per-task table)
OUTCOME_RULE = ("outcome: **win** / **loss** when the 95% CI of the paired difference lies above / below zero, "
                "**tie** when it contains zero.")


@dataclass
class Figure:
    path: Path  # the PNG; an SVG of the same name lies beside it when the report was asked for one
    caption: str


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class StudyReport:
    name: str
    folder: Path
    data: StudyData
    protocol: dict[str, str]
    sections: list[Section]
    regime_map: Figure | None = None
    win_tie_loss: pd.DataFrame | None = None
    decision: Section | None = None  # what to do (bench/report/decision.py): the page opens with it


def _paired_caption(what: str) -> str:
    """How to read a paired table; ``tables.difference_table`` adds which p-values can decide."""
    return (f"{what} Mean over seeds with a 95% bootstrap CI; only seeds where both arms finished "
            f"enter (n pairs). {OUTCOME_RULE}")


def _x_and_facet(knobs: list[str], knob: str) -> str | None:
    others = [k for k in knobs if k != knob]
    return others[0] if len(others) == 1 else None


def _figures_by_knob(study: StudyData, table: pd.DataFrame, ylabel: str, stem: str, figures: Path,
                     what: str, zero_line: bool) -> list[Figure]:
    """One figure per varied knob (x axis), panels over the other knob of a two-knob study."""
    if len(study.knobs) > 2 or not study.knobs:
        return []
    found = []
    for knob in study.knobs:
        facet = _x_and_facet(study.knobs, knob)
        curve = "learning curve: " if knob == "target_size" else ""
        path = plot_lines(table, knob, facet, ylabel, f"study {study.name}" + (" (learning curve)" if curve else ""),
                          figures / f"{stem}_vs_{knob}", zero_line=zero_line)
        found.append(Figure(path, f"{curve}{what} against `{knob}`" + (f", one panel per `{facet}`" if facet else "")
                            + ", 95% bootstrap CI bands over seeds."))
    return found


def _ranking_section(study: StudyData, figures: Path) -> Section:
    section = Section("Ranking across conditions and tasks (Friedman test, critical-difference diagram)")
    section.text.append(
        "Arms are ranked within each block, one seed (blocks must be independent, and a seed's conditions and "
        "tasks share its data draw): each arm's primary metric averaged over the seed's (condition, task) "
        "cells that every ranked arm reports; rank 1 is best. Then the Friedman test and the Nemenyi critical "
        "difference at α = 0.05 (Demšar 2006): arms joined by a bar differ by less than the CD. With 10 "
        "seeds the CD is wide: it is a coarse ranking. TL reports its target task only, so the arms that "
        "report every task are also ranked on every task without it.")
    scores = task_scores(study.tidy)
    tasks_per_arm = scores.groupby("arm")["task"].nunique()
    complete = sorted(tasks_per_arm.index[tasks_per_arm == tasks_per_arm.max()])
    families = [("regimes", None)]
    if len(complete) < len(tasks_per_arm) and len(complete) >= 3:
        families.append(("arms that report every task", complete))
    weightings = sorted(a for a in scores["arm"].unique() if a.startswith("mtl-"))
    if len(weightings) >= 3:
        families.append(("MTL weighting methods", weightings))
    for index, (label, arms) in enumerate(families):
        result = friedman(scores, study.keys, arms)
        if result is None:
            section.text.append(f"{label}: not enough arms (3) or complete blocks (2) for a Friedman test.")
            continue
        stem = ("cd_regimes", "cd_every_task", "cd_weighting")[index if label != "MTL weighting methods" else 2]
        section.figures.append(Figure(plot_cd_diagram(result, f"{study.name}: {label}", figures / stem),
                                      f"Critical-difference diagram of the {label}."))
        ranks = pd.DataFrame({"arm": result["arms"], "mean rank": result["ranks"]}).sort_values("mean rank")
        section.tables.append(plain_table(
            ranks, f"ranks_{stem.removeprefix('cd_')}", f"Mean ranks of the {label}",
            f"Friedman p = {result['p']:.3g} over {result['n_blocks']} blocks "
            f"(seeds; {result['n_dropped']} cells left out for a missing arm); CD = {result['cd']:.2f}."))
    return section


def _missing_section(study: StudyData) -> Section | None:
    missing = missing_runs(study)
    failed = study.runs[study.runs["status"] == "failed"]
    if missing.empty and failed.empty:
        return None
    section = Section("Missing and failed runs")
    section.text.append("Cells below lack a finished run for a seed that ran elsewhere in their condition. Their "
                        "means use fewer seeds (flagged n=k/K ⚠) and their paired comparisons only the seeds both "
                        "arms have; nothing is filled in.")
    if not missing.empty:
        shown = missing.assign(failed_seeds=missing["failed_seeds"].map(str),
                               absent_seeds=missing["absent_seeds"].map(str))
        section.tables.append(plain_table(shown, "missing_runs", "Missing runs",
                                          "failed: a record with status failed; absent: no record at all.",
                                          study.keys))
    for row in failed.itertuples():
        section.text.append(f"failed `{row.run_id}` {row.arm} seed={row.seed}: {row.error}")
    return section


def _warnings_section(records: list[dict]) -> Section | None:
    """What the data loader warned about (e.g. test classes never seen in training), once per message."""
    found = dict.fromkeys(w for r in records for w in (r.get("descriptors") or {}).get("warnings", []))
    if not found:
        return None
    return Section("Data warnings", [f"⚠ {w}" for w in found])


def _code_section(records: list[dict]) -> Section | None:
    """Records made by other code than this checkout: they may not be what the code now computes."""
    table, current = code_versions(records)
    other = table[table["code"] != current]
    if other.empty:
        return None
    section = Section("Records from other code ⚠", [
        f"{int(other['runs'].sum())} of {int(table['runs'].sum())} runs were made by other code than this "
        f"checkout ({current}): an older version, or one with uncommitted changes. Their numbers may differ from "
        "what the code now computes; re-run them (a fresh study name, or delete their records) to be sure."])
    section.tables.append(plain_table(table, "code_versions", "Code versions of the records",
                                      "Package version and git commit stored in each record (`versions`)."))
    return section


def build_study(name: str, records: list[dict], folder: Path) -> StudyReport:
    """Compute, draw and write one study's tables (Markdown, LaTeX), figures (PNG) and tidy CSV."""
    study = study_data(name, records)
    figures, tables = folder, folder / "tables"  # figures beside the study's README.md, as before
    figures.mkdir(parents=True, exist_ok=True)
    report = StudyReport(name, folder, study, study_protocol(records, study.knobs), [])
    if study.notes:
        report.sections.append(Section("How the records were read", list(study.notes)))
    if study.tidy.empty:
        report.sections.append(Section("No finished runs", ["Every run of this study failed; see below."]))
    elif target_scores(study.tidy).empty or "stl" not in set(study.tidy["arm"]):
        study.tidy.to_csv(folder / "tidy.csv", index=False)
        report.sections.append(Section("Nothing to compare", [
            "This study has no STL runs, or no task with the role `target`, so no arm can be compared with "
            "STL; see tidy.csv."]))
    else:
        study.tidy.to_csv(folder / "tidy.csv", index=False)
        report.sections += _result_sections(study, figures, report)
        compute = compute_view(study, records)
        if compute:
            text, table = compute
            report.sections.append(Section("Compute: pretraining free, and counted in", text, [plain_table(
                table, "compute", "Steps and seconds per run, target side and in total",
                "Means over runs; at_cap: the share of runs that ended at trainer.max_steps.", study.keys)]))
        methods = methods_report(study, records, figures)
        if methods:
            text, tables_, found = methods
            report.sections.append(Section("MTL weighting methods", text, tables_,
                                           [Figure(path, caption) for path, caption in found]))
        transferability = transferability_report(study, records)
        if transferability:
            report.sections.append(Section("Transferability diagnostics", *transferability))
    for extra in (_missing_section(study), _warnings_section(records), _code_section(records)):
        if extra:
            report.sections.append(extra)
    for section in report.sections:
        for table in section.tables:
            table.write(tables)
    return report


def _result_sections(study: StudyData, figures: Path, report: StudyReport) -> list[Section]:
    sections = [_every_task_section(study, figures, report), _target_section(study, figures),
                *_excess_sections(study, figures)]
    if len(study.knobs) == 2:
        sections.append(_map_section(study, target_scores(study.tidy), figures, report))
    sections.append(_ranking_section(study, figures))
    return sections


def _every_task_section(study: StudyData, figures: Path, report: StudyReport) -> Section:
    """The headline: every task's primary metric, arm against STL, and the distribution over tasks."""
    keys = study.keys
    scores = task_scores(study.tidy)
    metrics = sorted(scores["metric"].unique())
    n_tasks = scores["task"].nunique()
    section = Section(f"Every task against STL ({n_tasks} task{'s' if n_tasks != 1 else ''}, "
                      f"{', '.join(metrics)})")
    section.text.append(EVERY_TASK_RULE)
    overall = summarize_differences(measured_differences(study, "every_task"), keys)
    delta = summarize_differences(measured_differences(study, "delta_m"), keys)
    per_task = summarize_differences(task_differences(scores, keys), keys)
    per_task.to_csv(report.folder / "per_task.csv", index=False)
    outcomes = task_outcomes(per_task, keys)
    section.text += headline(overall, delta, outcomes, keys)

    summary = summarize(scores, keys, over_tasks=True)
    expected = study.runs.dropna(subset=keys).groupby(keys)["seed"].nunique()
    section.tables.append(score_table(
        summary, keys, expected, "scores_every_task",
        "Mean over seeds of each run's mean over its tasks of the test primary metric, with its 95% bootstrap CI "
        "over seeds; n = seeds with a finished run. TL reports its target task only, so its mean is that task's.",
        title="Every task: test primary metric"))
    section.tables.append(difference_table(
        overall, keys, 4, "paired_every_task", "Every task: arm − STL (positive is better)",
        _paired_caption("Per seed, the mean over the tasks both runs report of the paired difference arm − STL "
                        "of each task's primary metric (STL − arm for an error metric), so positive is better; "
                        "n tasks says over how many.")))
    section.tables.append(difference_table(
        delta, keys, 1, "delta_m", "Δm% against STL (positive is better)", _paired_caption(DELTA_M_RULE)))
    section.tables.append(plain_table(
        outcomes, "task_outcomes", "Tasks won, tied and lost against STL",
        "Per task, the 95% bootstrap CI over seeds of its paired difference decides: win above zero, loss below, "
        "tie otherwise (n/a: one seed). The distribution of the per-task differences is in per_task.csv and the "
        "per-task figure.", keys))
    if per_task["task"].nunique() <= PER_TASK_ROWS:
        section.tables.append(difference_table(
            per_task, keys, 4, "per_task", "Per task: arm − STL (positive is better)",
            _paired_caption("Each task's paired difference arm − STL of its primary metric.")))
    conditions = per_task.groupby(keys).ngroups if len(per_task) else 0
    # The per-task figure shows the distribution over tasks where a table cannot: many tasks, or the one
    # condition of a user's table; a few tasks over several conditions are in the per-task table.
    many = per_task["task"].nunique() > PER_TASK_ROWS if len(per_task) else False
    if 0 < conditions <= MAX_PER_TASK_PANELS and (many or conditions == 1):
        for metric, rows in per_task.groupby("metric"):
            path = plot_per_task(rows, keys, f"{study.name}: per-task {metric}, arm − STL",
                                 figures / f"per_task_{metric}")
            section.figures.append(Figure(path, f"Every task's paired difference arm − STL of its test {metric} "
                                                "(positive is better), mean over seeds with its 95% bootstrap CI, "
                                                "tasks sorted; green: win, red: loss, grey: tie."))
    for metric, rows in overall.groupby("metric"):
        section.figures += _figures_by_knob(study, rows, f"every task {metric}: arm − STL", f"every_task_{metric}",
                                            figures, f"mean over tasks of the paired difference of {metric}",
                                            zero_line=True)
    counts = pd.concat([*(win_tie_loss(rows).assign(measure=f"every task: {metric}")
                          for metric, rows in overall.groupby("metric")),
                        win_tie_loss(delta).assign(measure="Δm%")]).fillna(0)
    counts = counts[["measure", *[c for c in counts.columns if c != "measure"]]]
    report.win_tie_loss = counts
    section.tables.append(plain_table(counts.astype({c: int for c in counts.columns if c not in ("measure", "arm")}),
                                      "win_tie_loss", "Win / tie / loss against STL across conditions",
                                      f"Number of conditions per outcome; {OUTCOME_RULE}"))
    return section


def task_outcomes(per_task: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per arm, condition and metric: how many tasks the arm wins, ties and loses against STL."""
    columns = ["arm", *keys, "metric"]
    if per_task.empty:
        return pd.DataFrame(columns=[*columns, *OUTCOMES, "median difference"])
    counts = pd.crosstab([per_task[c] for c in columns], per_task["outcome"]).reindex(columns=OUTCOMES, fill_value=0)
    medians = per_task.groupby(columns)["mean"].median().rename("median difference")
    table = counts.join(medians).reset_index().rename_axis(columns=None)
    return table.loc[:, [c for c in table.columns if c != "n/a" or table["n/a"].sum() > 0]]


def headline(overall: pd.DataFrame, delta: pd.DataFrame, outcomes: pd.DataFrame, keys: list[str]) -> list[str]:
    """One sentence per arm and metric when the study has a single condition (a user's table)."""
    if len(overall) == 0 or overall.groupby(keys).ngroups != 1:
        return []
    lines = []
    for row in overall.itertuples(index=False):
        counts = outcomes[(outcomes["arm"] == row.arm) & (outcomes["metric"] == row.metric)]
        tasks = (f"; per task it wins {int(counts['win'].iloc[0])}, ties {int(counts['tie'].iloc[0])} and loses "
                 f"{int(counts['loss'].iloc[0])}") if len(counts) else ""
        change = delta[delta["arm"] == row.arm]
        relative = (f"; Δm% {interval(change['mean'].iloc[0], change['ci_low'].iloc[0], change['ci_high'].iloc[0], 1)}"
                    if len(change) else "")
        lines.append(f"**{row.arm} vs STL**, {row.metric} over {row.n_tasks} task(s): mean difference "
                     f"{interval(row.mean, row.ci_low, row.ci_high, 4)} over {row.n_pairs} seed(s), "
                     f"**{row.outcome}**{tasks}{relative}.")
    return lines


def _target_section(study: StudyData, figures: Path) -> Section:
    """The target task alone: the one score every arm reports, TL included (claims 4 and 5 use it)."""
    keys = study.keys
    scores = target_scores(study.tidy)
    metric = ", ".join(sorted(scores["metric"].unique()))
    expected = study.runs.dropna(subset=keys).groupby(keys)["seed"].nunique()
    summary = summarize(scores, keys)
    per_seed = measured_differences(study, "target")
    target = summarize_differences(per_seed, keys)
    section = Section(f"Target task: {metric}")
    section.tables.append(score_table(
        summary, keys, expected, "scores",
        f"Mean over seeds of the target task's test {metric} with its 95% bootstrap CI over seeds; n = seeds "
        "with a finished run (n=k/K ⚠: seeds missing, see Missing runs)."))
    section.tables.append(difference_table(
        target, keys, 3, "paired_target", f"Target-task {metric}: arm − STL",
        _paired_caption(f"Paired difference arm − STL of the target task's test {metric}, seed by seed "
                        "(positive: the arm beats STL; STL − arm for an error metric).")))
    gaps = negative_transfer(target)
    if len(gaps):
        transfer = per_seed[per_seed["arm"].isin(gaps["arm"])]  # every transfer run's own gap, seed by seed
        transfer.assign(gap=-transfer["difference"]).drop(columns="difference").to_csv(
            figures / "negative_transfer_runs.csv", index=False)
        flagged = gaps[gaps["negative"]]
        where = "; ".join(f"{arm} at " + ", ".join(" ".join(f"{k}={row[k]}" for k in keys)
                                                    for _, row in rows.iterrows())
                          for arm, rows in flagged.groupby("arm", sort=True))
        section.text.append(f"**Negative transfer** (gap > 0, 95% CI above zero): {where or 'none'}.")
        section.tables.append(plain_table(
            gaps.assign(**{"gap [95% CI]": [interval(m, lo, hi, 3) for m, lo, hi in
                                            zip(gaps["gap"], gaps["gap_low"], gaps["gap_high"], strict=True)],
                           "negative transfer": gaps["negative"].map({True: "yes ⚠", False: "no"})})
            [["arm", *keys, "gap [95% CI]", "n_pairs", "negative transfer"]],
            "negative_transfer", "Negative transfer gap",
            "error(transfer) − error(scratch) on the target task, seed by seed (Wang et al. 2019), scratch being "
            f"STL's model of the target and the error 1 − {metric} (or the error metric itself): minus the paired "
            "difference above. Flagged where its 95% CI lies above zero. Every transfer run's own gap, seed by "
            "seed: negative_transfer_runs.csv.", keys))
    section.figures += _figures_by_knob(study, summary, f"target test {metric}", "score", figures,
                                        f"target {metric}", zero_line=False)
    return section


def _excess_sections(study: StudyData, figures: Path) -> list[Section]:
    """The strength check (a section of its own when it warns) and, where the family states a Bayes risk,
    every arm's excess risk over it (bench/report/excess.py)."""
    risks = task_risks(study.tidy, study.bayes)
    warnings = strength_warnings(risks, study.keys)
    sections = [Section("Strength check ⚠", warnings)] if warnings else []
    if risks.empty or risks["bayes"].isna().any():
        return sections
    section = Section("Excess risk over the Bayes risk", [EXCESS_RULE] + (
        [] if warnings else ["Strength check passed: tuned STL beats the best classical anchor at the largest "
                             "size, and a neural arm beats per-task ridge somewhere."]))
    for scope, what in SCOPES.items():
        summary = excess_summary(risks, study.keys, scope)
        section.tables.append(plain_table(excess_table(summary, study.keys), f"excess_{scope}",
                                          f"Excess risk: {what}", "Per arm and condition, as the rule above says.",
                                          study.keys))
        section.figures += _figures_by_knob(study, summary.rename(columns={"excess": "mean"}), "excess risk (test − "
                                            "Bayes)", f"excess_{scope}", figures, f"excess risk on {what}", False)
    sections.append(section)
    return sections


def _map_section(study: StudyData, scores: pd.DataFrame, figures: Path, report: StudyReport) -> Section:
    cells = regime_map(scores, study.keys)
    logged = [k for k in study.knobs if use_log_x(cells[k])]
    x = logged[0] if logged else study.knobs[0]
    y = next(k for k in study.knobs if k != x)
    path = plot_regime_map(cells, x, y, f"{study.name}: which regime wins", figures / "regime_map")
    caption = (f"Regime map over `{x}` and `{y}`. A cell names the arm with the best mean target score only "
               "where the 95% bootstrap CI of its paired difference to every other arm lies above zero (the "
               "number is the smallest of those mean margins); otherwise it says tie and names the best mean.")
    report.regime_map = Figure(path, caption)
    section = Section("Regime map", figures=[report.regime_map])
    shown = cells.drop(columns=["best_mean"])
    section.tables.append(plain_table(shown, "regime_map", "Regime map cells", caption, study.keys))
    return section
