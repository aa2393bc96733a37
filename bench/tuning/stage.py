"""The tuning stage of one job: choose an arm's hyper-parameters on validation, then evaluate with them.

Protocol (stated in the report): every tuned arm gets the same budget (``tuning.trials`` settings), each
setting trained on the tuning seeds (``tuning.seeds``, disjoint from the evaluation seeds). A setting scores
minus its mean validation loss over those seeds, of the target task or over every task: the loss selection
and early stopping minimise, which still ranks settings on a scarce target's two or three validation rows,
where R² swings by orders of magnitude and accuracy ties. Settings within ``TIE`` of the best tie, and the
smallest learning rate among them wins. A setting any of whose runs failed (say, diverged) is not chosen.
The best setting is stored per (study condition, arm) and the evaluation seeds train with it; a re-run
reuses it and trains only what is missing. Tuning runs never keep a test metric, so no test score can
enter a choice.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench.regimes.population import Member
from bench.results.choices import read_choice
from bench.results.records import record_path, run_id, target_task, write_record
from bench.tuning.search import Search
from bench.tuning.space import POPULATION_KEYS, Dimension, TuningError, arm_space

OBJECTIVES = ("target", "every_task")
# Settings whose mean validation loss is within TIE of the best are tied: on a scarce target's two or three
# validation rows an overconfident model's cross-entropy saturates at exactly 0 against 1e-6 for a sound one.
# A tie goes to the smallest learning rate, the setting that trains least aggressively.
TIE = 1e-4
SELF_TUNED = ("sklearn",)  # scikit-learn arms choose their regularisation on validation themselves
_MISSING = object()


def tuning_folder(experiments: Path, study: str) -> Path:
    """Hidden from the report's study folders: trial runs are not results, choices are read apart."""
    return Path(experiments) / ".tuning" / study


def spec(tuning: DictConfig, arm: str) -> dict:
    """What defines a choice besides the condition: the budget, seeds, objective and this arm's space."""
    plain = OmegaConf.to_container(tuning, resolve=True)
    own = (plain.get("arms") or {}).get(arm) or {}
    return {"trials": plain["trials"], "rounds": plain["rounds"], "seeds": plain["seeds"],
            "objective": plain["objective"], "space": {**plain["space"], **own}}


def check(cfg: DictConfig, evaluation_seeds: list[int]) -> None:
    """A search that can be fair: a known objective, tuning seeds apart from the evaluation seeds, and no
    tuned key that the job also lists as population values."""
    tuning = cfg.tuning
    if tuning.objective not in OBJECTIVES:
        raise TuningError(f"tuning.objective={tuning.objective!r} is invalid, expected one of {list(OBJECTIVES)}")
    seeds = list(tuning.seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise TuningError(f"tuning.seeds={seeds} is invalid, expected distinct seeds")
    shared = sorted(set(seeds) & set(evaluation_seeds))
    if shared:
        raise TuningError(f"tuning.seeds and the evaluation seeds share {shared}: a choice made on a seed's "
                          "validation split would be evaluated on the same draw; use disjoint seeds")
    for key in tuning.space:
        if OmegaConf.is_list(OmegaConf.select(cfg, key)):
            raise TuningError(f"{key} lists values and tuning chooses it too: give one value, or tuning=untuned")


def scored_objective(cfg: DictConfig) -> str:
    """``tuning.objective``, but ``target`` on a user's table that names no target (``data.targets`` without
    ``data.target``, ``data.target_draw`` or ``data.target_size``) scores every task: its first task is the
    target by default only, and its few validation rows would choose every arm's setting."""
    data = cfg.data
    unnamed = "targets" in data and all(data.get(key) is None for key in ("target", "target_draw", "target_size"))
    return "every_task" if cfg.tuning.objective == "target" and unnamed else cfg.tuning.objective


def arm_name(regime) -> str:
    """The arm a choice belongs to, as the report labels it (``tl-full``), MTL's weighting added (``mtl/pcgrad``)."""
    name = f"{regime.name}-{regime.strategy}" if getattr(regime, "strategy", None) else regime.name
    weighting = getattr(regime, "weighting_name", None)
    return f"{name}/{weighting}" if weighting and weighting != "sum" else name


def describe(choice: dict) -> str:
    """``arm tl-full, 8 trials (grid) x 2 seeds, objective target: trainer.lr=0.01 ... (validation 0.912; ...)``"""
    chosen = " ".join(f"{key}={value}" for key, value in choice["chosen"].items())
    edge = f"; on the edge of its space: {', '.join(choice['on_edge'])}" if choice["on_edge"] else ""
    return (f"arm {choice['arm']}, {len(choice['trials'])} trials ({choice['method']}) x "
            f"{len(choice['tuning']['seeds'])} seeds, objective {choice['tuning']['objective']}: {chosen} "
            f"(validation {choice['value']:.4f}{edge})")


def with_setting(cfg: DictConfig, setting: dict, arm: str) -> DictConfig:
    """A copy of ``cfg`` with ``setting``'s values (dotted keys), each of which must exist in the arm's config."""
    chosen = copy.deepcopy(cfg)
    for key, value in setting.items():
        if OmegaConf.select(chosen, key, default=_MISSING) is _MISSING:
            raise TuningError(f"tuning: {key} is not a key of arm {arm!r}'s config (tuning.space / tuning.arms.{arm})")
        OmegaConf.update(chosen, key, value, merge=False)
    return chosen


def condition(defining: dict, dimensions: list[Dimension]) -> dict:
    """The defining config without the seed and the tuned keys: what one choice is made for."""
    plain = copy.deepcopy({k: v for k, v in defining.items() if k != "seed"})
    for d in dimensions:
        *path, leaf = d.key.split(".")
        node = plain
        for part in path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return plain


def score(record: dict, objective: str) -> float:
    """Minus the validation loss (higher is better) of the target, or averaged over every task; NaN for a
    failed run. Reads ``val`` only."""
    if record.get("status") != "ok":
        return math.nan
    tasks = [target_task(record)] if objective == "target" else record["tasks"]
    return -float(sum(task["val"]["loss"] for task in tasks) / len(tasks))


def without_test(record: dict) -> dict:
    """A tuning run's record as stored: its tasks keep their validation metrics only."""
    if record.get("status") != "ok":
        return {**record, "stage": "tuning"}
    tasks = [{k: v for k, v in task.items() if k != "test"} for task in record["tasks"]]
    return {**record, "tasks": tasks, "stage": "tuning"}


Trainer = Callable[[DictConfig, list[Member]], list[dict]]


def choose(cfg: DictConfig, arm: str, defining: dict, train: Trainer, folder: Path) -> tuple[dict, bool]:
    """The stored choice for this (condition, arm), and whether it was made now (there was none).
    ``train(cfg, members)`` returns the records (stored, without test metrics) of ``members`` under ``cfg``."""
    tuning = cfg.tuning
    dimensions = arm_space(OmegaConf.to_container(tuning.space), OmegaConf.to_container(tuning.arms or {}), arm)
    objective = scored_objective(cfg)
    defined = {"condition": condition(defining, dimensions), "arm": arm,
               "tuning": {**spec(tuning, arm), "objective": objective}}
    choice_id = run_id(defined)
    stored = read_choice(record_path(folder, choice_id), dimensions)
    if stored is not None:
        return stored, False
    search = Search(dimensions, tuning.trials, tuning.rounds, seed=int(tuning.seeds[0]), arm=arm)
    started, trials = time.perf_counter(), []
    for settings in search.batches():
        results = [_trial(records, objective) for records in _train_settings(cfg, settings, arm, train)]
        search.tell([result["value"] for result in results])
        trials += [{"number": len(trials) + i, "setting": setting, **result}
                   for i, (setting, result) in enumerate(zip(settings, results, strict=True))]
    return _store(folder, choice_id, defined, dimensions, search, trials, time.perf_counter() - started), True


def _trial(records: list[dict], objective: str) -> dict:
    """One setting's score per tuning seed, their mean (NaN if any run failed) and the runs' errors."""
    per_seed = {str(r["seed"]): score(r, objective) for r in records}
    values = list(per_seed.values())
    value = math.nan if any(math.isnan(v) for v in values) else sum(values) / len(values)
    errors = sorted({r["error"] for r in records if r.get("status") != "ok"})
    return {"value": value, "per_seed": per_seed, "errors": errors}


def _store(folder: Path, choice_id: str, defined: dict, dimensions: list[Dimension], search: Search,
           trials: list[dict], seconds: float) -> dict:
    """Pick the best setting (of those within ``TIE``, the smallest learning rate) and write the choice, or
    fail when every setting failed."""
    valid = [t for t in trials if not math.isnan(t["value"])]
    if not valid:
        raise TuningError(f"tuning arm {defined['arm']!r}: every one of {len(trials)} settings failed on the "
                          f"tuning seeds (first error: {next((e for t in trials for e in t['errors']), '?')})")
    top = max(t["value"] for t in valid)
    tied = [t for t in valid if t["value"] >= top - TIE]
    best = min(tied, key=lambda t: t["setting"].get("trainer.lr", 0.0))  # min() keeps the first of equal ones
    choice = {"run_id": choice_id, "status": "ok", "stage": "tuning-choice", **defined,
              "method": search.method, "chosen": best["setting"], "value": best["value"], "tied": len(tied),
              "on_edge": [d.key for d in dimensions if d.on_edge(best["setting"][d.key])],
              "trials": trials, "seconds": round(seconds, 3)}
    write_record(folder, choice)
    return choice


def _train_settings(cfg: DictConfig, settings: list[dict], arm: str, train: Trainer) -> list[list[dict]]:
    """Each setting's records on the tuning seeds. Settings that differ only in learning rate and weight decay
    train as one population, others (an arm's own knob) as populations of their own; a setting a sampler
    proposes twice trains once."""
    distinct = {json.dumps(s, sort_keys=True): s for s in settings}
    groups: dict[str, list[str]] = {}
    for key, setting in distinct.items():
        rest = {k: v for k, v in setting.items() if k not in POPULATION_KEYS}
        groups.setdefault(json.dumps(rest, sort_keys=True), []).append(key)
    found: dict[str, list[dict]] = {key: [] for key in distinct}
    for rest, keys in groups.items():
        group_cfg = with_setting(cfg, json.loads(rest), arm)
        members, owners = [], []
        for key in keys:
            lr = distinct[key].get("trainer.lr", group_cfg.trainer.lr)
            decay = distinct[key].get("trainer.weight_decay", group_cfg.trainer.weight_decay)
            members += [Member(int(seed), float(lr), float(decay)) for seed in cfg.tuning.seeds]
            owners += [key] * len(cfg.tuning.seeds)
        for owner, record in zip(owners, train(group_cfg, members), strict=True):
            found[owner].append(record)
    return [found[json.dumps(s, sort_keys=True)] for s in settings]
