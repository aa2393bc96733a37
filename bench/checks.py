"""Value checks on a composed config, run before anything trains (scikit-learn's "validate at the boundary").

Types and required values are the schemas' job (bench/config_schema.py); what a type cannot say is
checked here: ranges, a seed that may be an int or a list of ints, keys that a ``+key=value`` override
adds and nothing reads, and the data knobs, by the family's own check (``check_knobs`` beside its
``_target_``), so that ``data.relatedness=2`` stops the sweep instead of failing every job. Each failure is
one line naming the key, the bad value and what is expected.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.paths import study_name_problem

SEED_LIMIT = 2**32  # numpy's and torch's seeds
ACCELERATORS = ("auto", "cpu", "gpu")


class ConfigError(ValueError):
    """A config value that cannot run; the message is one line that names the key."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _one_or_list(key: str, value: Any, ok, expected: str) -> None:
    """``value`` is one item or a non-empty list of items (a population), each passing ``ok``."""
    value = _plain(value)
    items = value if isinstance(value, list) else [value]
    if not items or not all(ok(item) for item in items):
        raise ConfigError(f"{key}={value!r} is invalid, expected {expected} or a non-empty list of them")


def check_seed(value: Any) -> None:
    _one_or_list("seed", value, lambda s: _is_int(s) and 0 <= s < SEED_LIMIT, "an integer in [0, 2**32 - 1]")


def check_count(key: str, value: Any, minimum: int = 1) -> None:
    if not (_is_int(value) and value >= minimum):
        raise ConfigError(f"{key}={value!r} is invalid, expected an integer >= {minimum}")


def check_trainer(trainer: Mapping) -> None:
    """A trainer config, composed or a plain mapping (``bench.regimes.training.Training`` checks itself here)."""
    for name in ("max_steps", "eval_every", "patience", "batch_size"):
        check_count(f"trainer.{name}", trainer.get(name))
    _one_or_list("trainer.lr", trainer.get("lr"), lambda v: _is_finite(v) and v > 0, "a finite number > 0")
    _one_or_list("trainer.weight_decay", trainer.get("weight_decay", 0.0), lambda v: _is_finite(v) and v >= 0,
                 "a finite number >= 0")
    if trainer.get("accelerator", "auto") not in ACCELERATORS:
        raise ConfigError(f"trainer.accelerator={trainer.get('accelerator')!r} is invalid, expected one of "
                          f"{', '.join(ACCELERATORS)}")


def check_model(model: DictConfig) -> None:
    for name in ("width", "depth"):
        if name in model and not (name == "width" and model[name] is None and "activation" in model):
            check_count(f"model.{name}", model[name])
    for index, channels in enumerate(model.get("channels") or []):
        check_count(f"model.channels[{index}]", channels)


def check_data(data: DictConfig) -> None:
    """The family's own knob check, when the module that defines its ``_target_`` has one: a function
    ``check_knobs`` taking the knobs by name and raising ValueError (FamilyError) on the first bad one. It gets
    the keys the family is built from (all of them when it takes ``**knobs``, as the synthetic family's does,
    which also refuses a misspelt knob; else those it names), so a family that adds a knob is checked here
    unchanged."""
    from hydra.utils import get_object

    from bench.data.validation import KEY as PROTOCOL_KEY  # the target's validation size, not a family knob

    target = data.get("_target_") if isinstance(data, DictConfig) else None
    if not isinstance(target, str):
        return
    try:
        family = get_object(target)
    except (ImportError, AttributeError, ValueError):  # instantiation says which, naming the target
        return
    check = getattr(sys.modules.get(getattr(family, "__module__", "")), "check_knobs", None)
    if check is None:
        return
    parameters = inspect.signature(check).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    knobs = {key: value for key, value in _plain(data).items()
             if not key.startswith("_") and key != PROTOCOL_KEY and (takes_any or key in parameters)}
    try:
        inspect.signature(check).bind(**knobs)
    except TypeError:  # a knob it needs is not in this config: the family checks when it is built
        return
    try:
        check(**knobs)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def check_launcher(launcher: DictConfig) -> None:
    """The launcher's worker count, when it has one: joblib's n_jobs=0 fails only once jobs launch."""
    if "n_jobs" in launcher:
        n_jobs = launcher.n_jobs
        if not (_is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
            raise ConfigError(f"hydra.launcher.n_jobs={n_jobs!r} is invalid, expected an integer >= 1 "
                              "(or -1: one worker per core)")


def _schema_fields(node: DictConfig) -> set[str] | None:
    kind = OmegaConf.get_type(node)
    return {f.name for f in dataclasses.fields(kind)} if dataclasses.is_dataclass(kind) else None


def _target_parameters(node: DictConfig) -> set[str] | None:
    """The keyword arguments that ``node._target_`` accepts, or None when it takes any (``**kwargs``)."""
    from hydra.utils import get_object

    parameters = inspect.signature(get_object(node._target_)).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def unknown_keys(cfg: DictConfig, overrides: Iterable[str] = ()) -> list[str]:
    """Keys that no schema and no ``_target_`` takes: added by ``+key=value`` and silently ignored otherwise.

    Typed nodes (the root, trainer, model) are checked against their schema. The untyped groups (data,
    regime, weighting) are checked against their ``_target_``'s signature, and only for keys that an override adds
    (``+data.x=1``), so that a launching process does not import the targets' heavy modules.
    """
    unknown = []
    for path, node in [("", cfg), *((name, cfg.get(name)) for name in ("trainer", "model", "paths"))]:
        fields = _schema_fields(node) if isinstance(node, DictConfig) else None
        if fields is not None:
            unknown += [f"{path}.{key}" if path else str(key) for key in node if key not in fields | {"hydra"}]
    added = {o.lstrip("+").split("=", 1)[0] for o in overrides if o.startswith("+") and "=" in o}
    for group in ("data", "regime", "weighting"):
        keys = [key.split(".", 2)[1] for key in added if key.startswith(f"{group}.")]
        node = cfg.get(group)
        if keys and isinstance(node, DictConfig) and "_target_" in node:
            accepted = _target_parameters(node)
            if accepted is not None and group == "data":
                from bench.data.validation import KEY as PROTOCOL_KEY  # read by the protocol, not the family

                accepted.add(PROTOCOL_KEY)
            unknown += [f"{group}.{key}" for key in keys if accepted is not None and key not in accepted]
    return unknown


def check_config(cfg: DictConfig, overrides: Iterable[str] = ()) -> None:
    """Raise ConfigError (one line) on the first value of ``cfg`` that cannot run."""
    unknown = unknown_keys(cfg, overrides)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (added with '+'; nothing reads it): remove it, or check "
                          "its spelling against `python -m bench.run --cfg job`")
    check_seed(cfg.seed)
    check_count("threads", cfg.threads)
    problem = study_name_problem(cfg.study_name)
    if problem:
        raise ConfigError(problem)
    check_trainer(cfg.trainer)
    check_model(cfg.model)
    check_data(cfg.data)
