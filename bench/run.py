"""Hydra entry point: one job = one population (one condition, several seeds or settings) -> one record each.

    python -m bench.run regime=mtl data.relatedness=0.5 seed=3             # one member
    python -m bench.run regime=mtl 'seed=[0,1,2]' 'trainer.lr=[1e-3,3e-3]'  # six members, one batched model
    python -m bench.run -m +study=relatedness                               # every condition of a study
"""

from __future__ import annotations

import platform
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import bench.config_schema  # noqa: F401 - registers the typed schemas that conf/'s defaults lists name
import bench.overrides  # noqa: F401 - Hydra's lexer errors on '#', spaces, non-ASCII say how to quote
from bench.checks import check_seed
from bench.cli import one_line_errors
from bench.metrics import PRIMARY_METRIC
from bench.preflight import ONE_LINE_ERRORS, job_failed, preflight
from bench.provenance import code_commit, data_file_hashes
from bench.results.records import is_done, read_record, record_path, run_id, target_task, write_record
from bench.shutdown import stop_on_signals

# The config groups that define a result; output paths, study name and thread count do not.
DEFINING_KEYS = ("data", "model", "regime", "trainer", "seed")
# Where a run trains does not define it (the record says which device it used), so run ids stay the same.
RUN_ONLY_TRAINER_KEYS = ("accelerator",)
# Nor does the metric the report compares on (every metric is recorded; `bench.report --metric` chooses).
# Records written before it left the run id are found under their old id (``legacy``), so none re-trains.
REPORT_ONLY_DATA_KEYS = ("metric",)
_METRIC_NOTE = ("; data.metric does not re-train: finished runs keep the metric they were run with as the report's "
                "default, and `python -m bench.report --metric NAME` chooses another")
_PACKAGES = ("torch", "pytorch-lightning", "hydra-core", "scikit-learn", "numpy", "pandas", "mtl-transfer-bench")


def defining_config(cfg: DictConfig) -> dict:
    """The config keys that define a result, plus a content hash of every data file it reads (an edited
    table defines new runs)."""
    config = {key: OmegaConf.to_container(cfg[key], resolve=True) if key != "seed" else cfg.seed
              for key in DEFINING_KEYS}
    config["data"] = {key: value for key, value in config["data"].items() if key not in REPORT_ONLY_DATA_KEYS}
    files = data_file_hashes(config["data"])
    return {**config, "data_files": files} if files else config


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    return {**found, **code_commit()}


def population_members(cfg: DictConfig) -> list:
    """The members this job trains: every combination of ``seed``, ``trainer.lr`` and ``trainer.weight_decay``
    (each one value or a list)."""
    from bench.regimes.population import as_list, grid

    check_seed(cfg.seed)
    seeds = as_list(OmegaConf.to_container(cfg.seed) if OmegaConf.is_list(cfg.seed) else cfg.seed)
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    return grid(seeds, as_list(trainer["lr"]), as_list(trainer["weight_decay"]))


def member_config(config: dict, member) -> dict:
    """The defining config of one member: what it would be as a run alone (one seed, one lr, one decay, and
    the settings of the tasks that train at their own: ``per_task``)."""
    trainer = {key: value for key, value in config["trainer"].items() if key not in RUN_ONLY_TRAINER_KEYS}
    trainer.update(lr=member.lr, weight_decay=member.weight_decay)
    if member.per_task:
        trainer["per_task"] = {task: {"lr": lr, "weight_decay": decay} for task, lr, decay in member.per_task}
    return {**config, "trainer": trainer, "seed": member.seed}


def run_job(cfg: DictConfig) -> dict:
    """Train this job's population, skipping members with an ``ok`` record; leave one record per member
    trained (``ok`` or ``failed``). With tuning on, the arm's hyper-parameters are first chosen on each
    tuning-seed set's validation scores, and each seed trains at its set's choice (bench/tuning/stage.py).
    Returns the job's summary: status, a run id, errors."""
    study_dir = Path(cfg.paths.experiments) / cfg.study_name
    describe = _describe(cfg)
    try:
        populations = tuned(cfg, describe)
    except ValueError as error:
        return _job_summary([{"run_id": None, "seed": None, "status": "failed",
                              "error": f"{type(error).__name__}: {error}"}])
    trained, done = [], []
    for population_cfg, members in populations:
        base = defining_config(population_cfg)
        pending, finished = _split_done(study_dir, base, members, _legacy(population_cfg, base))
        done += finished
        if pending:
            trained += _train_and_write(study_dir, population_cfg, pending, describe)
    if done:
        print(f"[{cfg.study_name}] skip {describe}: {len(done)} of {len(done) + len(trained)} member(s) finished "
              f"earlier (e.g. {record_path(study_dir, done[0][1])})"
              + _METRIC_NOTE * (cfg.data.get("metric") is not None), flush=True)
    if not trained:
        return {"status": "skipped", "run_id": done[0][1], "error": None, "members": len(done)}
    return _job_summary(trained)


def _train_and_write(study_dir: Path, cfg: DictConfig, pending: list, describe: str) -> list[dict]:
    """Train the pending ``(member, config, choice)`` triples as one population and write their records."""
    from bench.tuning.stage import budget_id

    records = train_population(cfg, [(member, config) for member, config, _ in pending])
    for record, (_, _, choice) in zip(records, pending, strict=True):
        if choice:
            record["tuning"] = {"choice": choice["run_id"], "arm": choice["arm"], "set": choice["set"],
                                "budget": budget_id(choice), "chosen": choice["chosen"],
                                "trials": len(choice["trials"])}
            # a knob tuning chose is the arm's tuning, not a variant: the arm keeps one label across conditions
            record["variant"] = {key: value for key, value in (record.get("variant") or {}).items()
                                 if f"regime.{key}" not in choice["chosen"]}
        write_record(study_dir, record)
    seconds = records[0]["timings"]["total_s"]
    varied = len({(m.lr, m.weight_decay, m.per_task) for m, _, _ in pending}) > 1
    for record in records:
        print(f"[{cfg.study_name}] {record['status']} {describe} seed={record['seed']}"
              f"{_hyper_parameters(record, varied)} ({seconds:.1f}s for {len(records)}) {_summary(record)}",
              flush=True)
    return records


def _split_done(folder: Path, base: dict, members: list, legacy: dict | None = None) -> tuple[list, list]:
    """``(member, defining config, choice)`` of the ``(member, choice)`` pairs without an ``ok`` record in
    ``folder``, and ``(member, run id)`` of those with one, under its id or, for an untuned member given
    ``legacy`` (a defining config as older code made it), its old id. A tuned run is its own run (its config
    names its choice): an untuned one at the same values stays apart in the report."""
    pending, done = [], []
    for member, choice in members:
        config = member_config(base, member)
        if choice:
            config["tuning"] = choice["run_id"]
        ids = [run_id(config), *([run_id(member_config(legacy, member))] if legacy and not choice else [])]
        found = next((rid for rid in ids if is_done(folder, rid)), None)
        if found is None:
            pending.append((member, config, choice))
        else:
            done.append((member, found))
    return pending, done


def _legacy(cfg: DictConfig, base: dict) -> dict | None:
    """The defining config with the report-only data keys back in, as records written before they left the
    run id hold it; None when the data config has none of them (its run ids never changed)."""
    kept = {key: cfg.data[key] for key in REPORT_ONLY_DATA_KEYS if key in cfg.data}
    if not kept:
        return None
    return {**base, "data": {**base["data"], **OmegaConf.to_container(OmegaConf.create(kept), resolve=True)}}


def tuned(cfg: DictConfig, describe: str) -> list[tuple[DictConfig, list[tuple]]]:
    """The populations that train this job's members, each ``(config, [(member, its tuning choice)])``: one,
    at the config's settings, when tuning is off or the arm chooses its own regularisation (scikit-learn);
    else each seed at the choice of its tuning set."""
    from bench.tuning import stage

    members = population_members(cfg)
    if not cfg.get("tuning") or cfg.tuning.trials == 0:
        return [(cfg, [(member, None) for member in members])]
    regime = instantiate(cfg.regime)
    if regime.name in stage.SELF_TUNED:
        return [(cfg, [(member, None) for member in members])]
    stage.check(cfg, [m.seed for m in members])
    arm = stage.arm_name(regime)
    folder = stage.tuning_folder(cfg.paths.experiments, cfg.study_name)

    def train(setting_cfg: DictConfig, setting_members: list) -> list[dict]:
        from bench.regimes.transfer import without_diagnostics

        base = defining_config(setting_cfg)
        pending, _ = _split_done(folder / "trials", base, [(m, None) for m in setting_members])
        if pending:
            with without_diagnostics():  # they are scored on the test split, which tuning never reads
                trained = train_population(setting_cfg, [(member, config) for member, config, _ in pending])
            for record in trained:
                write_record(folder / "trials", stage.without_test(record))
        return [read_record(record_path(folder / "trials", run_id(member_config(base, m)))) for m in setting_members]

    where_free = member_config(defining_config(cfg), members[0])  # no accelerator: the same choice anywhere
    choices = stage.choose(cfg, arm, where_free, train, folder)
    for choice, made in choices:
        print(f"[{cfg.study_name}] {'tuned' if made else 'stored tuning of'} {describe}: {stage.describe(choice)}",
              flush=True)
    return stage.evaluation_populations(cfg, members, [choice for choice, _ in choices], arm)


def train_population(cfg: DictConfig, pending: list) -> list[dict]:
    """One record per pending member: its family is drawn from its seed, all train as one population."""
    found = versions()  # once per job: it asks git twice, and every member ran the same code
    records = [{"run_id": run_id(config), "study": cfg.study_name, "seed": member.seed,
                "regime": str(cfg.regime.get("_target_", "?")).rsplit(".", 1)[-1],
                "strategy": cfg.regime.get("strategy"), "config": config, "versions": dict(found),
                "population": {"size": len(pending), "index": index}}
               for index, (member, config) in enumerate(pending)]
    start = time.perf_counter()
    try:
        import torch  # heavy imports only once we know the job runs: skipping a finished job stays fast

        from bench.data.validation import draw_family
        from bench.regimes.pretrain_cache import caching_in
        from bench.regimes.training import quiet_lightning

        torch.set_num_threads(cfg.threads)
        quiet_lightning()
        regime, training = instantiate(cfg.regime), instantiate(cfg.trainer)
        families = {}
        for record, (member, _) in zip(records, pending, strict=True):
            record.update(regime=regime.name, strategy=regime.strategy, device=training.device.type,
                          weighting=getattr(regime, "weighting_name", None), variant=getattr(regime, "variant", {}))
            try:
                if member.seed not in families:
                    families[member.seed] = draw_family(cfg.data, member.seed)
                family = families[member.seed]
                record.update(knobs={**family.knobs, **model_knobs(cfg.model)}, descriptors=family.descriptors)
            except Exception as error:  # a draw that fails for one seed fails that member only
                _fail(record, error)
        waiting = [(r, m, families.get(m.seed)) for r, (m, _) in zip(records, pending, strict=True)
                   if "status" not in r]
        for batch in compatible_batches(waiting):
            started = time.perf_counter()
            with caching_in(Path(cfg.paths.experiments) / ".pretrained"):  # transfer's pretraining, once per recipe
                outcomes = regime.run([family for _, _, family in batch], instantiate(cfg.model), training,
                                      [member for _, member, _ in batch])
            timings = _training_time(time.perf_counter() - started, outcomes)
            for (record, _, _), outcome in zip(batch, outcomes, strict=True):
                record["timings"] = timings
                if outcome.error:
                    record.update(status="failed", error=outcome.error)
                else:
                    record.update(status="ok", tasks=outcome.tasks, fit=outcome.fit)
    except Exception as error:  # one failed job must leave its records and never take a sweep down
        for record in records:
            if "status" not in record:
                _fail(record, error)
    seconds = round(time.perf_counter() - start, 3)
    for record in records:
        record["timings"] = {**record.get("timings", {}), "total_s": seconds, "population_size": len(records)}
    return records


def _training_time(seconds: float, outcomes: list) -> dict:
    """The population's training wall time and its time per step (the longest-running member's steps,
    validation included): the per-step cost that compares regimes and MTL weighting methods."""
    steps = max((outcome.fit.get("steps") or 0 for outcome in outcomes if not outcome.error), default=0)
    timings = {"train_s": round(seconds, 3)}
    return {**timings, "step_ms": round(1000 * seconds / steps, 4)} if steps else timings


def model_knobs(model: DictConfig) -> dict:
    """The backbone's capacity as a knob (``width``: the shared bottleneck of ``model=linear``), so that a
    study can sweep it (conf/study/capacity.yaml); constant elsewhere, where the report ignores it."""
    return {"width": model.get("width")} if "width" in model else {}


def compatible_batches(members: list[tuple]) -> list[list[tuple]]:
    """Members whose families have the same tasks and input shape train as one population. Seeds usually
    agree; a table whose one-hot columns depend on the seed's training rows can split a job in several."""
    from bench.regimes.population import recipe_signature

    batches: dict[tuple, list[tuple]] = {}
    for item in members:
        batches.setdefault(recipe_signature(item[2].tasks), []).append(item)
    return list(batches.values())


def _fail(record: dict, error: Exception) -> None:
    cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
    record.update(status="failed", error=f"{type(cause).__name__}: {cause}", traceback=traceback.format_exc())


def _job_summary(records: list[dict]) -> dict:
    """What the sweep's progress reads: failed if a member failed (each error once, with its seeds), else ok."""
    failed = [r for r in records if r["status"] == "failed"]
    by_error: dict[str, list] = {}
    for record in failed:
        by_error.setdefault(record["error"], []).append(record["seed"])
    errors = "; ".join(error if len(records) == 1 else f"seed(s) {', '.join(map(str, seeds))}: {error}"
                       for error, seeds in by_error.items())
    return {"status": "failed" if failed else "ok", "run_id": (failed or records)[0]["run_id"],
            "error": errors or None, "members": len(records)}


def _describe(cfg: DictConfig) -> str:
    """``regime=tl_full relatedness=0.5 ...``: the regime choice and the knobs this job overrides."""
    regime = HydraConfig.get().runtime.choices.get("regime") if HydraConfig.initialized() else None
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    knobs = [o.removeprefix("data.") for o in overrides if o.startswith("data.")]
    return " ".join([f"regime={regime or cfg.regime.get('_target_')}", *knobs])


def _hyper_parameters(record: dict, varied: bool) -> str:
    trainer = record["config"]["trainer"]
    own = " per task: " + "; ".join(f"{task} lr={s['lr']:g} weight_decay={s['weight_decay']:g}"
                                    for task, s in trainer["per_task"].items()) if "per_task" in trainer else ""
    return f" lr={trainer['lr']:g} weight_decay={trainer['weight_decay']:g}{own}" if varied else ""


def _summary(record: dict) -> str:
    if record["status"] != "ok":
        return record["error"]
    target = target_task(record)
    chosen = record.get("descriptors", {}).get("primary_metric", {})
    metric = chosen.get(target["task"], PRIMARY_METRIC[target["kind"]]) if isinstance(chosen, dict) else \
        PRIMARY_METRIC[target["kind"]]
    return f"{target['task']} test {metric}={target['test'][metric]:.3f}"


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@one_line_errors
@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    """Returns the record: in a sweep, bench.sweep.SweepProgress reads its status from Hydra's job return.

    Values, memory and the study folder are checked before anything trains. In a sweep, whatever the job
    raises becomes a failed outcome: Hydra would re-raise it and skip the sweep's summary (bench/preflight.py).
    """
    try:
        if not _in_multirun():  # a sweep's launcher has its own (bench/sweep.py)
            stop_on_signals("the run", workers=False)
        preflight(cfg, HydraConfig.get().overrides.task)
        record = run_job(cfg)
    except Exception as error:
        if _in_multirun():
            return job_failed(cfg, error)
        if isinstance(error, ONE_LINE_ERRORS):
            sys.exit(f"error: {error}")
        raise
    if record["status"] == "failed" and not _in_multirun():
        print(f"error: {record['error']}", file=sys.stderr)
        sys.exit(1)
    return record


if __name__ == "__main__":
    main()
