"""The decision: the recommended arm follows the numbers (the cheapest arm no other beats beyond the margin, STL
when nothing does), a classical anchor that beats it is named, and few seeds are flagged."""

from __future__ import annotations

import numpy as np

from bench.report.aggregate import study_data
from bench.report.decision import decide, decision_section, sentences

ARMS = {"stl": ("stl", None), "mtl": ("mtl", None), "tl-full": ("tl", "full"), "sklearn-ridge": ("sklearn", "ridge")}


def _records(gains: dict[str, float], steps: dict[str, int], seeds: int = 8, knobs=({"n_tasks": 3},),
             noise: float = 0.002) -> list[dict]:
    """Every arm on three tasks (transfer on each as the target in turn is not needed here: it reports
    every task too), its score STL's plus its gain, seed-level noise shared by all arms (pairing)."""
    rng = np.random.default_rng(0)
    records = []
    for knob in knobs:
        for seed in range(seeds):
            base = 0.6 + 0.05 * rng.standard_normal()
            for arm, gain in gains.items():
                regime, strategy = ARMS[arm]
                tasks = [{"task": f"task{t}", "role": "target" if t == 0 else "source", "kind": "regression",
                          "val": {"r2": 0.5, "mse": 0.5},
                          "test": {"r2": base + gain.get(knob.get("x"), 0) if isinstance(gain, dict) else base + gain
                                   + noise * rng.standard_normal(), "mse": 0.4}} for t in range(3)]
                records.append({"run_id": f"{arm}{seed}{knob}", "study": "s", "seed": seed, "regime": regime,
                                "strategy": strategy, "status": "ok", "knobs": dict(knob), "tasks": tasks,
                                "fit": {"steps": steps.get(arm, 0)}, "config": {"trainer": {"max_steps": 500}}})
    return records


def _decide(records):
    return decide(study_data("s", records), records)


def test_an_arm_that_beats_every_other_beyond_the_margin_is_recommended():
    records = _records({"stl": 0.0, "mtl": 0.05, "sklearn-ridge": -0.1}, {"stl": 300, "mtl": 300})
    [decision] = _decide(records)
    assert decision.recommended == "mtl" and decision.best == "mtl"
    assert 0.04 < decision.versus_stl["mean"] < 0.06 and decision.versus_stl["ci_low"] > 0.01
    assert decision.tasks == {"win": 3, "tie": 0, "loss": 0}
    text = " ".join(sentences(decision))
    assert "Recommended: `mtl`" in text and "winning 3 of 3 tasks" in text and "over 8 paired seeds" in text


def test_nothing_beats_stl_beyond_the_margin_so_stl_is_kept():
    records = _records({"stl": 0.0, "mtl": 0.004, "tl-full": -0.002}, {"stl": 300, "mtl": 100, "tl-full": 50})
    [decision] = _decide(records)
    assert decision.recommended == "stl"  # mtl is ahead and cheaper, but not surely by more than 0.01
    assert decision.challenger.name == "mtl"
    assert "the default" in sentences(decision)[0]


def test_of_two_arms_that_beat_stl_and_tie_each_other_the_cheaper_is_recommended():
    records = _records({"stl": 0.0, "mtl": 0.05, "tl-full": 0.052}, {"stl": 300, "mtl": 300, "tl-full": 700})
    [decision] = _decide(records)
    assert decision.best == "tl-full" and decision.recommended == "mtl"  # tl-full pretrains: more steps


def test_a_classical_anchor_that_beats_the_recommendation_is_named():
    records = _records({"stl": 0.0, "mtl": 0.05, "sklearn-ridge": 0.1}, {"stl": 300, "mtl": 300})
    [decision] = _decide(records)
    assert decision.recommended == "mtl" and decision.best == "sklearn-ridge"  # anchors are never recommended
    assert decision.classical.name == "sklearn-ridge" and decision.classical["ci_low"] > 0.01
    assert "beats the recommendation beyond the margin" in " ".join(sentences(decision))


def test_few_seeds_are_flagged():
    records = _records({"stl": 0.0, "mtl": 0.05}, {"stl": 300, "mtl": 300}, seeds=3)
    [decision] = _decide(records)
    assert decision.seeds == 3 and "Only 3 seed(s)" in sentences(decision)[-1]


def test_a_study_with_several_conditions_gets_a_summary_and_one_row_each():
    knobs = ({"x": 0.0}, {"x": 1.0})
    records = _records({"stl": 0.0, "mtl": {0.0: -0.05, 1.0: 0.05}}, {"stl": 300, "mtl": 300}, knobs=knobs)
    decisions = _decide(records)
    assert [d.recommended for d in decisions] == ["stl", "mtl"]
    section = decision_section(decisions, ["x"])
    assert section.text == ["Recommended: `stl` at x = 0; `mtl` at x = 1."]
    assert list(section.tables[0].frame["recommended"]) == ["stl", "mtl"]


def test_an_error_metric_ranks_the_lowest_first_and_reads_positive_as_better():
    records = _records({"stl": 0.0, "mtl": -0.05}, {"stl": 300, "mtl": 300})  # mtl's error is lower
    for record in records:
        for task in record["tasks"]:
            task["test"] = {"rmse": task["test"]["r2"]}
        record["descriptors"] = {"primary_metric": {task["task"]: "rmse" for task in record["tasks"]}}
    [decision] = _decide(records)
    assert decision.metric == "rmse" and decision.best == "mtl" and decision.recommended == "mtl"
    assert decision.versus_stl["mean"] > 0.04  # oriented: positive means mtl's error is lower
    assert list(decision.ranking["arm"]) == ["mtl", "stl"]
