"""Populations: a member trained among others reports what it would report alone."""

import functools
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from bench.data import make_digits_transfer, make_synthetic
from bench.models import CNNBackbone, MLPBackbone
from bench.regimes import MultiTask, SingleTask, Transfer
from bench.regimes.optim import PopulationAdam, population_adam
from bench.regimes.population import Member, grid, schedule
from bench.regimes.training import Training
from bench.run import run_job

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "data" / "golden_single_runs.json").read_text())
TRAINING = Training(max_steps=200, eval_every=20, patience=3, batch_size=16)
MLP = functools.partial(MLPBackbone, width=16, depth=1)
CNN = functools.partial(CNNBackbone, channels=(4, 8), width=16)
# name -> (family maker, regime, backbone), as the previous engine ran them for tests/data/golden_single_runs.json
CASES = {
    "stl-reg": (dict(kind="regression"), SingleTask(), MLP),
    "mtl-reg": (dict(kind="regression"), MultiTask(), MLP),
    "tlfull-reg": (dict(kind="regression"), Transfer("full"), MLP),
    "tlprobe-cls": (dict(kind="classification"), Transfer("linear_probe"), MLP),
    "mtl-cls3": (dict(kind="classification", n_classes=3), MultiTask(), MLP),
    "stl-cls": (dict(kind="classification"), SingleTask(), MLP),
    "tlmt-reg-imb": (dict(kind="regression", imbalance=4.0), Transfer("full", "multi_task"), MLP),
    "digits-stl-cnn": ("digits", SingleTask(), CNN),
    "digits-tlfull-cnn": ("digits", Transfer("full"), CNN),
}


def family(recipe, seed: int):
    if recipe == "digits":
        return make_digits_transfer(seed, target_size=30)
    return make_synthetic(seed, n_tasks=3, input_dim=6, n_train=24, n_val=32, n_test=64, **recipe)


def train(name: str, seeds: list[int], lrs=(3e-3,), training: Training = TRAINING):
    recipe, regime, backbone = CASES[name]
    members = grid(seeds, list(lrs), [0.0])
    return regime.run([family(recipe, m.seed) for m in members], backbone, training, members)


def largest_relative_difference(tasks: list[dict], reference: list[dict]) -> float:
    return max(abs(ours[split][metric] - theirs[split][metric]) / max(abs(theirs[split][metric]), 1e-12)
               for ours, theirs in zip(tasks, reference, strict=True)
               for split in ("val", "test") for metric in ("loss",))


@pytest.mark.parametrize("name", CASES)
def test_a_one_member_population_is_the_previous_single_run_bit_for_bit(name):
    (outcome,) = train(name, [1])
    golden = GOLDEN[f"{name}/1"]
    assert outcome.error is None
    assert schedule(outcome.fit) == golden["fit"]  # same stopping and selected steps
    for ours, theirs in zip(outcome.tasks, golden["tasks"], strict=True):
        for split in ("val", "test"):
            assert ours[split]["loss"] == theirs[split]["loss"]  # bitwise: the same model, the same outputs
            for metric in set(ours[split]) & set(theirs[split]) - {"loss"}:
                assert ours[split][metric] == pytest.approx(theirs[split][metric], rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("digits")])
def test_members_of_a_population_match_their_runs_alone(name):
    outcomes = train(name, [0, 1, 2])
    for seed, outcome in enumerate(outcomes):
        golden = GOLDEN[f"{name}/{seed}"]
        assert schedule(outcome.fit) == golden["fit"]
        assert largest_relative_difference(outcome.tasks, golden["tasks"]) < 1e-5


@pytest.mark.parametrize("name", ["digits-stl-cnn", "digits-tlfull-cnn"])
def test_cnn_members_stay_close_to_their_runs_alone(name):
    """Grouped convolutions over more groups round a few sums differently; training amplifies that to at
    most ~1e-4 relative over this budget (seed 0 of the STL case), measured, so the bound here is 1e-3."""
    for seed, outcome in enumerate(train(name, [0, 1, 2])):
        assert largest_relative_difference(outcome.tasks, GOLDEN[f"{name}/{seed}"]["tasks"]) < 1e-3


def test_population_adam_moves_each_member_as_torch_adam_alone():
    torch.manual_seed(0)
    lrs, decays = [1e-3, 3e-3, 1e-2], [0.0, 1e-2, 1e-4]
    start = torch.randn(6, 5, 4)  # 3 members x 2 copies each
    grads = [torch.randn_like(start) for _ in range(50)]
    ours = start.clone().requires_grad_(True)
    optimizer = PopulationAdam([ours], lrs, decays)
    for grad in grads:
        ours.grad = grad.clone()
        optimizer.step()
    for r, (lr, decay) in enumerate(zip(lrs, decays, strict=True)):
        alone = start[2 * r:2 * r + 2].clone().requires_grad_(True)
        reference = torch.optim.Adam([alone], lr=lr, weight_decay=decay, foreach=False)
        for grad in grads:
            alone.grad = grad[2 * r:2 * r + 2].clone()
            reference.step()
        assert torch.equal(ours.detach()[2 * r:2 * r + 2], alone.detach())


def test_uniform_settings_keep_torchs_fused_adam():
    param = torch.zeros(2, 3, requires_grad=True)
    assert isinstance(population_adam([([param], [1e-3, 1e-3], [0.0, 0.0])]), torch.optim.Adam)
    assert isinstance(population_adam([([param], [1e-3, 1e-2], [0.0, 0.0])]), PopulationAdam)


@pytest.mark.parametrize("lrs", [[1e-2, 1e-2], [1e-2, 3e-2]])
def test_a_groups_own_rates_move_each_member(lrs):
    torch.manual_seed(0)
    start, grads = torch.randn(2, 3), [torch.randn(2, 3) for _ in range(5)]
    slow = start.clone().requires_grad_(True)
    optimizer = population_adam([([slow], [lr * 0.1 for lr in lrs], [0.0, 0.0])])
    for grad in grads:
        slow.grad = grad.clone()
        optimizer.step()
    for r, lr in enumerate(lrs):
        alone = start[r:r + 1].clone().requires_grad_(True)
        reference = torch.optim.Adam([alone], lr=lr * 0.1)
        for grad in grads:
            alone.grad = grad[r:r + 1].clone()
            reference.step()
        torch.testing.assert_close(slow.detach()[r:r + 1], alone.detach())


def test_population_adam_gives_each_copy_its_own_rate():
    """One value per copy (STL's copies tuned per task): each copy moves as torch's Adam at its own setting."""
    torch.manual_seed(0)
    lrs, decays = [1e-3, 3e-3, 1e-2, 3e-2], [0.0, 1e-2, 0.0, 1e-4]
    start, grads = torch.randn(4, 3), [torch.randn(4, 3) for _ in range(20)]
    ours = start.clone().requires_grad_(True)
    optimizer = population_adam([([ours], lrs, decays)])
    for grad in grads:
        ours.grad = grad.clone()
        optimizer.step()
    for copy, (lr, decay) in enumerate(zip(lrs, decays, strict=True)):
        alone = start[copy:copy + 1].clone().requires_grad_(True)
        reference = torch.optim.Adam([alone], lr=lr, weight_decay=decay, foreach=False)
        for grad in grads:
            alone.grad = grad[copy:copy + 1].clone()
            reference.step()
        assert torch.equal(ours.detach()[copy:copy + 1], alone.detach())


def test_stl_copies_at_their_own_tasks_settings_match_members_at_those_settings():
    """A member whose tasks train at settings of their own (STL tuned per task): each task's copy is the copy of
    a member trained at that task's setting; a shared model refuses settings per task."""
    draw = family(dict(kind="regression"), 0)
    names = [task.name for task in draw.tasks]
    own = [(1e-2, 0.0), (3e-3, 0.0), (1e-3, 1e-2)]  # the middle task keeps the member's lr and weight decay
    per_task = ((names[0], *own[0]), (names[2], *own[2]))
    (mixed,) = SingleTask().run([draw], MLP, TRAINING, [Member(0, 3e-3, 0.0, per_task)])
    for index, (lr, decay) in enumerate(own):
        (alone,) = SingleTask().run([draw], MLP, TRAINING, [Member(0, lr, decay)])
        assert mixed.fit["selected_steps"][index] == alone.fit["selected_steps"][index]
        assert largest_relative_difference(mixed.tasks[index:index + 1], alone.tasks[index:index + 1]) < 1e-4
    with pytest.raises(ValueError, match="need a copy per task"):
        MultiTask().run([draw], MLP, TRAINING, [Member(0, 3e-3, 0.0, per_task)])
    with pytest.raises(ValueError, match=r"task\(s\) \['nope'\]"):
        Member(0, 3e-3, 0.0, (("nope", 1e-2, 0.0),)).task_settings(names)


def test_per_member_learning_rates_match_runs_alone():
    together = train("mtl-reg", [0], lrs=(1e-3, 1e-2))
    for lr, outcome in zip((1e-3, 1e-2), together, strict=True):
        (alone,) = train("mtl-reg", [0], lrs=(lr,))
        assert schedule(outcome.fit) == schedule(alone.fit)
        assert largest_relative_difference(outcome.tasks, alone.tasks) < 1e-4  # PopulationAdam vs fused Adam


def test_a_diverging_member_is_masked_and_the_others_are_untouched():
    training = Training(max_steps=100, eval_every=20, patience=10, batch_size=16)
    with_nan = train("stl-reg", [0, 1], lrs=(3e-3, 1e30), training=training)
    with_sane = train("stl-reg", [0, 1], lrs=(3e-3, 1e-2), training=training)
    for r in (1, 3):  # the lr=1e30 members
        assert with_nan[r].error.startswith("DivergenceError: training diverged at step 2: non-finite loss")
    for r in (0, 2):  # the same members next to diverging or to sane neighbours: bit for bit the same
        assert with_nan[r].error is None and with_nan[r].tasks == with_sane[r].tasks
        assert schedule(with_nan[r].fit) == schedule(with_sane[r].fit)


def test_an_exploding_loss_is_divergence_too():
    outcomes = train("mtl-reg", [0], lrs=(3e-3, 3.0), training=Training(max_steps=200, eval_every=20, patience=10))
    assert outcomes[0].error is None
    assert outcomes[1].error.startswith("DivergenceError: training diverged at step ")


def test_members_must_differ():
    with pytest.raises(ValueError, match="lists a member twice"):
        grid([0, 0], [1e-3], [0.0])
    assert grid([0, 1], [1e-3, 1e-2], [0.0]) == [Member(0, 1e-3, 0.0), Member(0, 1e-2, 0.0), Member(1, 1e-3, 0.0),
                                                  Member(1, 1e-2, 0.0)]


def test_accelerator_is_checked():
    with pytest.raises(ValueError, match="trainer.accelerator='tpu' is invalid"):
        Training(accelerator="tpu")
    assert Training(accelerator="cpu").device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="trainer.accelerator='gpu' but torch sees no GPU"):
            Training(accelerator="gpu")


def _compose(tmp_path, *overrides):
    base = [f"paths.experiments={tmp_path}", "regime=mtl", "trainer.max_steps=60", "trainer.eval_every=20",
            "model.width=8", "data.n_test=50", "data.n_val=20", "data.input_dim=5"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=[*base, *overrides])


def _records(tmp_path) -> dict[int, dict]:
    return {r["seed"]: r for r in (json.loads(p.read_text()) for p in (tmp_path / "adhoc").glob("*.json"))}


def test_a_population_job_writes_the_records_of_its_runs_alone_and_resumes_by_member(tmp_path):
    alone = tmp_path / "alone"
    for seed in (0, 1):
        assert run_job(_compose(alone, f"seed={seed}"))["status"] == "ok"
    summary = run_job(_compose(tmp_path, "seed=[0,1]"))
    assert (summary["status"], summary["members"]) == ("ok", 2)
    together, separate = _records(tmp_path), _records(alone)
    for seed in (0, 1):
        assert together[seed]["run_id"] == separate[seed]["run_id"]  # the run id it would have alone
        assert together[seed]["config"] == separate[seed]["config"]
        assert together[seed]["population"] == {"size": 2, "index": seed}
        for ours, theirs in zip(together[seed]["tasks"], separate[seed]["tasks"], strict=True):
            assert ours["test"]["loss"] == pytest.approx(theirs["test"]["loss"], rel=1e-5)
    again = run_job(_compose(tmp_path, "seed=[0,1,2]"))  # only seed 2 has no ok record
    assert again["members"] == 1 and _records(tmp_path)[2]["population"] == {"size": 1, "index": 0}
    assert _records(tmp_path)[0] == together[0]
    assert run_job(_compose(tmp_path, "seed=[0,1,2]"))["status"] == "skipped"


def test_a_hyper_parameter_grid_is_one_job(tmp_path):
    summary = run_job(_compose(tmp_path, "seed=[0,1]", "trainer.lr=[0.001,0.01]", "trainer.weight_decay=[0,0.1]"))
    assert summary["members"] == 8
    found = [json.loads(p.read_text()) for p in (tmp_path / "adhoc").glob("*.json")]
    assert sorted((r["seed"], r["config"]["trainer"]["lr"], r["config"]["trainer"]["weight_decay"]) for r in found) \
        == [(s, lr, wd) for s in (0, 1) for lr in (0.001, 0.01) for wd in (0.0, 0.1)]


def test_bad_seeds_are_named(tmp_path):
    summary = run_job(_compose(tmp_path, "seed=[0,-1]"))
    assert summary["status"] == "failed" and "seed=" in summary["error"]
    assert "an integer in [0, 2**32 - 1]" in summary["error"]


def test_members_whose_data_differ_in_shape_train_in_separate_populations():
    from bench.run import compatible_batches

    draws = [make_synthetic(0, input_dim=4), make_synthetic(1, input_dim=5), make_synthetic(2, input_dim=4)]
    batches = compatible_batches([(f"record{i}", Member(i, 1e-3, 0.0), f) for i, f in enumerate(draws)])
    assert [[record for record, _, _ in batch] for batch in batches] == [["record0", "record2"], ["record1"]]


def test_a_job_whose_loss_explodes_is_recorded_failed_with_its_step(tmp_path):
    """Issue 13, point 7: trainer.lr=10 used to give status ok and a test R^2 of -3.5e9."""
    summary = run_job(_compose(tmp_path, "trainer.lr=10"))
    (record,) = _records(tmp_path).values()
    assert summary["status"] == record["status"] == "failed"
    assert record["error"].startswith("DivergenceError: training diverged at step ")
    assert "1000x its first step's" in record["error"]


def test_the_models_width_is_a_knob_that_the_capacity_study_sweeps(tmp_path):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        study = compose("config", overrides=["+study=capacity"], return_hydra_config=True)
    assert study.model.activation == "none" and "model.width" in study.hydra.sweeper.params
    assert run_job(_compose(tmp_path, "model=linear", "model.width=2"))["status"] == "ok"
    (record,) = _records(tmp_path).values()
    assert record["knobs"]["width"] == 2


def test_mtl_selected_per_task_keeps_each_tasks_best_validation_state():
    """The trajectory is the shared-selection one until that stops, so every task's per-task validation loss
    can only be lower; each task has its own selected step, and its trunk is the one of that step."""
    family_recipe = dict(kind="regression")
    seeds = [0, 1]
    families = [family(family_recipe, seed) for seed in seeds]
    members = grid(seeds, [3e-3], [0.0])
    shared = MultiTask().run(families, MLP, TRAINING, members)
    per_task = MultiTask(selection="per_task").run(families, MLP, TRAINING, members)
    for one, each in zip(shared, per_task, strict=True):
        assert len(each.fit["selected_steps"]) == 3 and len(one.fit["selected_steps"]) == 1
        for a, b in zip(one.tasks, each.tasks, strict=True):
            assert b["val"]["loss"] <= a["val"]["loss"]
        assert each.fit["steps"] >= one.fit["steps"]
    (alone,) = MultiTask(selection="per_task").run(families[1:], MLP, TRAINING, members[1:])
    assert schedule(alone.fit) == schedule(per_task[1].fit)
    assert largest_relative_difference(alone.tasks, per_task[1].tasks) < 1e-5
    with pytest.raises(ValueError, match="regime.selection='best' is invalid"):
        MultiTask(selection="best")
