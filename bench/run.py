"""Hydra entry point: one job = one (task family, regime, seed) -> one run record.

    python -m bench.run regime=mtl data.relatedness=0.5 seed=3
    python -m bench.run -m +study=relatedness
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

from bench.metrics import PRIMARY_METRIC
from bench.results.records import is_done, record_path, run_id, write_record

# The config groups that define a result; output paths, study name and thread count do not.
DEFINING_KEYS = ("data", "model", "regime", "trainer", "seed")
_PACKAGES = ("torch", "pytorch-lightning", "hydra-core", "scikit-learn", "numpy", "pandas", "mtl-transfer-bench")


def defining_config(cfg: DictConfig) -> dict:
    return {key: OmegaConf.to_container(cfg[key], resolve=True) if key != "seed" else cfg.seed
            for key in DEFINING_KEYS}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def run_job(cfg: DictConfig) -> dict:
    """Run one job unless its ``ok`` record exists; always leave a record (``ok`` or ``failed``)."""
    config = defining_config(cfg)
    rid = run_id(config)
    study_dir = Path(cfg.paths.experiments) / cfg.study_name
    describe = _describe(cfg)
    if is_done(study_dir, rid):
        print(f"[{cfg.study_name}] skip {describe}: finished record {record_path(study_dir, rid)}", flush=True)
        return {"run_id": rid, "status": "skipped"}

    record = {
        "run_id": rid, "study": cfg.study_name, "seed": cfg.seed,
        "regime": str(cfg.regime.get("_target_", "?")).rsplit(".", 1)[-1], "strategy": cfg.regime.get("strategy"),
        "config": config, "versions": versions(),
    }
    start = time.perf_counter()
    try:
        import torch  # heavy imports only once we know the job runs: skipping a finished job stays fast

        from bench.regimes.training import quiet_lightning

        torch.set_num_threads(cfg.threads)
        quiet_lightning()
        family = instantiate(cfg.data, seed=cfg.seed)
        regime = instantiate(cfg.regime)
        record.update(regime=regime.name, strategy=regime.strategy, knobs=family.knobs,
                      descriptors=family.descriptors)
        tasks, fit = regime.run(family, instantiate(cfg.model), instantiate(cfg.trainer), cfg.seed)
        record.update(status="ok", tasks=tasks, fit=fit)
    except Exception as error:  # one failed job must leave a record and never take a sweep down
        cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        record.update(status="failed", error=f"{type(cause).__name__}: {cause}", traceback=traceback.format_exc())
    record["timings"] = {"total_s": round(time.perf_counter() - start, 3)}
    write_record(study_dir, record)
    print(f"[{cfg.study_name}] {record['status']} {describe} ({record['timings']['total_s']:.1f}s) {_summary(record)}",
          flush=True)
    return record


def _describe(cfg: DictConfig) -> str:
    """``regime=tl_full seed=3 relatedness=0.5 ...``: the regime choice and the knobs this job overrides."""
    regime = HydraConfig.get().runtime.choices.get("regime") if HydraConfig.initialized() else None
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    knobs = [o.removeprefix("data.") for o in overrides if o.startswith("data.")]
    return " ".join([f"regime={regime or cfg.regime.get('_target_')}", f"seed={cfg.seed}", *knobs])


def _summary(record: dict) -> str:
    if record["status"] != "ok":
        return record["error"]
    target = next((t for t in record["tasks"] if t["role"] == "target"), record["tasks"][0])
    metric = PRIMARY_METRIC[target["kind"]]
    return f"{target['task']} test {metric}={target['test'][metric]:.3f}"


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    """Returns the record: in a sweep, bench.sweep.SweepProgress reads its status from Hydra's job return."""
    record = run_job(cfg)
    if record["status"] == "failed" and not _in_multirun():
        print(f"error: {record['error']}", file=sys.stderr)
        sys.exit(1)
    return record


if __name__ == "__main__":
    main()
