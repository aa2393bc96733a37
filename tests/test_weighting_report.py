"""The report's MTL-methods section on hand-made records: Δm%, the best static weighting (chosen on
validation), the paired verdict against it, per-step cost and the Pareto front."""

from __future__ import annotations

import pytest

from bench.report.study import build_study

VERSIONS = {"python": "3.11.7", "torch": "2.13.0+cpu", "mtl-transfer-bench": "0.1.0"}
# (weighting, task0 r2, task1 r2, val loss, ms per step): "good" beats every static weighting on both tasks
ARMS = [(None, 0.60, 0.60, 0.40, 1.0), ("sum", 0.70, 0.70, 0.30, 2.0), ("good", 0.80, 0.80, 0.20, 8.0),
        ("static(0.9,0.1)", 0.75, 0.62, 0.31, 2.0), ("static(0.1,0.9)", 0.62, 0.75, 0.29, 2.0)]


def _record(weighting, r2_a, r2_b, val_loss, step_ms, seed, sizes=(32, 32), fit=None):
    noise = 0.002 * ((seed * 7) % 5 - 2)
    tasks = [{"task": f"task{t}", "role": "target" if t == 0 else "source", "kind": "regression",
              "val": {"loss": val_loss, "mse": val_loss, "r2": 1 - val_loss},
              "test": {"loss": 1 - r2 - noise, "mse": 1 - r2 - noise, "r2": r2 + noise}}
             for t, r2 in enumerate((r2_a, r2_b))]
    regime = "stl" if weighting is None else "mtl"
    return {"run_id": f"{regime}{weighting}{seed}".replace("(", "").replace(")", "").replace(",", "").replace(".", ""),
            "study": "weighting", "seed": seed, "regime": regime, "strategy": None, "weighting": weighting,
            "status": "ok", "knobs": {"n_tasks": 2, "relatedness": 0.0}, "tasks": tasks, "versions": VERSIONS,
            "fit": {"steps": 100, **(fit or {})},
            "descriptors": {"train_sizes": list(sizes)},
            "timings": {"step_ms": step_ms, "population_size": 5, "total_s": 1.0},
            "config": {"data": {"n_tasks": 2, "relatedness": 0.0}, "model": {}, "trainer": {}, "seed": seed}}


def test_methods_section_ranks_compares_with_best_static_costs_and_solver_misses(tmp_path):
    misses = {"good": 0, "static(0.9,0.1)": 2}  # a method that solves each step without a miss, one with two
    records = [_record(*arm, seed, fit={"unconverged_steps": misses[arm[0]] * (seed == 1)} if arm[0] in misses
                       else None) for arm in ARMS for seed in range(5)]
    report = build_study("weighting", records, tmp_path)
    (section,) = [s for s in report.sections if s.title == "MTL weighting methods"]
    table = section.tables[0].frame.set_index("arm")
    assert table.index[0] == "mtl-good"  # best delta_m first
    assert set(table["best static"]) == {"mtl-static(0.1,0.9)"}  # the lower validation loss, not the test
    assert table.loc["mtl-good", "vs outcome"] == "win"
    assert table.loc["mtl-sum", "x sum"] == "1.000" and table.loc["mtl-good", "x sum"] == "4.000"
    assert table.loc["mtl-good", "solver converged"] == "every step (500)"
    assert table.loc["mtl-sum", "solver converged"] == "no solver"
    assert table.loc["mtl-static(0.9,0.1)", "solver converged"] == "2 of 500 steps missed"
    assert any("mtl-good, mtl-sum beat the best static weighting" in line for line in section.text)
    assert section.figures and section.figures[0].path.exists()


def test_no_methods_section_without_several_methods(tmp_path):
    records = [_record(*arm, seed) for arm in ARMS[:2] for seed in range(3)]
    report = build_study("weighting", records, tmp_path)
    assert not [s for s in report.sections if s.title == "MTL weighting methods"]


def test_largest_and_smallest_task_are_told_apart_when_sizes_differ(tmp_path):
    records = [_record(*arm, seed, sizes=(64, 8)) for arm in ARMS[:4] for seed in range(4)]
    for seed in range(4):  # transfer reports its target (task0, the largest) only
        tl = _record(None, 0.9, 0.0, 0.1, 1.0, seed, sizes=(64, 8))
        records.append({**tl, "run_id": f"tl{seed}", "regime": "tl", "strategy": "full", "tasks": tl["tasks"][:1]})
    (section,) = [s for s in build_study("weighting", records, tmp_path).sections
                  if s.title == "MTL weighting methods"]
    (sizes,) = [t for t in section.tables if t.name == "task_sizes"]
    row = sizes.frame.set_index("arm").loc["mtl-static(0.9,0.1)"]  # task0 (64 examples) 0.75, task1 (8) 0.62
    assert [float(row[c].split()[0]) for c in ("largest task", "smallest task", "mean over tasks")] == \
        pytest.approx([0.75, 0.62, 0.685], abs=0.003)
    transfer = sizes.frame.set_index("arm").loc["tl-full"]
    assert transfer["largest task"].startswith("0.9") and transfer["smallest task"] == "—"
    balanced = build_study("weighting", [_record(*arm, seed) for arm in ARMS for seed in range(4)], tmp_path / "b")
    assert not [t for s in balanced.sections for t in s.tables if t.name == "task_sizes"]


def test_without_static_weights_one_sentence_says_so(tmp_path):
    records = [_record(*arm, seed) for arm in ARMS[:3] for seed in range(3)]
    (section,) = [s for s in build_study("weighting", records, tmp_path).sections
                  if s.title == "MTL weighting methods"]
    assert section.text == ["No static weighting ran in this study, so no method is compared with one."]
