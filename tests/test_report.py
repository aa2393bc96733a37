"""End to end: synthetic run records in, the whole report out (no training involved)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench.report.__main__ import main
from bench.report.study import build_study
from bench.results import write_record

ARMS = (("stl", None), ("mtl", None), ("tl", "full"), ("tl", "linear_probe"))
VERSIONS = {"python": "3.11.7", "torch": "2.13.0+cpu", "mtl-transfer-bench": "0.1.0"}


def _metrics(r2: float) -> dict:
    return {"loss": 1 - r2, "mse": 1 - r2, "r2": r2}


def _record(study: str, regime: str, strategy: str | None, seed: int, knobs: dict, r2: float) -> dict:
    """A record in bench.run's format: TL reports the target only, the others every task."""
    name = f"{study}-{regime}-{strategy}-{seed}-" + "-".join(f"{k}{v}" for k, v in knobs.items())
    tasks = [{"task": f"task{t}", "role": "target" if t == 0 else "source", "kind": "regression",
              "val": _metrics(r2 - 0.01), "test": _metrics(r2 - 0.005 * t)} for t in range(1 if regime == "tl" else 3)]
    return {
        "run_id": re.sub(r"[^a-z0-9]+", "", name.lower()), "study": study, "seed": seed, "regime": regime,
        "strategy": strategy, "status": "ok", "knobs": {"n_tasks": 3, **knobs}, "tasks": tasks,
        "versions": VERSIONS,
        "config": {"data": {"_target_": "bench.data.make_synthetic", "n_tasks": 3, **knobs},
                   "model": {"width": 64, "depth": 2}, "trainer": {"max_steps": 200, "patience": 6}, "seed": seed},
    }


def _gain(regime: str, strategy: str | None, relatedness: float, target_size: int) -> float:
    """MTL gains with relatedness; TL gains most when the target is small; the probe never gains."""
    if regime == "mtl":
        return 0.2 * relatedness - 0.05
    if regime == "tl":
        return 0.0 if strategy == "linear_probe" else 0.3 / np.log2(target_size)
    return 0.0


def _write_study(root, study: str, grid: list[dict], seeds: int = 5) -> None:
    rng = np.random.default_rng(0)
    for knobs in grid:
        for seed in range(seeds):
            base = 0.5 + 0.02 * seed
            for regime, strategy in ARMS:
                gain = _gain(regime, strategy, knobs.get("relatedness", 0.5), knobs.get("target_size", 32))
                value = base + gain + 0.005 * rng.standard_normal()
                write_record(root / study, _record(study, regime, strategy, seed, knobs, value))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    _write_study(root, "relatedness", [{"relatedness": r, "target_size": 32} for r in (0.0, 0.5, 1.0)])
    _write_study(root, "regime_map", [{"relatedness": r, "target_size": n} for r in (0.0, 1.0) for n in (8, 64)])
    failed = _record("relatedness", "mtl", None, 5, {"relatedness": 1.0, "target_size": 32}, 0.0)
    failed.pop("knobs")  # a job that dies before building its data records no knobs: the report reads its config
    write_record(root / "relatedness", {**failed, "status": "failed", "error": "RuntimeError: diverged",
                                        "tasks": None})
    stl_extra = _record("relatedness", "stl", None, 5, {"relatedness": 1.0, "target_size": 32}, 0.5)
    write_record(root / "relatedness", stl_extra)
    out = tmp_path_factory.mktemp("reports")
    assert main(["--experiments", str(root), "--out", str(out)]) == 0
    return out


def test_index_opens_with_the_decision_and_links_every_study_page(report):
    page = (report / "index.html").read_text()
    assert page.index("What to do") < page.index('id="claims"')
    for heading in ("Claims", "Regime map", "Protocol and statistics", "Software versions"):
        assert heading in page
    for study in ("relatedness", "regime_map"):
        assert f'href="./{study}/index.html"' in page and (report / study / "index.html").exists()
    assert page.count("data:image/png;base64,") >= 2  # the index's own figures are embedded: it stands alone
    assert "2.13.0+cpu" in page


def test_study_page_opens_with_the_decision_and_links_its_figures(report):
    page = (report / "relatedness" / "index.html").read_text()
    assert page.index('<h2 id="what-to-do">') < page.index('<h2 id="every-task-against-stl')
    assert "data:image" not in page  # a study page links the figures beside it
    figures = re.findall(r'<img alt="[^"]*" src="\./([^"]+)"', page)
    assert len(figures) >= 3 and all((report / "relatedness" / name).exists() for name in figures)
    assert "max_steps=200" in page and "Missing and failed runs" in page and "RuntimeError: diverged" in page


def test_claims_verdicts_follow_the_data(report):
    claims = (report / "tables" / "claims.md").read_text()
    row = next(line for line in claims.splitlines() if line.startswith("|       1 "))
    assert "supported" in row  # MTL's gain grows with relatedness by construction
    imbalance = next(line for line in claims.splitlines() if line.startswith("|       2 "))
    assert "not run" in imbalance and "imbalance" in imbalance
    assert "descriptive" in claims


def test_every_table_has_markdown_and_latex(report):
    tables = report / "relatedness" / "tables"
    names = {p.stem for p in tables.glob("*.md")}
    assert {"scores", "paired_target", "delta_m", "win_tie_loss", "missing_runs"} <= names
    assert names == {p.stem for p in tables.glob("*.tex")}
    assert "\\begin{tabular}" in (tables / "paired_target.tex").read_text()
    assert (report / "relatedness" / "tidy.csv").stat().st_size > 0
    assert (report / "regime_map" / "regime_map.png").exists()
    assert not list(report.rglob("*.svg"))  # vector figures only when asked for (--svg)


def test_missing_seed_is_flagged_not_averaged_away(report):
    scores = (report / "relatedness" / "tables" / "scores.md").read_text()
    assert "n=5/6 ⚠" in scores  # mtl at relatedness 1 lacks seed 5, which failed
    missing = (report / "relatedness" / "tables" / "missing_runs.md").read_text()
    assert "[5]" in missing
    paired = (report / "relatedness" / "tables" / "paired_target.md").read_text()
    assert re.search(r"\| mtl +\| +1 +\|.*\| +5 +\|", paired)  # five pairs, not six


def test_regime_map_names_winners(report):
    cells = (report / "regime_map" / "tables" / "regime_map.md").read_text()
    # Identical tasks: MTL gains +0.15 with little noise; unrelated, large target: STL, MTL-0.05 and TL close.
    assert re.search(r"\|\s+1\s+\|\s+64\s+\|\s+mtl\s+\|\s+mtl\s+\|", cells)


def test_missing_experiments_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["--experiments", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    assert "nope" in capsys.readouterr().err


def test_mtl_weighting_methods_become_arms_with_their_own_ranking(tmp_path):
    records = []
    for seed in range(3):
        for x in (0.0, 1.0):
            records.append(_record("w", "stl", None, seed, {"relatedness": x}, 0.5))
            for offset, method in enumerate(("equal", "pcgrad", "mgda")):
                record = _record("w", "mtl", None, seed, {"relatedness": x}, 0.6 + 0.05 * offset)
                records.append({**record, "run_id": f"{record['run_id']}{method}", "weighting": method})
    report = build_study("w", records, tmp_path / "w")
    assert set(report.data.runs["arm"]) == {"stl", "mtl-equal", "mtl-pcgrad", "mtl-mgda"}
    assert (tmp_path / "w" / "cd_weighting.png").exists()
    ranks = (tmp_path / "w" / "tables" / "ranks_weighting.md").read_text()
    assert ranks.index("mtl-mgda") < ranks.index("mtl-pcgrad") < ranks.index("mtl-equal")  # best first


def _many_task_record(study: str, regime: str, seed: int, n_tasks: int, gain: float, target_gain: float,
                      metric: str = "auc", version: dict | None = None) -> dict:
    """A user-table record: one classification task per school, scored by ``metric`` (the family's choice)."""
    rng = np.random.default_rng([seed, n_tasks])
    tasks = []
    for t in range(1 if regime == "tl" else n_tasks):
        base = 0.7 + 0.1 * rng.random()
        value = base + (target_gain if t == 0 else gain) + 0.002 * rng.standard_normal()
        scores = {"loss": 0.5, "accuracy": 0.9, "auc": value, "balanced_accuracy": value - 0.1}
        tasks.append({"task": f"school={t}", "role": "target" if t == 0 else "source", "kind": "classification",
                      "val": scores, "test": scores})
    return {
        "run_id": f"{study}{regime}{seed}", "study": study, "seed": seed, "regime": regime,
        "strategy": "full" if regime == "tl" else None, "status": "ok", "knobs": {"n_tasks": n_tasks},
        "descriptors": {"primary_metric": {f"school={t}": metric for t in range(n_tasks)}},
        "tasks": tasks, "versions": version or VERSIONS, "population": {"members": 3}, "fit": {"extra": 1},
        "config": {"data": {"_target_": "bench.data.make_table", "path": "schools.csv"}, "seed": seed},
    }


def _write_schools(root, study: str = "schools", n_tasks: int = 30, **options) -> None:
    for seed in range(5):
        write_record(root / study, _many_task_record(study, "stl", seed, n_tasks, 0.0, 0.0, **options))
        write_record(root / study, _many_task_record(study, "mtl", seed, n_tasks, 0.05, -0.05, **options))


def test_headline_uses_every_task_and_the_chosen_metric(tmp_path):
    # MTL loses on the target (first) school but gains on the 29 others: the headline must say it gains.
    _write_schools(tmp_path / "exp")
    out = tmp_path / "out"
    assert main(["--experiments", str(tmp_path / "exp"), "--out", str(out)]) == 0
    readme = (out / "schools" / "README.md").read_text()
    assert "## Every task against STL (30 tasks, auc)" in readme
    assert re.search(r"\*\*mtl vs STL\*\*, auc over 30 task\(s\): mean difference 0\.046\d+ \[.*\] over 5 seed\(s\), "
                     r"\*\*win\*\*; per task it wins 29, ties 0 and loses 1", readme)
    outcomes = (out / "schools" / "tables" / "task_outcomes.md").read_text()
    assert re.search(r"\| mtl +\| schools +\| auc +\| +29 +\| +0 +\| +1 +\|", outcomes)
    counts = (out / "schools" / "tables" / "win_tie_loss.md").read_text()
    assert re.search(r"\| every task: auc +\| mtl +\| +1 +\| +0 +\| +0 +\|", counts)
    target = (out / "schools" / "tables" / "paired_target.md").read_text()
    assert "loss" in target and "auc" in target  # the target school alone says the opposite
    assert (out / "schools" / "per_task_auc.png").exists() and (out / "schools" / "per_task.csv").exists()
    assert not (out / "schools" / "tables" / "per_task.md").exists()  # 30 tasks: a figure, not 30 rows
    assert "balanced_accuracy" in (out / "schools" / "tidy.csv").read_text()


def test_delta_m_leaves_out_a_near_zero_baseline_and_counts_it():
    from bench.report.paired import delta_m

    rows = []
    for arm, values in (("stl", (0.0, 0.5, 0.004)), ("mtl", (0.2, 0.55, 0.3))):
        for task, value in zip("abc", values, strict=True):
            rows.append({"arm": arm, "study": "s", "seed": 0, "task": task, "metric": "accuracy", "value": value,
                         "higher_is_better": True})
    rows += [{"arm": arm, "study": "s", "seed": 0, "task": "d", "metric": "rmse", "value": v,
              "higher_is_better": False} for arm, v in (("stl", 0.0), ("mtl", 1.0))]
    import pandas as pd

    (result,) = delta_m(pd.DataFrame(rows), ["study"]).to_dict("records")
    assert result["difference"] == pytest.approx(10.0)  # task b only: 0.5 -> 0.55
    assert (result["n_tasks"], result["n_left_out"]) == (1, 3)  # a (0), c (0.004 < 0.01), d (perfect RMSE)


def test_index_deduplicates_runs_and_never_pools_metrics(tmp_path):
    root = tmp_path / "exp"
    _write_schools(root, "schools")
    _write_schools(root, "copy")  # the same runs, held by a second study
    for record in load_records_of(root / "copy"):
        write_record(root / "copy", {**record, "run_id": record["run_id"].replace("copy", "schools")})
    for path in (root / "copy").glob("copy*.json"):
        path.unlink()
    for seed in range(3):  # a study scored by R^2, with TL: claim 6 must not pool it with AUC
        for regime, gain in (("stl", 0.0), ("mtl", 0.05), ("tl", 0.02)):
            write_record(root / "r2", _many_task_record("r2", regime, seed, 3, gain, gain, metric="auc")
                         | {"run_id": f"r2{regime}{seed}"})
    write_record(root / "broken", {"run_id": "b1", "study": "broken", "seed": 0, "regime": "mtl",
                                   "strategy": None, "status": "failed", "error": "TableError: bad", "config": {}})
    out = tmp_path / "out"
    assert main(["--experiments", str(root), "--out", str(out)]) == 0
    overall = (out / "tables" / "win_tie_loss_all.md").read_text()
    assert re.search(r"\| every task: auc +\| mtl +\| +2 +\| +0 +\| +0 +\|", overall)  # schools once, r2 once
    page = (out / "index.html").read_text()
    assert "10 run(s) held by more than one study count once" in page
    assert "`broken` (every one of its 1 run(s) failed)" in page.replace("<code>", "`").replace("</code>", "`")
    assert main(["--experiments", str(root), "--out", str(tmp_path / "two"), "schools", "r2"]) == 0
    assert not (tmp_path / "two" / "copy").exists() and (tmp_path / "two" / "r2").exists()
    assert main(["--experiments", str(root), "--out", str(tmp_path / "x"), "nope"]) == 1


def test_claim_six_keeps_metrics_apart():
    from bench.report.aggregate import study_data
    from bench.report.claims import compare_mtl_tl

    studies = {}
    for name, metric in (("a", "auc"), ("b", "f1_macro")):
        records = []
        for seed in range(3):
            for regime, gain in (("stl", 0.0), ("mtl", 0.05), ("tl", 0.02)):
                record = _many_task_record(name, regime, seed, 2, gain, gain, metric=metric)
                if metric == "f1_macro":
                    for task in record["tasks"]:
                        for split in ("val", "test"):
                            task[split]["f1_macro"] = task[split]["auc"]
                records.append(record)
        studies[name] = study_data(name, records)
    rows = [r for r in compare_mtl_tl(studies) if r["verdict"] == "descriptive"]
    assert sorted(r["arm"] for r in rows) == ["mtl vs tl-full (auc)", "mtl vs tl-full (f1_macro)"]
    assert all(r["pooled"][3] == 3 for r in rows)  # three seeds each, never six


def test_records_from_other_code_are_flagged(tmp_path):
    from bench.provenance import code_commit

    old = {**VERSIONS, "git_commit": "0" * 40}
    _write_schools(tmp_path / "exp", version=old)
    report = build_study("schools", load_records_of(tmp_path / "exp" / "schools"), tmp_path / "out")
    section = next(s for s in report.sections if s.title.startswith("Records from other code"))
    assert "10 of 10 runs were made by other code than this checkout" in section.text[0]
    assert "0.1.0 @ 0000000000" in section.tables[0].markdown()
    assert code_commit()["git_commit"][:10] not in section.tables[0].markdown()


def load_records_of(folder):
    from bench.results import load_records

    return load_records(folder)


def test_a_data_setting_that_differs_between_runs_is_listed_as_varied_not_as_fixed():
    from bench.report.protocol import study_protocol

    records = [{"seed": 0, "status": "ok", "config": {"data": {"n_train": 32, "target": target, "relatedness": rho}}}
               for target in ("task1", "task2") for rho in (0.0, 1.0)]
    protocol = study_protocol(records, ["relatedness"])
    assert protocol["fixed data settings"] == "n_train=32"
    assert protocol["also varied"] == "`data.target`: task1, task2"
