"""Write the whole report: one folder per study, the claims and overview tables, index.md and index.html."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.aggregate import StudyData, target_scores
from bench.report.claims import VERDICT_RULE, claims_table
from bench.report.page import write_page
from bench.report.paired import friedman
from bench.report.plots import plot_cd_diagram
from bench.report.protocol import software_versions
from bench.report.study import Figure, Section, StudyReport, build_study
from bench.report.tables import Table, claims_view, plain_table
from bench.results import load_records

STATISTICS = [
    "Seeds are paired: one seed fixes the data draw and the initialisation for every arm of a condition, so "
    "arms are compared seed by seed (arm − STL) on the seeds both finished; tables say how many (n pairs).",
    "Every interval is a 95% bootstrap CI over seeds (4000 resamples, fixed generator), expanded for small "
    "samples after Hesterberg (2015) so that 5 seeds still cover about 95%. A bootstrap interval cannot "
    "reach beyond the observed seeds, so with fewer than 5 seeds treat it as optimistic.",
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


def _overall_section(reports: list[StudyReport], out: Path) -> Section:
    """Win/tie/loss summed over studies and one Friedman ranking over every study's blocks."""
    section = Section("All studies together")
    counts = [r.win_tie_loss.assign(study=r.name) for r in reports if r.win_tie_loss is not None]
    if counts:
        total = pd.concat(counts).fillna(0).groupby("arm").sum(numeric_only=True).astype(int).reset_index()
        section.tables.append(plain_table(
            total, "win_tie_loss_all", "Win / tie / loss against STL, all studies",
            "Conditions (knob values) of every study where the arm's target score beats STL (95% CI of the "
            "paired difference above zero), ties or loses."))
    pooled = [_blocks(r.data) for r in reports if not r.data.tidy.empty]
    if pooled:
        result = friedman(pd.concat(pooled), ["block"])
        if result:
            path = plot_cd_diagram(result, "all studies: regimes", out / "figures" / "cd_all")
            section.figures.append(Figure(path, "Critical-difference diagram over the blocks of every study "
                                                "(each block: one study, condition and seed)."))
    return section


def _blocks(study: StudyData) -> pd.DataFrame:
    """Target scores with one ``block`` label per (study, condition), so that studies can be pooled."""
    scores = target_scores(study.tidy)
    return scores.assign(block=study.name + " | " + scores[study.keys].astype(str).agg(",".join, axis=1))


def index_markdown(claims: Table, reports: list[StudyReport], versions: Table, experiments: Path) -> str:
    lines = ["# mtl-transfer-bench report", "",
             "The full report with every figure is [index.html](index.html). Each study sweeps the knob of one "
             "claim over every regime with paired seeds (see conf/study/).", "", "## Claims", "",
             claims.markdown(), "## Studies", ""]
    for report in reports:
        lines.append(f"- [{report.name}]({report.name}/README.md): varies {report.protocol['varied']}; "
                     f"{report.protocol['runs']}")
    if not reports:
        lines.append(f"No run records found in `{experiments}`: run a study first, e.g. `make bench`.")
    lines += ["", "## How the statistics work", "", *[f"- {s}" for s in STATISTICS], "", "## Software", "",
              versions.markdown()]
    return "\n".join(lines) + "\n"


def write_reports(experiments: Path, reports: Path) -> Path:
    """One folder per study under ``reports`` plus ``index.md`` and the self-contained ``index.html``."""
    reports.mkdir(parents=True, exist_ok=True)
    studies = sorted(p for p in Path(experiments).iterdir() if p.is_dir() and not p.name.startswith("."))
    built, all_records = [], []
    for folder in studies:
        records = load_records(folder)
        if not records:
            continue
        all_records += records
        report = build_study(folder.name, records, reports / folder.name)
        (report.folder / "README.md").write_text(study_markdown(report))
        built.append(report)

    claims = claims_view(claims_table({r.name: r.data for r in built}), VERDICT_RULE)
    versions = plain_table(software_versions(all_records), "software", "Software versions",
                           "From the records' `versions` field; a package with several versions lists each.")
    overall = _overall_section(built, reports)
    for table in (claims, versions, *overall.tables):
        table.write(reports / "tables")
    (reports / "index.md").write_text(index_markdown(claims, built, versions, experiments))
    write_page(reports / "index.html", claims, built, overall, versions, STATISTICS)
    return reports / "index.html"
