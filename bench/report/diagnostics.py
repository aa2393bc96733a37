"""The transferability diagnostics section: why a source helps or hurts, per source and condition (issue 11).

Transfer records carry their pretrained trunk's diagnostics (``fit.diagnostics``, ``bench/diagnostics.py``).
They are shown per arm: untuned, every strategy of a condition shares one trunk (and the same values); tuned,
each arm pretrains with the learning rate and weight decay chosen for it, so each has a trunk of its own.
"""

from __future__ import annotations

import pandas as pd

from bench.report.aggregate import StudyData
from bench.report.stats import bootstrap_ci
from bench.report.tables import Table, interval, plain_table
from bench.results.records import target_task
from bench.results.scan import primary_metric

MEASURES = (("probe", "pretrained"), ("probe", "random"), ("probe", "raw"), ("effective_rank", "pretrained"),
            ("effective_rank", "random"), ("dead_units", "pretrained"), ("dead_units", "random"))
READING = (
    "Three converged linear probes (strength chosen on the target's validation split) score the target's test "
    "split on the **pretrained** trunk's features, on those of the **random** trunk of the same architecture "
    "that STL starts from, and on the **raw** inputs: a source pays where the first beats the other two; "
    "pretrained below random means pretraining threw away what the target needs. **Effective rank** (RankMe: "
    "the exponential of the entropy of the normalised singular values) and **dead units** (zero on every "
    "target test row) of both trunks' features say how: features collapsed onto a few source directions have "
    "a low rank and many dead units. No choice of the suite reads these numbers."
)
CAPTION = ("Mean over seeds [95% bootstrap CI]; n = seeds. Per arm, as a tuned arm pretrains with its own "
           "settings (untuned, the arms of a condition share a trunk and show the same values). Probes on the "
           "target's primary metric (`metric`).")


def source_of(record: dict) -> str:
    """Where the trunk came from: the pretraining choice, and the source's name for a single one."""
    variant = record.get("variant") or {}
    pretrain = variant.get("pretrain", "pooled")
    return f"single: {variant['source']}" if variant.get("source") else pretrain


def diagnostic_rows(records: list[dict], runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per (arm, source, condition, seed): each measure of ``MEASURES``, the probes on the target's
    primary metric. ``runs`` maps a run id to its arm and knob values (the study's runs table)."""
    by_run = runs.set_index("run_id")[["arm", *keys]]
    rows = []
    for record in records:
        fit = record.get("fit") or {}
        if record.get("status") != "ok" or record["run_id"] not in by_run.index:
            continue
        target = target_task(record)
        metric = primary_metric(record, target)
        found = {f"single: {n}": s.get("diagnostics") for n, s in fit["sources"].items()} if "sources" in fit \
            else {source_of(record): fit.get("diagnostics")}
        arm, *condition = by_run.loc[record["run_id"]]
        for source, diagnostics in found.items():
            if diagnostics:
                rows.append({
                    "arm": arm, "source": source, **dict(zip(keys, condition, strict=True)), "seed": record["seed"],
                    "metric": metric,
                    **{f"{kind} {name}": (diagnostics[kind][name][metric] if kind == "probe"
                                          else diagnostics[kind][name]) for kind, name in MEASURES}})
    return pd.DataFrame(rows)


def transferability_report(study: StudyData, records: list[dict]) -> tuple[list[str], list[Table]] | None:
    """The section's text and table, or None when no record carries diagnostics."""
    rows = diagnostic_rows(records, study.runs, study.keys)
    if rows.empty:
        return None
    measures = [f"{kind} {name}" for kind, name in MEASURES]
    summary = []
    for (arm, source, *condition, metric), group in rows.groupby(["arm", "source", *study.keys, "metric"]):
        cells = {}
        for measure in measures:
            low, high = bootstrap_ci(group[measure].to_numpy())
            cells[measure] = interval(float(group[measure].mean()), low, high, 1 if "rank" in measure else 3)
        summary.append({"arm": arm, "source": source, **dict(zip(study.keys, condition, strict=True)), "metric": metric,
                        **cells, "n": len(group)})
    table = pd.DataFrame(summary).rename(columns={f"probe {n}": f"probe on {n}" for _, n in MEASURES})
    collapsed = rows[rows["probe pretrained"] < rows["probe random"]]
    text = [READING, f"The pretrained probe falls below the random trunk's in {len(collapsed)} of {len(rows)} "
                     "(arm, source, condition, seed) cells."]
    return text, [plain_table(table, "transferability", "Transferability diagnostics per source", CAPTION,
                              study.keys)]
