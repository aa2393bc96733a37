"""Write a study's report folder and the index that links them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.aggregate import summarize, target_scores, varied_knobs
from bench.report.plots import plot_metric_vs_knob
from bench.results import runs_table, tidy


def _cell(row: pd.Series) -> str:
    if np.isnan(row["ci_low"]):
        return f"{row['mean']:.3f} (n={row['n_seeds']})"
    return f"{row['mean']:.3f} ± {(row['ci_high'] - row['ci_low']) / 2:.3f} (n={row['n_seeds']})"


def summary_table(summary: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Knob values as rows, regimes as columns, ``mean ± CI half-width (n seeds)`` in each cell."""
    cells = summary.assign(cell=summary.apply(_cell, axis=1))
    return cells.pivot(index=knob, columns="label", values="cell").reset_index()


def write_study(name: str, records: list[dict], out_dir: Path) -> dict:
    """Tidy CSV, Markdown table and plot for one study; returns what the index says about it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs, data = runs_table(records), tidy(records)
    failed = runs[runs["status"] == "failed"]
    info = {"study": name, "runs": len(runs), "failed": len(failed), "knobs": []}
    lines = [f"# Study `{name}`", "", f"{len(runs)} runs, {len(runs) - len(failed)} ok, {len(failed)} failed."]
    if not data.empty:
        data.to_csv(out_dir / "tidy.csv", index=False)
        scores = target_scores(data)
        knobs = varied_knobs(runs[runs["status"] == "ok"]) or ["seed"]
        info["knobs"] = knobs
        metric = scores["metric"].iloc[0]
        lines += ["", f"Score: the target task's test **{metric}** (higher is better), mean ± 95% CI half-width "
                  "over seeds (Student t), n = number of seeds. Model selection used the validation split only.",
                  "", "Raw data: [tidy.csv](tidy.csv) (one row per run x task x split x metric)."]
        for knob in knobs:
            summary = summarize(scores, knob)
            values = summary[knob].astype(float)
            log_x = bool((values > 0).all() and values.max() / values.min() >= 8)
            plot = plot_metric_vs_knob(summary, knob, f"{name}: {metric} vs {knob}", out_dir / f"{knob}.png", log_x)
            lines += ["", f"## {metric} vs `{knob}`", "", f"![{metric} vs {knob}]({plot.name})", "",
                      summary_table(summary, knob).to_markdown(index=False)]
    if len(failed):
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{r.run_id}` {r.label} seed={r.seed}: {r.error}" for r in failed.itertuples()]
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")
    return info


def write_reports(experiments: Path, reports: Path) -> Path:
    """One folder per study under ``reports`` plus ``reports/index.md``."""
    from bench.results import load_records

    studies = sorted(p for p in Path(experiments).iterdir() if p.is_dir() and not p.name.startswith("."))
    reports.mkdir(parents=True, exist_ok=True)
    lines = ["# mtl-transfer-bench report", "",
             "Each study sweeps one knob over every regime and several paired seeds (see conf/study/).", ""]
    for study in studies:
        records = load_records(study)
        if not records:
            continue
        info = write_study(study.name, records, reports / study.name)
        knobs = ", ".join(f"`{k}`" for k in info["knobs"]) or "nothing"
        lines.append(f"- [{study.name}]({study.name}/README.md): varies {knobs}; "
                     f"{info['runs']} runs, {info['failed']} failed")
    if len(lines) == 4:
        lines.append(f"No run records found in `{experiments}`: run a study first, e.g. `make bench`.")
    index = reports / "index.md"
    index.write_text("\n".join(lines) + "\n")
    return index
