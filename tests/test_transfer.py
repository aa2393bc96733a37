"""Transfer strategies do what they say: frozen parts stay bit-identical, penalties reduce to full fine-tuning
at strength 0, LP-FT starts from the probe, and the probe is scikit-learn's converged fit."""

import functools

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error

import bench.regimes.transfer as transfer
from bench.models import CNNBackbone, MLPBackbone
from bench.regimes import Transfer
from bench.regimes.population import grid, schedule
from bench.regimes.probe import ALPHA_GRID, C_GRID
from bench.regimes.strategies import STRATEGIES
from bench.regimes.training import Training
from tests.conftest import run_alone, tiny_family

DEEP = functools.partial(MLPBackbone, width=16, depth=3)


@pytest.fixture
def stages(monkeypatch):
    """Spy on Transfer.run: the pretrained module, the target module, and the target module's state at the
    start of every fit (name -> parameter), so that a test can compare what a strategy started from."""
    seen = {"fit_starts": []}
    train_jointly, build_module, fit = transfer.train_jointly, transfer.build_module, Training.fit

    def spy_pretrain(*args, **kwargs):
        seen["pretrained"], fits = train_jointly(*args, **kwargs)
        return seen["pretrained"], fits

    def spy_build(*args, **kwargs):
        seen["target"] = build_module(*args, **kwargs)
        return seen["target"]

    def spy_fit(self, module):
        if module is seen.get("target"):
            seen["fit_starts"].append({n: p.detach().clone() for n, p in module.named_parameters()})
        return fit(self, module)

    monkeypatch.setattr(transfer, "train_jointly", spy_pretrain)
    monkeypatch.setattr(transfer, "build_module", spy_build)
    monkeypatch.setattr(Training, "fit", spy_fit)
    return seen




def backbone_state(module):
    return {n: p.detach().clone() for n, p in module.backbone.named_parameters()}


@pytest.mark.parametrize("strategy", ["linear_probe", "lp_ft"])
def test_the_probe_leaves_the_trunk_bit_identical(stages, fast_training, strategy):
    run_alone(Transfer(strategy), tiny_family("classification"), DEEP, fast_training, seed=0)
    pretrained = backbone_state(stages["pretrained"])
    if strategy == "linear_probe":
        assert stages["fit_starts"] == []  # closed form: no SGD step on the target
        after = backbone_state(stages["target"])
    else:  # LP-FT's fine-tuning stage starts from the untouched trunk
        after = {n[len("backbone."):]: p for n, p in stages["fit_starts"][0].items() if n.startswith("backbone.")}
    assert after.keys() == pretrained.keys()
    assert all(torch.equal(after[n], pretrained[n]) for n in pretrained)


def test_lp_ft_fine_tunes_from_the_probed_head(stages, fast_training):
    family = tiny_family("classification")
    run_alone(Transfer("linear_probe"), family, DEEP, fast_training, seed=1)
    probed = {n: p.detach().clone() for n, p in stages["target"].heads.named_parameters()}
    _, fit = run_alone(Transfer("lp_ft"), family, DEEP, fast_training, seed=1)
    (start,) = stages["fit_starts"]
    for name, value in probed.items():
        assert torch.equal(start[f"heads.{name}"], value)
    assert fit["adapt"]["probe"] == {"C": pytest.approx(fit["adapt"]["probe"]["C"]), "converged": True}
    assert fit["adapt"]["steps"] > 0


@pytest.mark.parametrize("backbone,frozen", [(DEEP, 2), (functools.partial(CNNBackbone, channels=(4, 8), width=16), 1)],
                         ids=["mlp", "cnn"])
def test_partial_freezes_exactly_the_first_layers(stages, fast_training, backbone, frozen):
    from bench.data import make_digits_transfer

    family = make_digits_transfer(0, target_size=30) if backbone is not DEEP else tiny_family("classification")
    run_alone(Transfer("partial", frozen_layers=frozen), family, backbone, fast_training, seed=0)
    pretrained, target = stages["pretrained"].backbone.trunk_layers(), stages["target"].backbone.trunk_layers()
    for k, (before, after) in enumerate(zip(pretrained, target, strict=True)):
        same = [torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)]
        assert all(same) if k < frozen else not any(same), f"layer {k}"


def test_partial_rejects_more_layers_than_the_trunk_has(fast_training):
    with pytest.raises(ValueError, match="regime.frozen_layers=4 is invalid, the backbone has 3 trunk layers"):
        run_alone(Transfer("partial", frozen_layers=4), tiny_family(), DEEP, fast_training, seed=0)


@pytest.mark.parametrize("strategy,options", [("l2_sp", dict(trunk=0.0, head=0.0)), ("bss", dict(strength=0.0)),
                                              ("partial", dict(frozen_layers=0))])
def test_at_strength_zero_a_strategy_is_full_fine_tuning_bit_for_bit(fast_training, strategy, options):
    family = tiny_family("classification")
    full = schedule(run_alone(Transfer("full"), family, DEEP, fast_training, seed=0))
    assert schedule(run_alone(Transfer(strategy, **options), family, DEEP, fast_training, seed=0)) == full


def test_l2_sp_holds_the_trunk_near_its_pretrained_weights(stages, fast_training):
    def distance(**options):
        run_alone(Transfer("l2_sp", **options), tiny_family(), DEEP, fast_training, seed=0)
        before, after = backbone_state(stages["pretrained"]), backbone_state(stages["target"])
        return sum(float((after[n] - before[n]).square().sum()) for n in before)

    assert distance(trunk=10.0, head=0.0) < 0.5 * distance(trunk=0.0, head=0.0)


def test_penalties_are_per_member(stages, fast_training):
    """Member 1's parameters moved away from the start change member 1's penalties only."""
    members = grid([0, 1], [3e-3], [0.0])
    for strategy, options in (("l2_sp", {}), ("bss", {})):
        regime = Transfer(strategy, **options)
        regime.run([tiny_family(seed=m.seed) for m in members], DEEP, fast_training, members)
        module = stages["target"]
        module.penalties.clear()
        regime.adaptation.prepare(module)
        penalty = module.penalties[0]
        x = torch.randn(2, 1, 6, 6)  # fewer rows than units: no zero singular value
        module.slots = None
        with torch.enable_grad():
            module(x)
            before = penalty(module)
            with torch.no_grad():
                module.backbone.layers[0].weight[1] += 1.0
            module(x)
            after = penalty(module)
        assert after[0] == before[0] and after[1] != before[1], strategy


def test_bss_penalises_the_smallest_singular_values_of_each_members_features(stages, fast_training):
    members = grid([0, 1], [3e-3], [0.0])
    regime = Transfer("bss", strength=0.5, k=2)
    regime.run([tiny_family(seed=m.seed) for m in members], DEEP, fast_training, members)
    module = stages["target"]
    module.penalties.clear()
    regime.adaptation.prepare(module)
    x = torch.randn(2, 1, 6, 6)  # fewer rows than units: no zero singular value
    with torch.enable_grad():
        module(x)
        penalty = module.penalties[0](module).detach()
    for r in range(2):
        with torch.no_grad():
            features = module.backbone(x[r:r + 1].flatten(1, 2), torch.tensor([r]))[0]
        singular = torch.linalg.svdvals(features.double())
        assert float(penalty[r]) == pytest.approx(0.5 * float(singular[-2:].square().sum()), rel=1e-4)


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "full"])
def test_members_of_a_population_match_their_runs_alone(fast_training, strategy):
    options = {"partial": dict(frozen_layers=1)}.get(strategy, {})
    members = grid([0, 1], [3e-3], [0.0])
    together = Transfer(strategy, **options).run([tiny_family("classification", seed=m.seed) for m in members],
                                                 DEEP, fast_training, members)
    for member, outcome in zip(members, together, strict=True):
        tasks, fit = run_alone(Transfer(strategy, **options), tiny_family("classification", seed=member.seed), DEEP,
                               fast_training, seed=member.seed)
        assert schedule(outcome.fit) == schedule(fit)
        assert outcome.tasks[0]["test"]["loss"] == pytest.approx(tasks[0]["test"]["loss"], rel=1e-5)


def test_a_slower_trunk_gets_its_learning_rate_in_the_optimiser(stages, fast_training):
    run_alone(Transfer("full", trunk_lr=0.1), tiny_family(), DEEP, fast_training, seed=0)
    module = stages["target"]
    groups = {id(p): g["lr"] for g in module.configure_optimizers().param_groups for p in g["params"]}
    for name, param in module.named_parameters():
        expected = fast_training.lr * (0.1 if name.startswith("backbone.") else 1.0)
        assert groups[id(param)] == pytest.approx(expected), name


def _features(stages, kind):
    module = stages["target"]
    splits = {s: module.split_data(s, 0) for s in ("train", "val", "test")}
    with torch.no_grad():
        return module, {s: (module.backbone(x)[0, :sizes[0]].double().numpy(), y[0].numpy())
                        for s, (x, sizes, y) in splits.items()}


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_the_probe_is_scikit_learns_fit_with_its_strength_chosen_on_validation(stages, fast_training, kind):
    family = tiny_family(kind, n_classes=3) if kind == "classification" else tiny_family(kind)
    _, fit = run_alone(Transfer("linear_probe"), family, DEEP, fast_training, seed=0)
    module, data = _features(stages, kind)
    x = {s: f for s, (f, _) in data.items()}

    def model(strength):
        if kind == "regression":
            return Ridge(alpha=strength).fit(x["train"], data["train"][1])
        return LogisticRegression(C=strength, max_iter=1000).fit(x["train"], data["train"][1])

    def val_loss(m):
        if kind == "regression":
            return mean_squared_error(data["val"][1], m.predict(x["val"]))
        return log_loss(data["val"][1], m.predict_proba(x["val"]), labels=[0, 1, 2])

    key, grid_ = ("alpha", ALPHA_GRID) if kind == "regression" else ("C", C_GRID)
    best = min(grid_, key=lambda s: val_loss(model(s)))
    assert fit["adapt"]["probe"][key] == best
    reference = model(best)
    ours = module.predict("test")[0][0].double().numpy()
    if kind == "regression":
        np.testing.assert_allclose(ours, reference.predict(x["test"]).reshape(ours.shape), rtol=1e-4, atol=1e-5)
    else:
        probabilities = torch.softmax(torch.from_numpy(ours), 1).numpy()
        np.testing.assert_allclose(probabilities, reference.predict_proba(x["test"]), atol=1e-5)


def test_strategy_options_are_checked_by_name():
    with pytest.raises(ValueError, match=r"regime.frozen_layers is not an option of regime.strategy='l2_sp'"):
        Transfer("l2_sp", frozen_layers=1)
    with pytest.raises(ValueError, match=r"regime.trunk=-1 is invalid"):
        Transfer("l2_sp", trunk=-1)
    with pytest.raises(ValueError, match=r"regime.trunk_lr=0 is invalid"):
        Transfer("full", trunk_lr=0)
    with pytest.raises(ValueError, match=r"regime.strategy='probe' is invalid"):
        Transfer("probe")


CONFIGS = {"tl_full": ("full", {}), "tl_probe": ("linear_probe", {}), "tl_lp_ft": ("lp_ft", {}),
           "tl_l2_sp": ("l2_sp", {"trunk": 0.01, "head": 0.01}), "tl_partial": ("partial", {"frozen_layers": 1}),
           "tl_bss": ("bss", {"strength": 0.001, "k": 1})}


@pytest.mark.parametrize("config", CONFIGS)
def test_every_strategy_has_a_regime_config(config):
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        regime = instantiate(compose("config", overrides=[f"regime={config}"]).regime)
        moved = instantiate(compose("config", overrides=["regime=tl_full", f"regime.strategy={CONFIGS[config][0]}"])
                            .regime)
    name, options = CONFIGS[config]
    assert (regime.name, regime.strategy, moved.strategy) == ("tl", name, name)
    assert {key: getattr(regime.adaptation, key) for key in options} == options


def test_the_protocol_states_the_transfer_budget_rule():
    from bench.report.protocol import TRANSFER_BUDGET, study_protocol

    assert study_protocol([{"regime": "tl", "seed": 0, "status": "ok"}], [])["transfer budget"] == TRANSFER_BUDGET
    assert "transfer budget" not in study_protocol([{"regime": "stl", "seed": 0, "status": "ok"}], [])


def test_single_source_pretraining_reports_the_best_source_on_validation_and_the_average(fast_training):
    family = tiny_family("classification")
    names = [t.name for t in family.sources]
    tasks, fit = run_alone(Transfer("full", pretrain="single"), family, DEEP, fast_training, seed=0)
    alone = {name: run_alone(Transfer("full", pretrain="single", source=name), family, DEEP, fast_training, seed=0)
             for name in names}
    assert set(fit["sources"]) == set(names)
    best = min(names, key=lambda n: alone[n][0][0]["val"]["loss"])
    assert fit["source"] == best and tasks == alone[best][0]
    for name in names:
        assert fit["sources"][name]["test"] == alone[name][0][0]["test"]
    mean = sum(alone[n][0][0]["test"]["accuracy"] for n in names) / len(names)
    assert fit["average"]["test"]["accuracy"] == pytest.approx(mean)


def test_a_single_source_must_be_a_source_of_the_family(fast_training):
    with pytest.raises(Exception, match=r"regime.source='nope' is not a source task"):
        run_alone(Transfer("full", pretrain="single", source="nope"), tiny_family(), DEEP, fast_training, seed=0)
    with pytest.raises(ValueError, match=r"regime.source='task1' needs regime.pretrain=single"):
        Transfer("full", source="task1")


def test_lp_ft_from_a_probe_that_interpolates_the_target_is_not_called_divergent(fast_training):
    """4 noiseless target rows, 16 features: the ridge probe fits them exactly (training loss ~1e-9), and
    the divergence watch must not read fine-tuning's first real losses as 1000x that."""
    family = tiny_family(target_size=4, relatedness=1.0, label_noise=0.0)
    _, fit = run_alone(Transfer("lp_ft"), family, functools.partial(MLPBackbone, width=16, depth=3), fast_training,
                       seed=1)
    assert fit["adapt"]["probe"]["alpha"] == ALPHA_GRID[0]  # the interpolating end of the grid


def test_mtl_then_fine_tune_starts_from_the_mtl_models_trunk_and_target_head(stages, fast_training):
    family = tiny_family("classification")
    _, fit = run_alone(Transfer("full", pretrain="all_tasks"), family, DEEP, fast_training, seed=0)
    pretrained = stages["pretrained"]
    assert [t.name for t in pretrained.tasks] == [t.name for t in family.tasks]  # the target included
    target = [t.name for t in family.tasks].index(family.target.name)
    (start,) = stages["fit_starts"]
    for name, value in pretrained.heads[target].named_parameters():
        assert torch.equal(start[f"heads.0.{name}"], value)
    for name, value in pretrained.backbone.named_parameters():
        assert torch.equal(start[f"backbone.{name}"], value)
    assert fit["adapt"]["steps"] > 0
