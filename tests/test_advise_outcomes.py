"""Outcomes read from records: an arm beats STL when its paired Δm% CI lies above zero and its mean beyond the
margin; the better transfer strategy answers for TL; each condition keeps the configs its pilot re-runs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.advise.outcomes import MARGIN, condition_outcomes, training_seconds

ARMS = (("stl", None), ("mtl", None), ("tl", "full"), ("tl", "linear_probe"))


def _record(regime: str, strategy: str | None, seed: int, relatedness: float, mse: float) -> dict:
    tasks = [{"task": f"task{t}", "role": "target" if t == 0 else "source", "kind": "regression",
              "val": {"mse": mse, "r2": 1 - mse}, "test": {"mse": mse, "r2": 1 - mse}}
             for t in range(1 if regime == "tl" else 2)]
    data = {"_target_": "bench.data.make_synthetic", "relatedness": relatedness}
    return {"run_id": f"{regime}{strategy}{seed}{relatedness}", "study": "toy", "seed": seed, "regime": regime,
            "strategy": strategy, "status": "ok", "knobs": {"relatedness": relatedness}, "tasks": tasks,
            "config": {"data": data, "regime": {"name": regime}, "seed": seed},
            "timings": {"total_s": 10.0, "population_size": 5}}


def _study(changes: dict[tuple, callable]) -> list[dict]:
    """Five seeds at two relatednesses; ``changes`` gives each arm's MSE relative to STL's (1.0)."""
    rng = np.random.default_rng(0)
    return [_record(regime, strategy, seed, rho, changes.get((regime, strategy), lambda s, r: 1.0)(seed, rho)
                    * (1 + 0.001 * rng.standard_normal()))
            for rho in (0.0, 1.0) for seed in range(5) for regime, strategy in ARMS]


def test_an_arm_beats_stl_only_beyond_the_margin_with_its_ci_above_zero():
    outcomes = condition_outcomes("toy", _study({
        ("mtl", None): lambda seed, rho: 0.9 if rho == 1.0 else 0.995,  # 10% better; 0.5%: inside the margin
        ("tl", "full"): lambda seed, rho: 1.2,  # worse everywhere
        ("tl", "linear_probe"): lambda seed, rho: 0.8 if rho == 0.0 else 1.0,  # TL's answer where it helps
    })).set_index("condition")
    assert outcomes.loc["relatedness=1.0", "mtl_beats"] == 1 and outcomes.loc["relatedness=0.0", "mtl_beats"] == 0
    assert outcomes.loc["relatedness=1.0", "mtl_gain"] == pytest.approx(10, abs=0.5)
    assert abs(outcomes.loc["relatedness=0.0", "mtl_gain"]) < MARGIN
    assert outcomes.loc["relatedness=0.0", "tl_beats"] == 1 and outcomes.loc["relatedness=1.0", "tl_beats"] == 0
    assert outcomes.loc["relatedness=0.0", "tl_gain"] == pytest.approx(20, abs=0.5)  # the probe's, not full's
    assert outcomes.loc["relatedness=1.0", "mtl_seed_share"] == 1.0


def test_one_lucky_seed_is_no_win():
    lucky = {("mtl", None): lambda seed, rho: 0.5 if seed == 0 else 1.0}
    outcomes = condition_outcomes("toy", _study(lucky))
    assert (outcomes["mtl_beats"] == 0).all() and (outcomes["mtl_seed_share"] == 0.2).all()


def test_each_condition_keeps_its_data_and_arm_configs_and_cost():
    records = _study({})
    row = condition_outcomes("toy", records).iloc[0]
    assert row["data"] == {"_target_": "bench.data.make_synthetic", "relatedness": 0.0}
    assert set(row["configs"]) == {"stl", "mtl", "tl-full", "tl-linear_probe"}
    assert row["seeds"] == 5 and row["seconds"] == pytest.approx(20 * 2.0)
    assert training_seconds(records) == pytest.approx(80.0)


def test_a_study_without_transfer_arms_has_no_tl_answer():
    records = [r for r in _study({}) if r["regime"] != "tl"]
    assert condition_outcomes("toy", records)["tl_beats"].isna().all()


def test_a_transfer_arm_with_a_variant_still_answers_for_tl():
    records = _study({("tl", "full"): lambda seed, rho: 0.8})
    for record in records:
        if record["regime"] == "tl":
            record["variant"] = {"pretrain": "multi_task"}  # sources of several class counts: a head per source
    outcomes = condition_outcomes("toy", records)
    assert (outcomes["tl_beats"] == 1).all()
    assert "tl-full[pretrain=multi_task]" in outcomes["configs"].iloc[0]


def test_a_pilot_re_runs_a_tuned_stl_record_untuned():
    """A record of STL tuned per task holds ``trainer.per_task`` (tuning's, not a trainer key): its pilot job
    composes without it, at the trainer's own settings for the rest."""
    from bench.advise.pilot import from_record

    trainer = {"max_steps": 300, "lr": 0.1, "weight_decay": 0.01,
               "per_task": {"task0": {"lr": 0.1, "weight_decay": 0.01}}}
    cfg = from_record({"data": {"n_tasks": 2}, "model": {"width": 8}, "regime": {"name": "stl"}, "trainer": trainer})
    assert cfg.trainer.max_steps == 300 and "per_task" not in cfg.trainer
