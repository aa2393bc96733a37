"""Write the whole report: one folder per study, the claims and overview tables, index.md and index.html."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.aggregate import StudyData, study_data, task_scores
from bench.report.claims import HOW_TO_READ, claims_table, claims_view, needs_more_seeds
from bench.report.claims_figure import plot_claims
from bench.report.page import write_page
from bench.report.paired import friedman, measured_differences, summarize_differences, win_tie_loss
from bench.report.plots import plot_cd_diagram
from bench.report.protocol import software_versions
from bench.report.study import Figure, Section, StudyReport, build_study
from bench.report.tables import Table, plain_table
from bench.report.tuning import add_tuning, keep_tuned, load_choices, tuning_label
from bench.results import load_records
from bench.results.scan import deduplicate

STATISTICS = [
    "Seeds are paired: one seed fixes the data draw and the initialisation for every arm of a condition, so "
    "arms are compared seed by seed (arm − STL) on the seeds both finished; tables say how many (n pairs).",
    "Every interval of the study tables is a 95% bootstrap CI over seeds (4000 resamples, fixed generator), "
    "expanded for small samples after Hesterberg (2015) so that 5 seeds still cover about 95%. A bootstrap interval "
    "cannot reach beyond the observed seeds, so with fewer than 5 seeds treat it as optimistic. The claims' verdicts "
    "read simultaneous Student-t intervals instead (Claims, How to read; docs/statistics.md).",
    "p-values are two-sided Wilcoxon signed-rank tests on the paired differences, Holm-adjusted over all the "
    "comparisons of one table.",
    "A failed or absent run is listed under Missing runs of its study and flagged (n=k/K ⚠) in the tables; "
    "nothing is averaged over fewer seeds without saying so.",
]


def study_markdown(report: StudyReport) -> str:
    lines = [f"# Study `{report.name}`", ""]
    lines += [f"- **{key}**: {value}" for key, value in report.protocol.items()]
    if (report.folder / "tidy.csv").exists():
        lines += ["", "Raw data: [tidy.csv](tidy.csv) (one row per run x task x split x metric). Tables in "
                  "Markdown and LaTeX: [tables/](tables/); each figure is here as PNG and SVG."]
    for section in report.sections:
        lines += ["", f"## {section.title}", ""]
        lines += [f"{text}\n" for text in section.text]
        for table in section.tables:
            lines += [table.markdown()]
        for figure in section.figures:
            relative = figure.path.relative_to(report.folder)
            lines += [f"![{figure.caption}]({relative})", "", f"*{figure.caption}*", ""]
    return "\n".join(lines) + "\n"


def _overall_section(reports: list[StudyReport], records: dict[str, list[dict]], out: Path) -> Section:
    """Win/tie/loss summed over studies and one Friedman ranking over every study's blocks.

    A run that several studies hold counts once (the first study by name keeps it), differences are
    counted per measure and metric (never pooled across metrics), and studies with nothing to compare
    (every run failed, no STL) are listed, not counted.
    """
    section = Section("All studies together")
    seen: set[str] = set()
    counts, pooled, left_out, shared = [], [], [], 0
    for report in reports:
        if report.win_tie_loss is None:
            left_out.append(f"`{report.name}` ({_why_not_compared(report)})")
            continue
        own = deduplicate(records[report.name])
        mine = [r for r in own if r.get("run_id") not in seen]
        shared += len(own) - len(mine)
        seen.update(r.get("run_id") for r in own)
        if not mine:
            continue
        study = study_data(report.name, mine) if len(mine) < len(own) else report.data
        if study.tidy.empty or "stl" not in set(study.tidy["arm"]):
            continue
        counts.append(_study_counts(study))
        pooled.append(_blocks(study))
    if shared:
        section.text.append(f"{shared} run(s) held by more than one study count once, in the first study by name.")
    if left_out:
        section.text.append("Not in these tables (listed, not averaged): " + ", ".join(left_out) + ".")
    if counts:
        total = (pd.concat(counts).fillna(0).groupby(["measure", "arm"]).sum(numeric_only=True).astype(int)
                 .reset_index())
        section.tables.append(plain_table(
            total, "win_tie_loss_all", "Win / tie / loss against STL, all studies",
            "Conditions (knob values) of every study where the arm beats STL (95% CI of the paired difference "
            "above zero), ties or loses; one row per measure and metric, never pooled across metrics. Every task: "
            "the mean over tasks of each task's primary metric; Δm%: the relative change."))
    if pooled:
        result = friedman(pd.concat(pooled), ["block"])
        if result:
            path = plot_cd_diagram(result, "all studies: regimes", out / "figures" / "cd_all")
            section.figures.append(Figure(path, "Critical-difference diagram over every study, one block per "
                                                "seed (a seed's draws share its teacher across studies)."))
    return section


def _why_not_compared(report: StudyReport) -> str:
    runs = report.data.runs
    if (runs["status"] == "ok").sum() == 0:
        return f"every one of its {len(runs)} run(s) failed"
    return "no STL runs or no target task to compare with"


def _study_counts(study: StudyData) -> pd.DataFrame:
    keys = study.keys
    overall = summarize_differences(measured_differences(study, "every_task"), keys)
    delta = summarize_differences(measured_differences(study, "delta_m"), keys)
    return pd.concat([*(win_tie_loss(rows).assign(measure=f"every task: {metric}")
                        for metric, rows in overall.groupby("metric")),
                      win_tie_loss(delta).assign(measure="Δm%")])


def _blocks(study: StudyData) -> pd.DataFrame:
    """Every task's scores with one ``block`` label per (study, condition), so that studies can be pooled."""
    scores = task_scores(study.tidy)
    return scores.assign(block=study.name + " | " + scores[study.keys].astype(str).agg(",".join, axis=1))


def claims_reading(table: pd.DataFrame, reports: Path) -> Section:
    """Under the claims table: which rows need more seeds, the claims figure, and how to read the rule."""
    path = plot_claims(table, reports / "figures" / "claims")
    figures = [Figure(path, "One panel per answered claim row: arm − STL along its knob, the band its simultaneous "
                            "interval, the margin shaded grey, the verdict in the title.")] if path else []
    return Section("How to read", [needs_more_seeds(table), *HOW_TO_READ], figures=figures)


def index_markdown(claims: Table, reading: Section, reports: list[StudyReport], versions: Table,
                   experiments: Path) -> str:
    lines = ["# mtl-transfer-bench report", "",
             "The full report with every figure is [index.html](index.html). Each study sweeps the knob of one "
             "claim over every regime with paired seeds (see conf/study/).", "", "## Claims", "",
             claims.markdown(), "### How to read", "", *[f"- {text}" for text in reading.text], "",
             *[f"![{f.caption}](figures/{f.path.name})" for f in reading.figures], "", "## Studies", ""]
    for report in reports:
        lines.append(f"- [{report.name}]({report.name}/README.md): varies {report.protocol['varied']}; "
                     f"{report.protocol['runs']}; {tuning_label(report.protocol)}")
    if not reports:
        lines.append(f"No run records found in `{experiments}`: run a study first, e.g. `make bench`.")
    lines += ["", "## How the statistics work", "", *[f"- {s}" for s in STATISTICS], "", "## Software", "",
              versions.markdown()]
    return "\n".join(lines) + "\n"


def write_reports(experiments: Path, reports: Path, only: list[str] | None = None) -> Path:
    """One folder per study under ``reports`` plus ``index.md`` and the self-contained ``index.html``;
    ``only`` names the studies to include (default: every study folder)."""
    reports.mkdir(parents=True, exist_ok=True)
    studies = sorted(p for p in Path(experiments).iterdir() if p.is_dir() and not p.name.startswith("."))
    if only:
        unknown = sorted(set(only) - {p.name for p in studies})
        if unknown:
            raise ValueError(f"no study {unknown[0]!r} in {experiments}; studies: {[p.name for p in studies]}")
        studies = [p for p in studies if p.name in only]
    built, by_study = [], {}
    for folder in studies:
        records, dropped = keep_tuned(load_records(folder))
        if not records:
            continue
        by_study[folder.name] = records
        report = build_study(folder.name, records, reports / folder.name)
        add_tuning(report, records, load_choices(experiments, folder.name), dropped)
        (report.folder / "README.md").write_text(study_markdown(report))
        built.append(report)

    all_records = deduplicate([r for records in by_study.values() for r in records])
    table = claims_table({r.name: r.data for r in built})
    claims, reading = claims_view(table), claims_reading(table, reports)
    versions = plain_table(software_versions(all_records), "software", "Software versions",
                           "From the records' `versions` field (each run once); a package with several versions "
                           "lists each.")
    overall = _overall_section(built, by_study, reports)
    for table in (claims, versions, *overall.tables):
        table.write(reports / "tables")
    (reports / "index.md").write_text(index_markdown(claims, reading, built, versions, experiments))
    write_page(reports / "index.html", claims, reading, built, overall, versions, STATISTICS)
    return reports / "index.html"
