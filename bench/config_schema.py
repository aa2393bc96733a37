"""Typed schemas of the config tree (Hydra structured configs), registered in Hydra's ConfigStore.

The YAML files in conf/ list these schemas first in their defaults, so composition rejects a value of
the wrong type (``trainer.batch_size=1.5``, ``model.width=abc``), a missing value (``trainer.max_steps=null``)
and an unknown key with the key named, before anything runs. Values that a type cannot say (a seed may
be an int or a list of ints; ranges) are checked by bench.checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PathsSchema:
    experiments: str = "experiments"


@dataclass
class BenchSchema:
    """The root: groups are ``Any`` here, each group's own schema types its keys."""

    data: Any = MISSING
    model: Any = MISSING
    regime: Any = MISSING
    trainer: Any = MISSING
    weighting: Any = None  # MTL's weighting method (conf/weighting/), read by conf/regime/mtl.yaml
    tuning: Any = None  # the hyper-parameter search of every neural arm (conf/tuning/)
    seed: Any = 0  # an int or a list of ints (a population): bench.checks checks each
    study_name: str = "adhoc"
    threads: int = 1
    paths: PathsSchema = field(default_factory=PathsSchema)


@dataclass
class TrainerSchema:
    _target_: str = MISSING
    max_steps: int = MISSING
    eval_every: int = MISSING
    patience: int = MISSING
    batch_size: int = MISSING
    lr: Any = MISSING  # a float or a list of floats (population members)
    weight_decay: Any = 0.0  # likewise
    accelerator: str = "auto"
    progress_bar: bool = False


@dataclass
class BackboneSchema:
    """What every conf/model/ entry shares: a backbone class, instantiated later per input shape."""

    _target_: str = MISSING
    _partial_: bool = True


@dataclass
class MLPSchema(BackboneSchema):
    width: int = MISSING
    depth: int = MISSING


@dataclass
class LinearSchema(BackboneSchema):
    width: Optional[int] = None  # noqa: UP045 - OmegaConf reads typing.Optional, not the | form
    depth: int = 1
    activation: str = "none"


@dataclass
class CNNSchema(BackboneSchema):
    channels: list[int] = MISSING
    width: int = MISSING


@dataclass
class TuningSchema:
    """conf/tuning/: the search every neural arm gets (bench/tuning/stage.py); trials=0 is untuned."""

    trials: int = 0
    seeds: list[list[int]] = field(default_factory=lambda: [[1000], [1001]])  # tuning-seed sets
    objective: str = "target"
    space: dict[str, Any] = field(default_factory=dict)
    arms: dict[str, Any] = field(default_factory=dict)


@dataclass
class MMoESchema(BackboneSchema):
    experts: int = MISSING
    width: int = MISSING
    depth: int = MISSING


@dataclass
class CrossStitchSchema(BackboneSchema):
    width: int = MISSING
    depth: int = MISSING


def register() -> None:
    """Store the schemas under the names that conf/'s defaults lists use (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="bench_schema", node=BenchSchema)
    store.store(group="trainer", name="trainer_schema", node=TrainerSchema)
    store.store(group="model", name="mlp_schema", node=MLPSchema)
    store.store(group="model", name="linear_schema", node=LinearSchema)
    store.store(group="model", name="cnn_schema", node=CNNSchema)
    store.store(group="model", name="mmoe_schema", node=MMoESchema)
    store.store(group="model", name="cross_stitch_schema", node=CrossStitchSchema)
    store.store(group="tuning", name="tuning_schema", node=TuningSchema)


register()
