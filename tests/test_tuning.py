"""Tuning: equal budgets, choices on validation only, stored and reused; the realistic validation protocol."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.data.validation import draw_family, scaled_target_validation
from bench.report.tuning import keep_tuned, tuning_protocol
from bench.results.choices import load_choices
from bench.run import run_job
from bench.tuning import stage
from bench.tuning.space import Dimension, TuningError, arm_space, dimension, grid
from tests.conftest import tiny_family

CONF = str(Path(__file__).resolve().parents[1] / "conf")
# A tiny job: 3 tasks, a 16-wide MLP, 60 steps; a grid of 4 settings per arm on 2 tuning-seed sets of one seed.
TINY = ["data.n_tasks=3", "data.input_dim=6", "data.n_train=24", "data.n_val=32", "data.n_test=64",
        "model.width=16", "model.depth=1", "trainer.max_steps=60", "trainer.eval_every=20", "trainer.patience=2",
        "trainer.batch_size=16", "tuning=small", "tuning.trials=4", "seed=[0,1]"]


def _compose(tmp_path, *overrides: str):
    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("config", overrides=[*TINY, f"paths.experiments={tmp_path}", *overrides])
    # a 2 x 2 common space, so that the grid holds exactly the budget of 4 trials
    cfg.tuning.space = {"trainer.lr": [0.003, 0.03], "trainer.weight_decay": [0.0, 0.01]}
    return cfg


def _choices(tmp_path, study="adhoc") -> list[dict]:
    return load_choices(tmp_path, study)


# --- the grid ---------------------------------------------------------------------------------------------

def test_the_grid_is_every_setting_of_its_axes():
    dims = [dimension("trainer.lr", [0.1, 0.2]), dimension("trainer.weight_decay", [0.0, 1.0])]
    assert [(s["trainer.lr"], s["trainer.weight_decay"]) for s in grid(dims)] == [(0.1, 0.0), (0.1, 1.0), (0.2, 0.0),
                                                                                  (0.2, 1.0)]


@pytest.mark.parametrize("spec", [[], [0.1, 0.1], {"low": 0.001, "high": 0.1, "log": True}, "fast"])
def test_a_bad_dimension_or_a_range_is_one_clear_error(spec):
    with pytest.raises(TuningError, match="tuning: trainer.lr"):
        dimension("trainer.lr", spec)


def test_an_arm_may_not_redefine_a_common_key():
    with pytest.raises(TuningError, match="repeats the common key"):
        arm_space({"trainer.lr": [1, 2]}, {"stl": {"trainer.lr": [3]}}, "stl")


@pytest.mark.parametrize(("dim", "value", "edge"), [
    (Dimension("trainer.lr", (0.001, 0.01, 0.1)), 0.1, True),
    (Dimension("trainer.lr", (0.001, 0.01, 0.1)), 0.001, True),
    (Dimension("trainer.lr", (0.001, 0.01, 0.1)), 0.01, False),
    (Dimension("trainer.weight_decay", (0.0, 0.01, 0.1)), 0.0, False),  # no decay: a natural bound
    (Dimension("trainer.weight_decay", (0.0, 0.01)), 0.01, False),  # two values: no inside to compare with
])
def test_a_choice_on_the_edge_of_its_space_is_flagged(dim, value, edge):
    assert dim.on_edge(value) is edge


# --- choices read validation only ---------------------------------------------------------------------------

def _fake_record(seed: int, val: float, test: float, status: str = "ok", source_val: float | None = None) -> dict:
    """A record whose target scores ``val`` on validation (minus its loss) and ``test`` on test, and whose
    source scores ``source_val`` (when given)."""
    task = {"task": "task0", "role": "target", "kind": "regression", "val": {"loss": -val, "r2": 1.0},
            "test": {"loss": -test, "r2": test}}
    tasks = [task] + ([{"task": "task1", "role": "source", "kind": "regression", "val": {"loss": -source_val},
                        "test": {"loss": 0.0}}] if source_val is not None else [])
    return {"seed": seed, "status": status, "tasks": tasks, "error": None if status == "ok" else "DivergenceError"}


def test_a_choice_follows_validation_whatever_the_test_scores(tmp_path):
    """Test scores anti-correlated with validation, and random: each set's choice is its best validation."""
    cfg = _compose(tmp_path)
    val = {0.003: 0.2, 0.03: 0.6}
    rng = np.random.default_rng(0)

    def train(setting_cfg, members):
        return [_fake_record(m.seed, val[m.lr] + 0.1 * m.weight_decay, test=-val[m.lr] + rng.normal())
                for m in members]

    choices = stage.choose(cfg, "mtl", {"trainer": {}}, train, tmp_path / "choices")
    assert [(c["set"], c["tuning"]["seeds"], made) for c, made in choices] == [(0, [1000], True), (1, [1001], True)]
    for choice, _ in choices:
        assert choice["chosen"] == {"trainer.lr": 0.03, "trainer.weight_decay": 0.01}
        assert math.isclose(choice["value"], 0.6 + 0.001)
        assert len(choice["trials"]) == 4 and choice["method"] == "whole grid"


def test_each_tuning_set_chooses_on_its_own_seeds(tmp_path):
    """Set 1's seed favours the other learning rate: the sets disagree, each on its own validation."""
    cfg = _compose(tmp_path)

    def train(setting_cfg, members):
        return [_fake_record(m.seed, (0.6 if m.lr == 0.03 else 0.2) * (1 if m.seed == 1000 else -1) - m.weight_decay,
                             0.0) for m in members]

    first, second = (choice for choice, _ in stage.choose(cfg, "mtl", {"trainer": {}}, train, tmp_path / "c"))
    assert first["chosen"]["trainer.lr"] == 0.03 and second["chosen"]["trainer.lr"] == 0.003
    assert all(set(t["per_seed"]) == {str(c["tuning"]["seeds"][0])} for c in (first, second) for t in c["trials"])
    assert stage.budget_id(first) == stage.budget_id(second) and first["run_id"] != second["run_id"]


def test_stl_chooses_each_tasks_copy_on_its_own_validation(tmp_path):
    """The target prefers lr 0.03, the source 0.003: STL's choice is per task, its ``chosen`` the target's."""
    cfg = _compose(tmp_path)

    def train(setting_cfg, members):
        return [_fake_record(m.seed, 0.6 if m.lr == 0.03 else 0.2, 0.0, source_val=0.2 if m.lr == 0.03 else 0.5)
                for m in members]

    for objective, value in (("target", 0.6), ("every_task", 0.55)):
        cfg.tuning.objective = objective
        choice, _ = stage.choose(cfg, "stl", {"trainer": {}}, train, tmp_path / objective)[0]
        assert choice["per_task"] == {"task0": {"trainer.lr": 0.03, "trainer.weight_decay": 0.0},
                                      "task1": {"trainer.lr": 0.003, "trainer.weight_decay": 0.0}}
        assert choice["chosen"] == choice["per_task"]["task0"] and math.isclose(choice["value"], value)


def test_the_score_never_reads_a_test_metric():
    class NoPeeking(dict):
        def __getitem__(self, key):
            raise AssertionError("a test metric was read")

    record = _fake_record(0, val=0.7, test=0.0)
    record["tasks"][0]["test"] = NoPeeking(loss=0.1)
    assert stage.score(record, "target") == 0.7
    assert stage.score(stage.without_test(_fake_record(0, 0.7, 0.1)), "every_task") == 0.7


def test_a_setting_with_a_failed_run_is_never_chosen_and_all_failed_is_an_error(tmp_path):
    cfg = _compose(tmp_path)

    def train(setting_cfg, members):  # the best validation setting diverged on set 1's seed
        return [_fake_record(m.seed, 0.9 if m.lr == 0.03 else 0.1, 0.0,
                             "failed" if (m.lr == 0.03 and m.seed == 1001) else "ok") for m in members]

    first, second = stage.choose(cfg, "mtl", {"trainer": {}}, train, tmp_path / "a")
    assert first[0]["chosen"]["trainer.lr"] == 0.03 and second[0]["chosen"]["trainer.lr"] == 0.003
    with pytest.raises(TuningError, match="every one of 4 settings failed.*DivergenceError"):
        stage.choose(cfg, "mtl", {"trainer": {}}, lambda c, ms: [_fake_record(m.seed, 0, 0, "failed") for m in ms],
                     tmp_path / "b")


# --- whole jobs ---------------------------------------------------------------------------------------------

def test_every_arm_covers_the_whole_grid_and_tuning_runs_keep_no_test_metric(tmp_path):
    for regime in ("stl", "tl_full"):  # tl_full adds its own knob (trunk_lr) on top of the common grid
        summary = run_job(_compose(tmp_path, f"regime={regime}"))
        assert summary["status"] == "ok"
    choices = _choices(tmp_path)
    assert sorted((c["arm"], c["set"]) for c in choices) == [("stl", 0), ("stl", 1), ("tl-full", 0), ("tl-full", 1)]
    common = {(0.003, 0.0), (0.003, 0.01), (0.03, 0.0), (0.03, 0.01)}
    for choice in choices:
        settings = [t["setting"] for t in choice["trials"]]
        assert {(s["trainer.lr"], s["trainer.weight_decay"]) for s in settings[:4]} == common  # the whole grid
        if choice["arm"] == "tl-full":  # at its configured trunk_lr, then the other value at the best common setting
            assert [s["regime.trunk_lr"] for s in settings] == [1.0] * 4 + [0.1]
            best = max(choice["trials"][:4], key=lambda t: t["value"])["setting"]
            assert {**settings[4], "regime.trunk_lr": 1.0} == best and choice["trials"][4]["step"] == "own knob"
        else:
            assert len(settings) == 4 and set(choice["per_task"]) == {"task0", "task1", "task2"}
    trials = [json.loads(p.read_text()) for p in (tmp_path / ".tuning" / "adhoc" / "trials").glob("*.json")]
    assert len(trials) == 2 * 4 + 2 * 5  # per set of one seed: STL the grid, tl-full the grid and one more
    assert all("test" not in task for record in trials for task in record["tasks"])
    assert {r["seed"] for r in trials} == {1000, 1001}
    evaluated = [json.loads(p.read_text()) for p in (tmp_path / "adhoc").glob("*.json")]
    assert sorted(r["seed"] for r in evaluated) == [0, 0, 1, 1]
    for record in evaluated:
        choice = next(c for c in choices if c["run_id"] == record["tuning"]["choice"])
        assert choice["set"] == record["tuning"]["set"] == record["seed"] % 2  # seed e: the choice of set e mod 2
        assert record["config"]["trainer"]["lr"] == choice["chosen"]["trainer.lr"]
        assert record["config"]["tuning"] == record["tuning"]["choice"]
        if record["regime"] == "stl":
            assert record["config"]["trainer"]["per_task"] == {
                task: {"lr": s["trainer.lr"], "weight_decay": s["trainer.weight_decay"]}
                for task, s in choice["per_task"].items()}
        assert "trunk_lr" not in (record.get("variant") or {})  # a tuned knob never splits the arm's label


def test_a_stored_choice_is_reused_and_nothing_trains_twice(tmp_path, capsys):
    cfg = _compose(tmp_path, "regime=mtl")
    run_job(cfg)
    trial_files = sorted((tmp_path / ".tuning" / "adhoc" / "trials").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in trial_files]
    capsys.readouterr()
    assert run_job(_compose(tmp_path, "regime=mtl"))["status"] == "skipped"
    assert "stored tuning of" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in trial_files] == stamps


def test_scikit_learn_arms_are_not_tuned_and_untuned_jobs_have_no_tuning(tmp_path):
    assert run_job(_compose(tmp_path, "regime=ridge"))["status"] == "ok"
    untuned = _compose(tmp_path, "regime=stl", "seed=0")
    untuned.tuning.trials = 0  # what tuning=untuned sets
    assert run_job(untuned)["status"] == "ok"
    assert not (tmp_path / ".tuning").exists()
    assert all("tuning" not in json.loads(p.read_text()) for p in (tmp_path / "adhoc").glob("*.json"))


@pytest.mark.parametrize(("overrides", "error"), [
    (["tuning.seeds=[[1],[1000]]", "seed=[0,1]"], "share \\[1\\]"),
    (["tuning.seeds=[[1000],[1000]]"], "expected distinct seeds"),
    (["tuning.trials=3"], "not the size of the common grid"),
    (["trainer.lr=[0.01,0.1]"], "trainer.lr lists values and tuning chooses it too"),
    (["tuning.objective=test"], "tuning.objective='test' is invalid"),
])
def test_an_unfair_or_broken_search_fails_the_job_with_one_line(tmp_path, overrides, error):
    summary = run_job(_compose(tmp_path, "regime=stl", *overrides))
    assert summary["status"] == "failed"
    assert re.search(error, summary["error"])
    assert "\n" not in summary["error"]


def test_an_arm_knob_the_arm_lacks_is_named(tmp_path):
    cfg = _compose(tmp_path, "regime=tl_full")
    cfg.tuning.arms = {"tl-full": {"regime.no_such_knob": [1, 2]}}
    summary = run_job(cfg)
    assert summary["status"] == "failed" and "regime.no_such_knob is not a key of arm 'tl-full'" in summary["error"]


# --- the report ---------------------------------------------------------------------------------------------

def _record(arm: str, tuning: dict | None, knobs=None) -> dict:
    record = {"regime": arm, "strategy": None, "weighting": None, "knobs": knobs or {"x": 1}, "config": {}}
    return {**record, "tuning": tuning} if tuning else record


def test_an_arm_is_compared_under_one_tuning_config_per_condition_with_every_set():
    records = [_record("stl", None), _record("mtl", None), _record("mtl", {"choice": "a", "trials": 12}),
               _record("mtl", {"choice": "b0", "budget": "B", "trials": 24}),
               _record("mtl", {"choice": "b1", "budget": "B", "trials": 24}),
               _record("mtl", {"choice": "c", "trials": 12}, {"x": 2})]
    kept, note = keep_tuned(records)
    assert [(r["regime"], (r.get("tuning") or {}).get("choice")) for r in kept] == [
        ("stl", None), ("mtl", "b0"), ("mtl", "b1"), ("mtl", "c")]
    assert note.startswith("2 record(s) left out")


def test_the_protocol_says_untuned_and_which_validation_rule():
    lines = tuning_protocol([{"config": {"data": {}}}], [])
    assert lines["tuning"].startswith("untuned") and "whole validation split" in lines["validation"]
    lines = tuning_protocol([{"config": {"data": {"target_val_ratio": 0.25}}}], [])
    assert "0.25 x its training size" in lines["validation"]


# --- the validation protocol --------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "target_size", "expected"), [("regression", 8, 2), ("classification", 40, 10),
                                                               ("regression", 100, 25)])
def test_the_target_validates_on_a_share_of_its_training_size(kind, target_size, expected):
    family = tiny_family(kind, n_val=64, target_size=target_size)
    scaled = scaled_target_validation(family, 0.25, seed=0)
    assert len(scaled.target.val) == expected == scaled.descriptors["target_val_size"]
    assert all(len(s.val) == 64 for s in scaled.sources)
    assert scaled.target.train.x.equal(family.target.train.x) and scaled.target.test.x.equal(family.target.test.x)
    if kind == "classification":  # stratified: both classes of the target's validation stay
        assert len(scaled.target.val.y.unique()) == len(family.target.val.y.unique())


@pytest.mark.parametrize("ratio", [0, 1.5, True, "quarter"])
def test_a_bad_ratio_is_one_clear_error(ratio):
    with pytest.raises(ValueError, match="data.target_val_ratio=.* is invalid"):
        scaled_target_validation(tiny_family(), ratio, seed=0)


def test_without_the_key_the_family_is_drawn_as_before():
    data = OmegaConf.create({"_target_": "bench.data.make_synthetic", "n_tasks": 2, "input_dim": 4, "n_train": 16,
                             "n_val": 20, "n_test": 30})
    plain = draw_family(data, seed=3)
    data.target_val_ratio = None
    assert draw_family(data, seed=3).target.val.x.equal(plain.target.val.x)
    data.target_val_ratio = 0.25
    assert len(draw_family(data, seed=3).target.val) == 4


def test_the_report_states_the_protocol_and_lists_every_choice(tmp_path):
    from bench.report.render import write_reports

    for regime in ("stl", "mtl"):
        assert run_job(_compose(tmp_path / "experiments", f"regime={regime}", "study_name=tuned"))["status"] == "ok"
    write_reports(tmp_path / "experiments", tmp_path / "reports")
    page = (tmp_path / "reports" / "tuned" / "README.md").read_text()
    assert "**tuning**: 4 trials per arm, condition and tuning-seed set, the whole common grid" in page
    assert "each tuning-seed set apart ([1000], [1001]" in page and "no test score enters a choice" in page
    assert "## Tuning" in page and "| mtl " in page and "| stl " in page and "set 1" in page
    assert "`stl`: whole common grid (lr [0.003, 0.03] x weight_decay [0.0, 0.01]: 4)" in page
    assert "tuned (4 trials per arm" in (tmp_path / "reports" / "index.md").read_text()


def test_a_tie_on_a_saturated_validation_loss_goes_to_the_smallest_learning_rate(tmp_path):
    """On two validation rows an overconfident run's loss is exactly 0, a sound one's 1e-6: that is a tie."""
    cfg = _compose(tmp_path)
    loss = {0.003: 1e-6, 0.03: 0.0}

    def train(setting_cfg, members):
        return [_fake_record(m.seed, -loss[m.lr] - m.weight_decay, 0.0) for m in members]

    for choice, _ in stage.choose(cfg, "mtl", {"trainer": {}}, train, tmp_path / "choices"):
        assert choice["chosen"] == {"trainer.lr": 0.003, "trainer.weight_decay": 0.0} and choice["tied"] == 2


ARM_CONFIGS = {"tl-full": ["regime=tl_full"], "tl-lp_ft": ["regime=tl_lp_ft"], "tl-l2_sp": ["regime=tl_l2_sp"],
               "tl-bss": ["regime=tl_bss"], "tl-partial": ["regime=tl_partial"],
               "mtl/cagrad": ["regime=mtl", "weighting=cagrad"], "mtl/gradnorm": ["regime=mtl", "weighting=gradnorm"],
               "mtl/dwa": ["regime=mtl", "weighting=dwa"]}


@pytest.mark.parametrize("budget", ["small", "full"])
def test_every_arm_knob_names_a_real_arm_and_a_key_it_has(budget):
    """An arm's own knob must reach the arm: its label is the one the stage computes, and its key exists."""
    from hydra.utils import instantiate

    with initialize_config_dir(CONF, version_base="1.3"):
        arms = compose("config", overrides=[f"tuning={budget}"]).tuning.arms
        assert set(arms) == set(ARM_CONFIGS)
        for arm, overrides in ARM_CONFIGS.items():
            cfg = compose("config", overrides=overrides)
            assert stage.arm_name(instantiate(cfg.regime)) == arm
            for key, values in arms[arm].items():
                assert OmegaConf.select(cfg, key) is not None, (arm, key)
                chosen = stage.with_setting(cfg, {key: values[0]}, arm)
                assert OmegaConf.select(chosen, key) == values[0]


def test_an_arm_whose_every_common_setting_fails_gets_one_line_not_a_crash(monkeypatch):
    """With an own knob, the second step starts from the best common setting; where every common setting
    failed (a weighting that raised on each) there is none, and the choice says so in one TuningError."""
    failed = [{"status": "failed", "seed": 1000, "error": "ValueError: the solver failed"}]
    monkeypatch.setattr(stage, "_train_trials", lambda cfg, settings, arm, train: [failed for _ in settings])
    cfg = OmegaConf.create({"tuning": {"objective": "every_task"}, "regime": {"c": 0.4}})
    common, own = [Dimension("trainer.lr", (0.001, 0.01))], [Dimension("regime.c", (0.1, 0.4, 0.8))]
    pending = {0: {"arm": "mtl/cagrad", "tuning": {"seeds": [1000], "objective": "every_task", "own": {"c": 1}}}}
    trials = stage._search(cfg, "mtl/cagrad", common, own, pending, train=None)
    assert len(trials[0]) == 2 and all(math.isnan(t["value"]) for t in trials[0])  # the own step did not run
    with pytest.raises(TuningError, match="every one of 2 settings failed.*the solver failed"):
        stage._store(Path("unused"), 0, pending[0], common + own, trials[0], 1.0)
