"""A tiny study of real records, made in-process by bench.run's own job function: what the suite writes today
(stl, mtl with a weighting, tl_full with its diagnostics and pretraining cache, ridge, a tuned arm with its
choice and trials, and a failed run), for the schema and fuzz tests to start from."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

import bench.config_schema  # noqa: F401 - the schemas that conf/ names
from bench.run import run_job
from bench.tuning.space import Dimension

CONF = str(Path(__file__).resolve().parents[1] / "conf")
STUDY = "s"
TINY = ["trainer.max_steps=20", "trainer.eval_every=10", "trainer.patience=2", "data.n_train=16", "data.n_val=12",
        "data.n_test=24", "data.input_dim=4", "data.n_tasks=2", "model.width=4", "model.depth=1", f"study_name={STUDY}",
        "seed=[0,1]"]
TUNED = ["tuning=small", "tuning.trials=2", "tuning.space={trainer.lr:[0.001,0.01],trainer.weight_decay:[0.0]}",
         "tuning.seeds=[[1000]]"]  # one tuning-seed set; the whole grid of two settings
TUNED_SPACE = [Dimension("trainer.lr", (0.001, 0.01)), Dimension("trainer.weight_decay", (0.0,))]
JOBS = (["regime=stl"], ["regime=mtl", "weighting=pcgrad"], ["regime=tl_full"], ["regime=ridge"],
        ["regime=mtl", *TUNED], ["regime=stl", "trainer.lr=10"])  # the last diverges: failed records


def tiny_study(experiments: Path) -> Path:
    """Write the study under ``experiments`` (``<experiments>/s``, ``.tuning/s``, ``.pretrained``); returns it."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        for job in JOBS:
            run_job(compose("config", overrides=[*TINY, f"paths.experiments={experiments}", *job]))
    return experiments
