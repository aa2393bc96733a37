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


def test_page_holds_claims_map_studies_and_protocol(report):
    page = (report / "index.html").read_text()
    for heading in ("Claims", "Regime map", "Study <code>relatedness</code>", "Study <code>regime_map</code>",
                    "Protocol and statistics", "Software versions", "Missing and failed runs"):
        assert heading in page
    assert page.count("data:image/png;base64,") >= 8  # figures are embedded, the page stands alone
    assert "2.13.0+cpu" in page and "max_steps=200" in page
    assert "RuntimeError: diverged" in page


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
    assert (report / "regime_map" / "regime_map.svg").exists()


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
    assert (tmp_path / "w" / "cd_weighting.svg").exists()
    ranks = (tmp_path / "w" / "tables" / "ranks_weighting.md").read_text()
    assert ranks.index("mtl-mgda") < ranks.index("mtl-pcgrad") < ranks.index("mtl-equal")  # best first
