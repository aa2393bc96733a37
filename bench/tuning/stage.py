"""The tuning stage of one job: choose an arm's hyper-parameters on validation, then evaluate with them.

Protocol (stated in the report):
- **The whole common grid.** Every tuned arm trains every setting of ``tuning.space`` (learning rate x weight
  decay; ``tuning.trials`` states its size). An arm's own knob (``tuning.arms``) comes on top: the common
  grid trains at the knob's configured value, then the knob's other values train at the best common setting
  (one coordinate step), a few trials more that the report counts. No part of the common grid is sampled away.
- **Several tuning-seed sets.** ``tuning.seeds`` lists sets of seeds, disjoint from each other and from the
  evaluation seeds. Each set makes its own choice on its own seeds' validation, and evaluation seed ``e``
  trains with the choice of set ``e mod S``: the choice's own noise enters the spread over seeds that every
  interval reads, and the report flags conditions where the sets chose differently.
- **Score.** A setting scores minus its mean validation loss over the set's seeds, of the target task or of
  every task (``tuning.objective``: what the study's claim reads). The loss is what selection and early
  stopping minimise, and it still ranks settings on a scarce target's two or three validation rows, where R²
  swings by orders of magnitude and accuracy ties. STL's copies share nothing, so each task's copy is chosen
  on its own validation loss (the best mean over tasks is every task at its best): its ``chosen`` is the
  target's setting, ``per_task`` every task's.
- Settings within ``TIE`` of the best tie, and the smallest learning rate among them wins. A setting any of
  whose runs failed (say, diverged) is never chosen.
- A choice is stored per (study condition, arm, set); a re-run reuses it and trains only what is missing.
  Tuning runs never keep a test metric, so no test score can enter a choice.
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
from bench.tuning.space import POPULATION_KEYS, Dimension, TuningError, arm_space, grid, grid_size

OBJECTIVES = ("target", "every_task")
# Settings whose mean validation loss is within TIE of the best are tied: on a scarce target's two or three
# validation rows an overconfident model's cross-entropy saturates at exactly 0 against 1e-6 for a sound one.
# A tie goes to the smallest learning rate, the setting that trains least aggressively.
TIE = 1e-4
SELF_TUNED = ("sklearn",)  # scikit-learn arms choose their regularisation on validation themselves
PER_TASK = ("stl",)  # arms whose tasks share no parameter: each task's copy is tuned on its own validation
_MISSING = object()


def tuning_folder(experiments: Path, study: str) -> Path:
    """Hidden from the report's study folders: trial runs are not results, choices are read apart."""
    return Path(experiments) / ".tuning" / study


def seed_sets(tuning: DictConfig) -> list[list[int]]:
    """``tuning.seeds``: the tuning-seed sets, each a list of seeds."""
    return [[int(seed) for seed in seeds] for seeds in tuning.seeds]


def set_of(seed: int, sets: int) -> int:
    """The tuning set whose choice evaluation seed ``seed`` trains with."""
    return seed % sets


def spec(tuning: DictConfig, arm: str, seeds: list[int], objective: str) -> dict:
    """What defines a choice besides the condition: the grid, this arm's own knob, the set's seeds and the
    objective it scores (``scored_objective``)."""
    plain = OmegaConf.to_container(tuning, resolve=True)
    return {"space": plain["space"], "own": (plain.get("arms") or {}).get(arm) or {}, "seeds": seeds,
            "objective": objective}


def budget_id(choice: dict) -> str:
    """What the sets of one search share (their choices differ only in seeds): records of one tuning config."""
    return run_id({key: value for key, value in choice["tuning"].items() if key != "seeds"})


def check(cfg: DictConfig, evaluation_seeds: list[int]) -> None:
    """A search that can be fair: a known objective, a budget that is the whole grid, tuning-seed sets apart
    from each other and from the evaluation seeds, and no tuned key that the job also lists as population
    values."""
    tuning = cfg.tuning
    if tuning.objective not in OBJECTIVES:
        raise TuningError(f"tuning.objective={tuning.objective!r} is invalid, expected one of {list(OBJECTIVES)}")
    sets = OmegaConf.to_container(tuning.seeds)
    if not sets or not all(isinstance(s, list) and s and all(isinstance(v, int) for v in s) for s in sets):
        raise TuningError(f"tuning.seeds={sets} is invalid, expected a list of sets of seeds, e.g. [[1000], [1001]]")
    seeds = [seed for s in sets for seed in s]
    if len(set(seeds)) != len(seeds):
        raise TuningError(f"tuning.seeds={sets} is invalid, expected distinct seeds: the sets must be independent")
    shared = sorted(set(seeds) & set(evaluation_seeds))
    if shared:
        raise TuningError(f"tuning.seeds and the evaluation seeds share {shared}: a choice made on a seed's "
                          "validation split would be evaluated on the same draw; use disjoint seeds")
    common, _ = arm_space(OmegaConf.to_container(tuning.space), {}, "")
    if grid_size(common) != tuning.trials:
        raise TuningError(f"tuning.trials={tuning.trials} is not the size of the common grid tuning.space "
                          f"({grid_size(common)} settings): every tuned arm trains the whole grid")
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
    """``arm tl-full, set 0 (seeds [1000]), 7 trials (...), objective target: trainer.lr=0.01 ... (validation
    -0.91; ...)``"""
    chosen = " ".join(f"{key}={value}" for key, value in choice["chosen"].items())
    per_task = choice.get("per_task") or {}
    tasks = (" per task: " + "; ".join(f"{task} " + " ".join(f"{k}={v}" for k, v in setting.items())
                                       for task, setting in per_task.items())) if per_task else ""
    edge = f"; on the edge of its space: {', '.join(choice['on_edge'])}" if choice["on_edge"] else ""
    return (f"arm {choice['arm']}, set {choice['set']} (seeds {choice['tuning']['seeds']}), {len(choice['trials'])} "
            f"trials ({choice['method']}), objective {choice['tuning']['objective']}: {chosen}{tasks} "
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


def choose(cfg: DictConfig, arm: str, defining: dict, train: Trainer, folder: Path) -> list[tuple[dict, bool]]:
    """Per tuning-seed set, the stored choice for this (condition, arm), and whether it was made now (there was
    none). Sets without a choice search together: their trials train as one population where they can.
    ``train(cfg, members)`` returns the records (stored, without test metrics) of ``members`` under ``cfg``."""
    tuning = cfg.tuning
    common, own = arm_space(OmegaConf.to_container(tuning.space), OmegaConf.to_container(tuning.arms or {}), arm)
    if arm in PER_TASK and own:
        raise TuningError(f"tuning.arms.{arm}: an arm tuned per task searches the common grid only")
    objective = scored_objective(cfg)
    found: dict[int, tuple[dict, bool]] = {}
    pending: dict[int, dict] = {}
    for index, seeds in enumerate(seed_sets(tuning)):
        defined = {"condition": condition(defining, common + own), "arm": arm,
                   "tuning": spec(tuning, arm, seeds, objective)}
        stored = read_choice(record_path(folder, run_id(defined)), common + own)
        if stored is not None:
            found[index] = (stored, False)
        else:
            pending[index] = defined
    if pending:
        started = time.perf_counter()
        trials = _search(cfg, arm, common, own, pending, train)
        seconds = (time.perf_counter() - started) / len(pending)
        for index, defined in pending.items():
            found[index] = (_store(folder, index, defined, common + own, trials[index], seconds), True)
    return [found[index] for index in sorted(found)]


def _search(cfg: DictConfig, arm: str, common: list[Dimension], own: list[Dimension], pending: dict[int, dict],
            train: Trainer) -> dict[int, list[dict]]:
    """Every pending set's trials: the whole common grid at the own knob's configured value, then the knob's
    other values at the set's best common setting."""
    configured = {d.key: OmegaConf.select(cfg, d.key) for d in own}
    trials: dict[int, list[dict]] = {index: [] for index in pending}

    def run(planned: list[tuple[int, dict]], step: str) -> None:
        settings = [(setting, pending[index]["tuning"]["seeds"]) for index, setting in planned]
        for (index, setting), records in zip(planned, _train_trials(cfg, settings, arm, train), strict=True):
            trials[index].append({"number": len(trials[index]), "step": step, "setting": setting,
                                  **_trial(records, pending[index]["tuning"]["objective"])})

    run([(index, {**setting, **configured}) for index in pending for setting in grid(common)], "common grid")
    if own:  # a set whose every common setting failed has no best one: _store says so in one line
        others = [point for point in grid(own) if point != configured]
        ready = [index for index in pending if any(not math.isnan(t["value"]) for t in trials[index])]
        run([(index, {**_best(trials[index], lambda t: t["value"])["setting"], **point})
             for index in ready for point in others], "own knob")
    return trials


def _trial(records: list[dict], objective: str) -> dict:
    """One setting's score per tuning seed, their mean and each task's mean (NaN if any run failed), and the
    runs' errors."""
    per_seed = {str(r["seed"]): score(r, objective) for r in records}
    failed = any(math.isnan(v) for v in per_seed.values())
    value = math.nan if failed else sum(per_seed.values()) / len(per_seed)
    tasks: dict[str, float] = {}
    if not failed:
        for record in records:
            for task in record["tasks"]:
                tasks[task["task"]] = tasks.get(task["task"], 0.0) - task["val"]["loss"] / len(records)
    target = target_task(records[0])["task"] if not failed else None
    errors = sorted({r["error"] for r in records if r.get("status") != "ok"})
    return {"value": value, "per_seed": per_seed, "tasks": tasks, "target": target, "errors": errors}


def _best(trials: list[dict], value: Callable[[dict], float]) -> dict:
    """The trial of the highest ``value``; those within ``TIE`` of it tie, and the smallest learning rate
    wins (``min`` keeps the first of equal ones)."""
    valid = [t for t in trials if not math.isnan(value(t))]
    top = max(value(t) for t in valid)
    tied = [t for t in valid if value(t) >= top - TIE]
    return {**min(tied, key=lambda t: t["setting"].get("trainer.lr", 0.0)), "tied": len(tied)}


def _store(folder: Path, index: int, defined: dict, dimensions: list[Dimension], trials: list[dict],
           seconds: float) -> dict:
    """Pick the best setting (per task for STL's copies) and write the choice, or fail when every setting
    failed."""
    valid = [t for t in trials if not math.isnan(t["value"])]
    if not valid:
        raise TuningError(f"tuning arm {defined['arm']!r}: every one of {len(trials)} settings failed on the "
                          f"tuning seeds (first error: {next((e for t in trials for e in t['errors']), '?')})")
    if defined["arm"] in PER_TASK:
        best = {task: _best(valid, lambda t, task=task: t["tasks"][task]) for task in valid[0]["tasks"]}
        target = valid[0]["target"]
        per_task = {task: trial["setting"] for task, trial in best.items()}
        values = [trial["tasks"][task] for task, trial in best.items()]
        value = values[list(best).index(target)] if defined["tuning"]["objective"] == "target" else \
            sum(values) / len(values)
        picked = {"chosen": per_task[target], "per_task": per_task, "value": value, "tied": best[target]["tied"],
                  "on_edge": [f"{task}: {d.key}" for task, setting in per_task.items() for d in dimensions
                              if d.on_edge(setting[d.key])]}
    else:
        best = _best(valid, lambda t: t["value"])
        picked = {"chosen": best["setting"], "value": best["value"], "tied": best["tied"],
                  "on_edge": [d.key for d in dimensions if d.on_edge(best["setting"][d.key])]}
    method = "whole grid" + (" + own knob at the best common setting" if defined["tuning"]["own"] else "")
    choice = {"run_id": run_id(defined), "status": "ok", "stage": "tuning-choice", **defined, "set": index,
              "method": method, **picked, "trials": trials, "seconds": round(seconds, 3)}
    write_record(folder, choice)
    return choice


def _train_trials(cfg: DictConfig, trials: list[tuple[dict, list[int]]], arm: str, train: Trainer) -> list[list[dict]]:
    """Each trial's records on its seeds. Trials that differ only in learning rate and weight decay (and
    seeds) train as one population, others (an arm's own knob) as populations of their own."""
    groups: dict[str, list[int]] = {}
    for number, (setting, _) in enumerate(trials):
        rest = {k: v for k, v in setting.items() if k not in POPULATION_KEYS}
        groups.setdefault(json.dumps(rest, sort_keys=True), []).append(number)
    found: list[list[dict]] = [[] for _ in trials]
    for rest, numbers in groups.items():
        group_cfg = with_setting(cfg, json.loads(rest), arm)
        members, owners = [], []
        for number in numbers:
            setting, seeds = trials[number]
            lr = setting.get("trainer.lr", group_cfg.trainer.lr)
            decay = setting.get("trainer.weight_decay", group_cfg.trainer.weight_decay)
            members += [Member(seed, float(lr), float(decay)) for seed in seeds]
            owners += [number] * len(seeds)
        for owner, record in zip(owners, train(group_cfg, members), strict=True):
            found[owner].append(record)
    return found


def evaluation_populations(cfg: DictConfig, members: list[Member], choices: list[dict],
                           arm: str) -> list[tuple[DictConfig, list[tuple[Member, dict]]]]:
    """The populations that evaluate ``members`` (the job's seeds), each seed at its set's choice: seeds whose
    choices differ only in learning rate and weight decay (STL's per task too) train as one population."""
    populations: dict[str, tuple[DictConfig, list[tuple[Member, dict]]]] = {}
    for member in members:
        choice = choices[set_of(member.seed, len(choices))]
        chosen = choice["chosen"]
        rest = {k: v for k, v in chosen.items() if k not in POPULATION_KEYS}
        key = json.dumps(rest, sort_keys=True)
        if key not in populations:
            populations[key] = (with_setting(cfg, rest, arm), [])
        per_task = tuple((task, float(setting.get("trainer.lr", member.lr)),
                          float(setting.get("trainer.weight_decay", member.weight_decay)))
                         for task, setting in (choice.get("per_task") or {}).items())
        tuned = Member(member.seed, float(chosen.get("trainer.lr", member.lr)),
                       float(chosen.get("trainer.weight_decay", member.weight_decay)), per_task)
        populations[key][1].append((tuned, choice))
    return list(populations.values())
