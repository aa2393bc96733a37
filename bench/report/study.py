"""One study's report: its tables and figures computed from records, written as files, described for pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.aggregate import StudyData, missing_runs, study_data, summarize, target_scores
from bench.report.paired import friedman, measured_differences, regime_map, summarize_differences, win_tie_loss
from bench.report.plots import plot_cd_diagram, plot_lines, plot_regime_map, use_log_x
from bench.report.protocol import study_protocol
from bench.report.tables import Table, difference_table, plain_table, score_table

DELTA_M_RULE = (
    "Δm% = mean over tasks of 100·s·(M_arm − M_STL)/M_STL, with s = +1 for accuracy and s = −1 for MSE "
    "(regression tasks enter by their MSE: R² has no ratio scale), so **positive Δm% means better than STL**. "
    "Tasks: every task both runs report (TL reports the target only, so its Δm% is the target's relative change)."
)
OUTCOME_RULE = ("outcome: **win** / **loss** when the 95% CI of the paired difference lies above / below zero, "
                "**tie** when it contains zero.")


@dataclass
class Figure:
    path: Path  # the PNG; an SVG of the same name lies beside it
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


def _wilcoxon_floor(n_pairs: pd.Series) -> str:
    n = int(n_pairs.max()) if len(n_pairs) else 0
    if n == 0:
        return ""
    return (f" With {n} pairs the smallest possible two-sided Wilcoxon p is 2/2^{n} = {2 / 2 ** n:.3g}"
            + (", so no p can pass 0.05 and the outcome rests on the CI." if 2 / 2 ** n >= 0.05 else "."))


def _paired_caption(what: str, summary: pd.DataFrame) -> str:
    return (f"{what} Mean over seeds with a 95% bootstrap CI; only seeds where both arms finished "
            f"enter (n pairs). p: two-sided Wilcoxon signed-rank test; Holm-adjusted over the {len(summary)} "
            f"comparisons of this table. {OUTCOME_RULE}{_wilcoxon_floor(summary['n_pairs'])}")


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


def _ranking_section(study: StudyData, scores: pd.DataFrame, figures: Path) -> Section:
    section = Section("Ranking across conditions (Friedman test, critical-difference diagram)")
    section.text.append(
        "Arms are ranked on the target score within each block (one condition and seed: a data draw every "
        "arm ran on; rank 1 is best), then compared by the Friedman test and the Nemenyi critical difference "
        "at α = 0.05 (Demšar 2006): arms joined by a bar differ by less than the CD. Blocks share seeds "
        "across conditions, so read the p-value as indicative.")
    families = [("regimes", None)]
    weightings = sorted(a for a in scores["arm"].unique() if a.startswith("mtl-"))
    if len(weightings) >= 3:
        families.append(("MTL weighting methods", weightings))
    for label, arms in families:
        result = friedman(scores, study.keys, arms)
        if result is None:
            section.text.append(f"{label}: not enough arms (3) or complete blocks (2) for a Friedman test.")
            continue
        stem = figures / ("cd_regimes" if arms is None else "cd_weighting")
        section.figures.append(Figure(plot_cd_diagram(result, f"{study.name}: {label}", stem),
                                      f"Critical-difference diagram of the {label}."))
        ranks = pd.DataFrame({"arm": result["arms"], "mean rank": result["ranks"]}).sort_values("mean rank")
        section.tables.append(plain_table(
            ranks, f"ranks_{'regimes' if arms is None else 'weighting'}", f"Mean ranks of the {label}",
            f"Friedman p = {result['p']:.3g} over {result['n_blocks']} blocks "
            f"({result['n_dropped']} blocks left out for a missing arm); CD = {result['cd']:.2f}."))
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


def build_study(name: str, records: list[dict], folder: Path) -> StudyReport:
    """Compute, draw and write one study's tables (Markdown, LaTeX), figures (PNG, SVG) and tidy CSV."""
    study = study_data(name, records)
    figures, tables = folder, folder / "tables"  # figures beside the study's README.md, as before
    figures.mkdir(parents=True, exist_ok=True)
    report = StudyReport(name, folder, study, study_protocol(records, study.knobs), [])
    if study.tidy.empty:
        report.sections.append(Section("No finished runs", ["Every run of this study failed; see below."]))
    elif target_scores(study.tidy).empty:
        study.tidy.to_csv(folder / "tidy.csv", index=False)
        report.sections.append(Section("No target task", ["No task of this study has the role `target`, so no "
                                                          "regime reports a common score; see tidy.csv."]))
    else:
        study.tidy.to_csv(folder / "tidy.csv", index=False)
        report.sections += _result_sections(study, figures, report)
    missing = _missing_section(study)
    if missing:
        report.sections.append(missing)
    for section in report.sections:
        for table in section.tables:
            table.write(tables)
    return report


def _result_sections(study: StudyData, figures: Path, report: StudyReport) -> list[Section]:
    keys = study.keys
    scores = target_scores(study.tidy)
    metric = scores["metric"].iloc[0]
    expected = study.runs.dropna(subset=keys).groupby(keys)["seed"].nunique()
    summary = summarize(scores, keys)
    target = summarize_differences(measured_differences(study, "target"), keys)
    delta = summarize_differences(measured_differences(study, "delta_m"), keys)

    scores_section = Section(f"Target-task {metric}")
    scores_section.tables.append(score_table(
        summary, keys, expected, "scores",
        f"Mean over seeds of the target task's test {metric} (higher is better) with its 95% bootstrap "
        "CI over seeds; n = seeds with a finished run (n=k/K ⚠: seeds missing, see Missing runs)."))
    scores_section.figures += _figures_by_knob(study, summary, f"target test {metric}", "score", figures,
                                               f"target {metric}", zero_line=False)

    paired = Section("Paired differences against STL")
    paired.tables.append(difference_table(
        target, keys, 3, "paired_target", f"Target-task {metric}: arm − STL",
        _paired_caption(f"Paired difference arm − STL of the target task's test {metric}, seed by seed "
                        "(positive: the arm beats STL).", target)))
    paired.tables.append(difference_table(
        delta, keys, 1, "delta_m", "Δm% against STL (positive is better)",
        _paired_caption(DELTA_M_RULE, delta)))
    counts = pd.concat([win_tie_loss(target).assign(measure=f"target {metric}"),
                        win_tie_loss(delta).assign(measure="Δm%")]).fillna(0)
    counts = counts[["measure", *[c for c in counts.columns if c != "measure"]]]
    report.win_tie_loss = win_tie_loss(target)
    paired.tables.append(plain_table(counts.astype({c: int for c in counts.columns if c not in ("measure", "arm")}),
                                     "win_tie_loss", "Win / tie / loss against STL across conditions",
                                     f"Number of conditions per outcome; {OUTCOME_RULE}"))
    paired.figures += _figures_by_knob(study, target, f"target {metric}: arm − STL", "difference", figures,
                                       f"paired difference of the target {metric} (arm − STL)", zero_line=True)
    paired.figures += _figures_by_knob(study, delta, "Δm% vs STL (positive is better)", "delta_m", figures,
                                       "Δm% against STL", zero_line=True)
    sections = [scores_section, paired]

    if len(study.knobs) == 2:
        sections.append(_map_section(study, scores, figures, report))
    sections.append(_ranking_section(study, scores, figures))
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
