"""Transfer learning (TL): pretrain on the source tasks, then adapt to the target task."""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator

import torch

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.diagnostics import dead_fraction, effective_rank
from bench.regimes import pretrain_cache
from bench.regimes.joint import BackboneFactory, Outcome, build_module, init_backbone, outcomes, train_jointly
from bench.regimes.module import PopulationModule
from bench.regimes.population import Member, MemberFit
from bench.regimes.probe import probe_metrics
from bench.regimes.strategies import make_strategy
from bench.regimes.training import Training

PRETRAINING = ("pooled", "multi_task", "single", "all_tasks")
_diagnosing = True


@contextlib.contextmanager
def without_diagnostics() -> Iterator[None]:
    """No transferability diagnostics within the block: tuning trials, which read validation only and whose
    records must hold no test metric (the diagnostics' probes are scored on the test split)."""
    global _diagnosing
    previous, _diagnosing = _diagnosing, False
    try:
        yield
    finally:
        _diagnosing = previous


class Transfer:
    """Pretrain on the sources, adapt to the target by a strategy; only the target's metrics are reported.

    ``pretrain='pooled'`` trains one head on the union of the sources (they must share kind and output
    size); ``'multi_task'`` trains one head per source over the shared backbone; ``'single'`` pretrains on
    the source task named ``source``, or, when ``source`` is None, on each source in turn: the record then
    reports the source whose adapted model has the lowest target validation loss, and its fit lists every
    source's target metrics and their average (``sources``, ``average``); ``'all_tasks'`` is MTL on every
    task, the target included, whose target head the adaptation starts from (with ``full``: MTL, then
    fine-tuning on the target, the practice between the two regimes). ``strategy`` names how the
    pretrained trunk is adapted (``bench/regimes/strategies.py``: ``full``, ``linear_probe``, ``lp_ft``,
    ``l2_sp``, ``partial``, ``bss``); its hyper-parameters are the other keyword arguments
    (``regime.frozen_layers=2``). ``trunk_lr`` multiplies the trunk's learning rate against the head's for
    every strategy that trains the trunk (TLlib uses 0.1). Each stage gets the same step budget and selects
    on its own validation split. ``variant`` holds the settings off their defaults (a record's, which names
    its arm), and every fit carries its pretrained trunk's ``diagnostics`` (``diagnose``).
    """

    name = "tl"

    def __init__(self, strategy: str = "full", pretrain: str = "pooled", trunk_lr: float = 1.0,
                 source: str | None = None, **options) -> None:
        if pretrain not in PRETRAINING:
            raise ValueError(f"regime.pretrain={pretrain!r} is invalid, expected one of {PRETRAINING}")
        if source is not None and pretrain != "single":
            raise ValueError(f"regime.source={source!r} needs regime.pretrain=single, got {pretrain!r}")
        if isinstance(trunk_lr, bool) or not isinstance(trunk_lr, int | float) or trunk_lr <= 0:
            raise ValueError(f"regime.trunk_lr={trunk_lr!r} is invalid, expected a number > 0")
        self.adaptation = make_strategy(strategy, options)
        self.strategy, self.pretrain, self.trunk_lr, self.source = strategy, pretrain, float(trunk_lr), source
        self.variant = {**changed(Transfer, {"pretrain": pretrain, "source": source, "trunk_lr": self.trunk_lr}),
                        **changed(type(self.adaptation), options)}

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        for family in families:
            if not family.sources:
                raise FamilyError(f"transfer needs source tasks, family {family.name!r} has only "
                                  f"{family.target.name!r}")
        if self.pretrain == "pooled":
            return self.adapt_from([(pool_tasks(f.sources),) for f in families], families, backbone, training, members)
        if self.pretrain == "multi_task":
            return self.adapt_from([f.sources for f in families], families, backbone, training, members)
        if self.pretrain == "all_tasks":
            return self.adapt_from([f.tasks for f in families], families, backbone, training, members)
        names = [t.name for t in families[0].sources]
        if self.source is not None and self.source not in names:
            raise FamilyError(f"regime.source={self.source!r} is not a source task of {families[0].name!r}: {names}")
        each = {name: self.adapt_from([(next(t for t in f.sources if t.name == name),) for f in families], families,
                                      backbone, training, members)
                for name in ([self.source] if self.source else names)}
        return [best_source({name: outcomes[r] for name, outcomes in each.items()}) for r in range(len(members))]

    def adapt_from(self, sources: list[tuple[Task, ...]], families: list[TaskFamily], backbone: BackboneFactory,
                   training: Training, members: list[Member]) -> list[Outcome]:
        """Pretrain every member on its ``sources``, then adapt a copy of the trunk to its family's target."""
        pretrained, pretrain_fits, cached, key = pretrain_population(sources, backbone, training, members)
        module = build_module([(f.target,) for f in families], copy.deepcopy(pretrained.backbone), members,
                              shared=True, train_backbone=self.adaptation.trains_trunk,
                              failed=[fit.error is not None for fit in pretrain_fits])
        if self.pretrain == "all_tasks":  # the MTL model's own target head, not a fresh one
            target = [t.name for t in families[0].tasks].index(families[0].target.name)
            module.heads[0].load_state_dict(pretrained.heads[target].state_dict())
        if self.trunk_lr != 1.0:
            module.lr_scales = {"backbone.": self.trunk_lr}
        module.to(training.device)  # the copied trunk is where pretraining left it; its new head is not yet
        diagnostics = diagnose(module, backbone, members, key) if _diagnosing else None
        adapt_fits, adapt_info = self.adaptation.adapt(module, training)
        for pretrain, adapt in zip(pretrain_fits, adapt_fits, strict=True):
            if pretrain.error:
                adapt.error = f"pretraining: {pretrain.error}"
        cache_note = {"cached": True} if cached else {}
        return outcomes(module, adapt_fits, lambda r: {"pretrain": {**pretrain_fits[r].info(), **cache_note},
                                                       "adapt": adapt_info[r],
                                                       **({"diagnostics": diagnostics[r]} if diagnostics else {})})


def changed(kind: type, values: dict) -> dict:
    """The ``values`` that differ from ``kind``'s defaults: a record's ``variant``, which the report appends to
    the arm's name, so that ``trunk_lr=0.1`` or ``pretrain=single`` is an arm of its own and not merged."""
    defaults = {name: p.default for name, p in inspect.signature(kind).parameters.items()}
    return {key: value for key, value in values.items() if value != defaults[key]}


def pretrain_population(sources: list[tuple[Task, ...]], backbone: BackboneFactory, training: Training,
                        members: list[Member]) -> tuple[PopulationModule, list[MemberFit], bool, str | None]:
    """The population pretrained on ``sources``, from the cache when it holds it (``pretrain_cache``), whether
    it came from there, and its cache key (None when nothing is cached)."""
    key = pretrain_cache.pretrain_key(sources, backbone, training, members) if pretrain_cache.cache_folder() else None
    if key:
        module = build_module(sources, init_backbone(backbone, sources[0][0].input_shape, members, 1), members,
                              shared=True)
        fits = pretrain_cache.load(key, module)
        if fits is not None:
            return module, fits, True, key
    module, fits = train_jointly(sources, backbone, training, members, shared=True)
    if key:
        pretrain_cache.save(key, module, fits)
    return module, fits, False, key


def diagnose(module: PopulationModule, backbone: BackboneFactory, members: list[Member], key: str | None
             ) -> list[dict]:
    """Each member's transferability diagnostics on its target (``bench/diagnostics.py``): probes on the
    pretrained trunk's features (before adaptation moves it), on the random trunk its STL run starts from and
    on the raw inputs; the effective rank and dead units of both trunks' features of the target's test rows.
    The pretrained part is kept per trunk and target (``key``); the random and raw parts per seeds and target,
    so arms whose trunks differ (tuned ones) share them."""
    targets = [tasks[0] for tasks in module.task_sets]
    reference = pretrain_cache.init_key(backbone, members, module.device.type) if key else None

    def baselines() -> dict[str, list[dict]]:
        with torch.random.fork_rng(devices=[]):  # the draw must not move the generator that adaptation reads
            random = init_backbone(backbone, module.tasks[0].input_shape, members, 1).to(module.device)
        return {"random": representation(module, random, False), "raw": representation(module, None, False)}

    parts = {"pretrained": pretrain_cache.remembered(key and pretrain_cache.target_key(key, targets),
                                                     lambda: representation(module, module.backbone, True)),
             **pretrain_cache.remembered(reference and pretrain_cache.target_key(reference, targets), baselines)}
    found = []
    for r in range(len(members)):
        if bool(module.initially_failed[r]):
            found.append({})
            continue
        found.append({"probe": {name: part[r]["probe"] for name, part in parts.items()},
                      **{statistic: {name: parts[name][r][statistic] for name in ("pretrained", "random")}
                         for statistic in ("effective_rank", "dead_units")}})
    return found


@torch.no_grad()
def representation(module: PopulationModule, trunk: torch.nn.Module | None, skip_failed: bool) -> list[dict]:
    """Each member's target as ``trunk``'s features (the raw inputs when None): the converged probe's test
    metrics, and for features their effective rank and dead units on the test rows (``{}`` for a member that
    failed before, when ``skip_failed``: its trunk is no trunk)."""
    splits = {split: module.split_data(split, 0) for split in ("train", "val", "test")}
    features = {split: trunk(stacked) for split, (stacked, _, _) in splits.items()} if trunk is not None else {}
    found = []
    for r, tasks in enumerate(module.task_sets):
        if skip_failed and bool(module.initially_failed[r]):
            found.append({})
            continue
        if trunk is None:
            rows = {split: tasks[0].split(split).x.flatten(1) for split in splits}
            found.append({"probe": probe_metrics(tasks[0], rows)})
            continue
        rows = {split: f[r, :splits[split][1][r]].cpu() for split, f in features.items()}
        found.append({"probe": probe_metrics(tasks[0], rows), "effective_rank": effective_rank(rows["test"]),
                      "dead_units": dead_fraction(rows["test"])})
    return found


def best_source(by_source: dict[str, Outcome]) -> Outcome:
    """One member's outcome over single sources: the one with the lowest target validation loss (a choice
    made on validation, as a practitioner would make it), with every source's metrics and their average."""
    done = {name: o for name, o in by_source.items() if not o.error}
    if not done:
        return next(iter(by_source.values()))
    name, best = min(done.items(), key=lambda item: item[1].tasks[0]["val"]["loss"])
    average = {split: {metric: sum(o.tasks[0][split][metric] for o in done.values()) / len(done)
                       for metric in best.tasks[0][split]} for split in ("val", "test")}
    sources = {n: ({"val": o.tasks[0]["val"], "test": o.tasks[0]["test"],
                    **{key: value for key, value in o.fit.items() if key == "diagnostics"}}
                   if not o.error else {"error": o.error})
               for n, o in by_source.items()}
    return Outcome(tasks=best.tasks, fit={**best.fit, "source": name, "sources": sources, "average": average})


def pool_tasks(tasks: tuple[Task, ...]) -> Task:
    """One task holding the union of the given tasks' rows, split by split."""
    first = tasks[0]
    for task in tasks[1:]:
        if (task.kind, task.n_outputs) != (first.kind, first.n_outputs):
            raise FamilyError(
                f"pooled pretraining needs sources of one kind and output size: {first.name!r} is "
                f"{first.kind}/{first.n_outputs}, {task.name!r} is {task.kind}/{task.n_outputs}; "
                "use regime.pretrain=multi_task"
            )
    splits = {
        name: Split(torch.cat([t.split(name).x for t in tasks]), torch.cat([t.split(name).y for t in tasks]))
        for name in ("train", "val", "test")
    }
    return Task(name="+".join(t.name for t in tasks), kind=first.kind, n_outputs=first.n_outputs, role="source",
                **splits)
