"""Write the whole report: one folder per study (its page, README.md, tables, figures), the claims and
overview tables, index.md and index.html."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from bench.report import plots
from bench.report.aggregate import StudyData, study_data, task_scores
from bench.report.claims import VERDICT_RULE, claims_table
from bench.report.decision import decide, decision_section
from bench.report.page import href, write_index, write_study_page
from bench.report.paired import friedman, measured_differences, summarize_differences, win_tie_loss
from bench.report.plots import plot_cd_diagram
from bench.report.protocol import software_versions
from bench.report.study import DELTA_M_RULE, Figure, Section, StudyReport, build_study
from bench.report.tables import Table, claims_view, markdown_text, plain_table
from bench.report.tuning import add_tuning, keep_tuned, load_choices, tuning_label
from bench.results import load_records
from bench.results.scan import deduplicate

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
    """The study's README.md: the same sections as its page, every printed string escaped for Markdown."""
    lines = [f"# Study `{report.name}`", ""]
    for section in ([report.decision] if report.decision else []):
        lines += _section_markdown(section, report.folder)
    lines += ["", "## Protocol", ""]
    lines += [f"- **{markdown_text(key)}**: {markdown_text(value)}" for key, value in report.protocol.items()]
    if (report.folder / "tidy.csv").exists():
        lines += ["", "Raw data: [tidy.csv](tidy.csv) (one row per run x task x split x metric). Tables in "
                  "Markdown and LaTeX: [tables/](tables/); each figure is here as PNG (and SVG with `--svg`)."]
    for section in report.sections:
        lines += _section_markdown(section, report.folder)
    return "\n".join(lines) + "\n"


def _section_markdown(section: Section, folder: Path) -> list[str]:
    lines = ["", f"## {markdown_text(section.title)}", ""]
    lines += [f"{markdown_text(text)}\n" for text in section.text]
    lines += [table.markdown() for table in section.tables]
    for figure in section.figures:
        caption = markdown_text(figure.caption)
        lines += [f"![{caption}](<{href(figure.path.relative_to(folder).as_posix())}>)", "",
                  f"*{caption}*", ""]
    return lines


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
        if len(mine) == len(own):  # the study's own counts stand: nothing to recompute
            counts.append(report.win_tie_loss)
            pooled.append(_blocks(report.data))
            continue
        study = study_data(report.name, mine)
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


def index_markdown(claims: Section, reports: list[StudyReport], versions: Table, experiments: Path,
                   claim_sentences: list[str]) -> str:
    lines = ["# mtl-transfer-bench report", "",
             "The full report is [index.html](index.html); each study has a page of its own. Each study sweeps "
             "the knob of one claim over every arm with paired seeds (see conf/study/).", "", "## What to do", ""]
    lines += [f"- {markdown_text(sentence)}" for sentence in claim_sentences]
    for report in reports:
        decision = " ".join(report.decision.text) if report.decision else "nothing to compare."
        lines.append(f"- [{markdown_text(report.name)}](<{href(report.name + '/README.md')}>): "
                     f"{markdown_text(decision)}")
    if not reports:
        lines.append(f"No run records found in `{markdown_text(experiments)}`: run a study first, e.g. `make bench`.")
    lines += ["", "## Claims", "", *(table.markdown() for table in claims.tables), "## Studies", ""]
    for report in reports:
        lines.append(f"- [{markdown_text(report.name)}](<{href(report.name + '/README.md')}>): varies "
                     f"{markdown_text(report.protocol['varied'])}; {report.protocol['runs']}; "
                     f"{markdown_text(tuning_label(report.protocol))}")
    lines += ["", "## How the statistics work", "", *[f"- {s}" for s in STATISTICS], "", "## Software", "",
              versions.markdown()]
    return "\n".join(lines) + "\n"


def write_study(experiments: Path, folder: Path, reports: Path, svg: bool = False) -> tuple[StudyReport, list]:
    """One study's folder under ``reports``: computed, drawn and written (a job of its own, so that studies
    can be built side by side). Returns the report and the records it compared (none: no report)."""
    plots.VECTOR.on = svg
    records, dropped = keep_tuned(load_records(folder))
    if not records:
        return None, []
    report = build_study(folder.name, records, reports / folder.name)
    add_tuning(report, records, load_choices(experiments, folder.name), dropped)
    report.decision = decision_section(decide(report.data, records), report.data.keys)
    for table in report.decision.tables if report.decision else []:
        table.write(report.folder / "tables")
    (report.folder / "README.md").write_text(study_markdown(report))
    write_study_page(report)
    return report, records


def _write_studies(experiments: Path, studies: list[Path], reports: Path, jobs: int, svg: bool) -> list[tuple]:
    """Every study's ``write_study``, in ``jobs`` processes at once (largest first, so that one big study does
    not start last), in the order of ``studies``."""
    if jobs <= 1 or len(studies) <= 1:
        return [write_study(experiments, folder, reports, svg) for folder in studies]
    largest = sorted(studies, key=lambda folder: -sum(1 for _ in folder.rglob("*.json")))
    with ProcessPoolExecutor(max_workers=min(jobs, len(studies))) as pool:
        futures = {folder: pool.submit(write_study, experiments, folder, reports, svg) for folder in largest}
        done = {folder: future.result() for folder, future in futures.items()}
    return [done[folder] for folder in studies]


def write_reports(experiments: Path, reports: Path, only: list[str] | None = None,
                  claim_sentences: list[str] = (), jobs: int = 1, svg: bool = False) -> Path:
    """One folder per study under ``reports`` (its ``index.html`` page, ``README.md``, tables, figures) plus
    ``index.md`` and ``index.html``; ``only`` names the studies to include (default: every study folder).
    ``claim_sentences`` (one per claim, issue 23) open the index's decision. ``jobs`` studies are built at
    once; ``svg`` writes every figure as SVG too."""
    plots.VECTOR.on = svg
    reports.mkdir(parents=True, exist_ok=True)
    studies = sorted(p for p in Path(experiments).iterdir() if p.is_dir() and not p.name.startswith("."))
    if only:
        unknown = sorted(set(only) - {p.name for p in studies})
        if unknown:
            raise ValueError(f"no study {unknown[0]!r} in {experiments}; studies: {[p.name for p in studies]}")
        studies = [p for p in studies if p.name in only]
    written = [(report, records) for report, records in _write_studies(experiments, studies, reports, jobs, svg)
               if report is not None]
    built = [report for report, _ in written]
    by_study = {report.name: records for report, records in written}

    all_records = deduplicate([r for records in by_study.values() for r in records])
    claims = Section("", tables=[claims_view(claims_table({r.name: r.data for r in built}), VERDICT_RULE)])
    versions = plain_table(software_versions(all_records), "software", "Software versions",
                           "From the records' `versions` field (each run once); a package with several versions "
                           "lists each.")
    overall = _overall_section(built, by_study, reports)
    for table in (*claims.tables, versions, *overall.tables):
        table.write(reports / "tables")
    (reports / "index.md").write_text(index_markdown(claims, built, versions, experiments, list(claim_sentences)))
    write_index(reports / "index.html", claims, built, overall, versions, [*STATISTICS, DELTA_M_RULE],
                {r.name: tuning_label(r.protocol) for r in built}, list(claim_sentences))
    return reports / "index.html"
