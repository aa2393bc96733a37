"""A pilot: the arms of a condition trained briefly (a fraction of their step budget, a few seeds, untuned),
through the same job as ``bench.run``, their records kept apart from the studies' in a hidden folder.

The validation's third baseline runs one per corpus condition (each regime at a tenth of the budget); the
advisor's ``--confirm`` runs one on the user's family (the recommended arm and STL).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

CONF = Path(__file__).resolve().parents[2] / "conf"
FOLDER = Path(".advisor") / "pilot"  # under paths.experiments: hidden, so the report lists no pilot as a study


def composed(overrides: list[str]) -> DictConfig:
    """The job config ``python -m bench.run OVERRIDES`` would run (Hydra's own errors are raised as they are)."""
    import bench.config_schema  # noqa: F401 - registers the typed schemas that conf/'s defaults lists name
    import bench.overrides  # noqa: F401 - Hydra's lexer errors on '#', spaces, non-ASCII say how to quote

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides)


@cache
def _defaults() -> DictConfig:
    return composed(["tuning=untuned"])


def pilot_job(cfg: DictConfig, seeds: list[int], fraction: float, folder: Path, study: str) -> DictConfig:
    """``cfg`` as a pilot job: ``fraction`` of its steps (at least one validation period), ``seeds``, untuned
    at the default optimiser settings, its records under ``folder``/``study``."""
    defaults = _defaults()
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.trainer.max_steps = max(int(cfg.trainer.eval_every), math.ceil(fraction * int(cfg.trainer.max_steps)))
        cfg.trainer.lr, cfg.trainer.weight_decay = defaults.trainer.lr, defaults.trainer.weight_decay
        cfg.seed = list(seeds)
        cfg.tuning = defaults.tuning
        cfg.study_name = study
        cfg.paths.experiments = str(folder)
    return cfg


def from_record(config: dict) -> DictConfig:
    """The job config of a stored run (its defining config over the defaults): what its pilot re-runs."""
    cfg = _defaults().copy()
    with open_dict(cfg):
        for key in ("data", "model", "regime"):
            cfg[key] = OmegaConf.create(config[key])
        # a tuned STL run's per-task settings are tuning's, not a trainer key: the pilot trains untuned
        cfg.trainer = OmegaConf.merge(cfg.trainer, {k: v for k, v in config["trainer"].items() if k in cfg.trainer})
    return cfg


def run_pilot(jobs: list[DictConfig], seeds: list[int], fraction: float, folder: Path, study: str) -> list[dict]:
    """Run each job as a pilot (finished members are skipped, as in any sweep) and return every pilot record
    of ``study`` under ``folder``."""
    from bench.regimes.training import quiet_lightning
    from bench.results import load_records
    from bench.run import run_job

    quiet_lightning()
    for cfg in jobs:
        run_job(pilot_job(cfg, seeds, fraction, folder, study))
    return load_records(folder / study) if (folder / study).is_dir() else []

