"""One schema per file kind the suite writes and reads back, checked where it is read, by every reader alike.

- **run record**: ``experiments/<study>/<run id>.json`` (tuning trials: ``.tuning/<study>/trials/``, no test split);
- **tuning choice**: ``experiments/.tuning/<study>/<choice id>.json`` (bench/tuning/stage.py);
- **pretraining-cache entry**: ``experiments/.pretrained/<key>.pt`` (a pretrained population) and
  ``<key>.json`` (its transferability diagnostics), bench/regimes/pretrain_cache.py.

A schema requires what its readers use and types it (pydantic, strict: ``"1"`` is not a number, ``true`` not
an integer); any other key is allowed, so files can grow without a change here. A file that fails is
described in one line naming the field (``fit.adapt.steps='x' is invalid: expected an integer``). The readers
(records.read_checked and is_done, scan.scan_records, choices.read_choice, the pretraining cache) warn in
that line: the report skips the file and counts it, resume and tuning treat it as missing and make it
again, the cache trains again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from bench.metric_names import HIGHER_IS_BETTER, PRIMARY_METRIC

SCHEMA_VERSION = 1  # the ``schema`` key write_record adds; a reader refuses versions it does not know
_RUN_FIELDS = ("run_id", "study", "regime", "strategy", "label", "seed", "status", "error")  # a run's table columns


def _scalar(value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"expected a string, number, true/false or null, not a JSON {_json_type(value)}")
    return value


def _knob_name(name: str) -> str:
    if name in _RUN_FIELDS:
        raise ValueError(f"{name!r} is a run's own field, not a knob")
    return name


def _known_metric(name: str) -> str:
    if name not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {name!r}, expected one of {', '.join(sorted(HIGHER_IS_BETTER))}")
    return name


def _tensor(value: Any) -> Any:
    import torch  # only a cache reader needs it, and it has torch already

    if not isinstance(value, torch.Tensor):
        raise ValueError(f"expected a tensor, not {type(value).__name__}")
    return value


def _empty_is_none(value: Any) -> Any:
    return None if value == {} else value  # a member that failed before: no diagnostics


Number = float  # strict: an integer or a float (NaN included), never a string or true/false
Count = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
KnobName = Annotated[str, AfterValidator(_knob_name)]
Metric = Annotated[str, AfterValidator(_known_metric)]
Metrics = dict[Metric, Number | None]
Tensor = Annotated[Any, AfterValidator(_tensor)]


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# --- run records ---------------------------------------------------------------------------------------------

class TaskResult(Schema):
    task: Name
    role: Literal["target", "source", "task"]
    kind: Literal["classification", "regression"]
    val: Metrics
    test: Metrics | None = None  # required unless the record is a tuning trial (checked by RunRecord)


class Stage(Schema):
    """A fit, or one of transfer's stages (``fit.pretrain``, ``fit.adapt``): what compute accounting reads."""

    steps: Count | None = None
    selected_steps: list[Count] | None = None
    stage_seconds: Number | None = None
    population_size: Count | None = None


class Probes(Schema):
    pretrained: dict[str, Number | None]
    random: dict[str, Number | None]
    raw: dict[str, Number | None]


class Pair(Schema):
    pretrained: Number | None
    random: Number | None


class Diagnostics(Schema):
    """A pretrained trunk's transferability diagnostics (bench/regimes/transfer.py ``diagnose``)."""

    probe: Probes
    effective_rank: Pair
    dead_units: Pair


MaybeDiagnostics = Annotated[Diagnostics | None, BeforeValidator(_empty_is_none)]


class SourceFit(Schema):
    diagnostics: MaybeDiagnostics = None


class Fit(Stage):
    pretrain: Stage | None = None
    adapt: Stage | None = None
    diagnostics: MaybeDiagnostics = None
    sources: dict[str, SourceFit] = {}


class TuningUse(Schema):
    """How a tuned run's hyper-parameters were chosen: its choice file, arm, chosen values and budget."""

    choice: Name
    arm: Name
    set: Count | None = None   # its tuning-seed set (records before there were sets have none)
    budget: Name | None = None  # what the sets' choices share: records of one tuning config
    chosen: dict[str, Scalar]
    trials: Count


def _weighting(value: Any) -> Any:
    if value is not None and not isinstance(value, str | dict):
        raise ValueError(f"expected a name, an object or null, not a JSON {_json_type(value)}")
    return value


class RegimeConfig(Schema):
    weighting: Annotated[Any, AfterValidator(_weighting)] = None


class TrainerConfig(Schema):
    max_steps: Count | None = None


class RunConfig(Schema):
    data: dict[str, Any] = {}
    model: dict[str, Any] = {}
    regime: RegimeConfig = RegimeConfig()
    trainer: TrainerConfig = TrainerConfig()


class TargetSample(Schema):
    draw: int
    seed: int
    of: Count


class Descriptors(Schema):
    primary_metric: dict[str, Metric] = {}
    train_sizes: list[Count] = []
    target_train_size: Count | None = None
    target_sample: TargetSample | None = None
    warnings: list[str] = []
    bayes_risk: dict[str, Number] | None = None  # per task, where the family states it (bench/report/excess.py)
    bayes_risk_se: dict[str, Number] | None = None


class Timings(Schema):
    train_s: Number | None = None
    step_ms: Number | None = None
    total_s: Number | None = None
    population_size: Count | None = None


class RunRecord(Schema):
    """One run: who it is, how it ended, and (``ok``) its per-task metrics on validation and test."""

    run_id: Name
    regime: Name
    status: Literal["ok", "failed"]
    seed: int
    study: str | None = None
    strategy: str | None = None
    weighting: str | None = None
    error: str | None = None
    stage: str | None = None  # "tuning": a tuning trial, stored without its test split
    knobs: dict[KnobName, Scalar] = {}
    variant: dict[str, Any] = {}
    tuning: TuningUse | None = None
    fit: Fit = Fit()
    config: RunConfig = RunConfig()
    descriptors: Descriptors = Descriptors()
    timings: Timings = Timings()
    versions: dict[str, str] = {}
    tasks: list[TaskResult] | None = None

    @model_validator(mode="after")
    def _finished_runs_have_results(self) -> RunRecord:
        if self.status != "ok":
            return self
        if not self.tasks:
            raise ValueError("an ok record without tasks (expected a non-empty list)")
        names = [task.task for task in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks: a task name appears twice in {names}")
        if sum(task.role == "target" for task in self.tasks) > 1:
            raise ValueError("tasks: more than one task has role 'target'")
        for index, task in enumerate(self.tasks):
            primary = self.descriptors.primary_metric.get(task.task) or PRIMARY_METRIC[task.kind]
            splits = {"val": task.val} if self.stage == "tuning" else {"val": task.val, "test": task.test}
            for split, metrics in splits.items():
                if metrics is None:
                    raise ValueError(f"tasks[{index}].{split} is missing, expected metric values")
                if primary not in metrics or "loss" not in metrics:
                    raise ValueError(f"tasks[{index}].{split} has no {primary!r} or no 'loss' (its primary "
                                     "metric and the loss selection reads)")
        diagnostics = [self.fit.diagnostics, *(source.diagnostics for source in self.fit.sources.values())]
        target = next((t for t in self.tasks if t.role == "target"), self.tasks[0])
        primary = self.descriptors.primary_metric.get(target.task) or PRIMARY_METRIC[target.kind]
        for found in filter(None, diagnostics):
            if any(primary not in probe for probe in (found.probe.pretrained, found.probe.random, found.probe.raw)):
                raise ValueError(f"fit diagnostics: a probe has no {primary!r}, the target's primary metric")
        return self


# --- tuning choices ------------------------------------------------------------------------------------------

class TuningSpec(Schema):
    space: dict[str, Any]  # the common grid, every tuned arm trains all of it
    own: dict[str, Any]    # the arm's own knob, searched at the best common setting
    seeds: list[int]       # this tuning-seed set's seeds
    objective: str


class Trial(Schema):
    number: Count
    setting: dict[str, Scalar]
    value: Number  # NaN when a run of the setting failed
    per_seed: dict[str, Number]
    tasks: dict[str, Number] = {}  # each task's mean score (STL's copies choose per task on it)
    target: Name | None = None
    step: str | None = None        # common grid, or own knob
    errors: list[str]


class TuningChoice(Schema):
    """An arm's chosen hyper-parameters for one condition, and every trial they were chosen from."""

    run_id: Name
    status: Literal["ok"]
    stage: Literal["tuning-choice"]
    arm: Name
    condition: dict[str, Any]
    tuning: TuningSpec
    method: str
    set: Count  # the tuning-seed set it was made on: evaluation seed e trains with set e mod (number of sets)
    chosen: dict[str, Scalar]
    per_task: dict[str, dict[str, Scalar]] | None = None  # STL: each task's copy at its own setting
    value: Number
    tied: Count
    on_edge: list[str]
    trials: list[Trial]
    seconds: Number


# --- pretraining-cache entries -------------------------------------------------------------------------------

class CachedFit(Schema):
    """bench.regimes.population.MemberFit's fields, exactly: the cache rebuilds it from them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    steps: Count
    selected_steps: list[Count] | None
    error: str | None
    stage_seconds: Number
    population_size: Count


class PretrainedEntry(Schema):
    """``<key>.pt``: a pretrained population's state and its members' fits."""

    state: dict[str, Tensor]
    fits: list[CachedFit]


class FeatureDiagnostics(Schema):
    probe: dict[str, Number | None]
    effective_rank: Number | None
    dead_units: Number | None


class InputDiagnostics(Schema):
    probe: dict[str, Number | None]


class BaselineDiagnostics(Schema):
    """The random trunk's and the raw inputs' diagnostics, per member."""

    random: list[FeatureDiagnostics]
    raw: list[InputDiagnostics]


# ``<key>.json``: a pretrained trunk's diagnostics per member (``{}`` for a member that failed), or the
# baselines' (bench/regimes/transfer.py ``diagnose``).
TrunkDiagnostics = TypeAdapter(list[Annotated[FeatureDiagnostics | None, BeforeValidator(_empty_is_none)]],
                               config=ConfigDict(strict=True))


# --- one line per failure ------------------------------------------------------------------------------------

_EXPECTED = {"dict_type": "expected an object", "model_type": "expected an object", "list_type": "expected a list",
             "string_type": "expected a string", "int_type": "expected an integer", "float_type": "expected a number",
             "bool_type": "expected true or false", "too_short": "expected a non-empty value",
             "greater_than_equal": "expected a number >= 0", "extra_forbidden": "not a key of this kind of file"}


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "true/false", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__)


def _path(location: tuple) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path += f".{part}" if path else str(part)
    return path


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: ValidationError) -> str:
    """The first failure, one line: ``<field>=<value> is invalid: <what was expected>``, or ``<field> is missing``."""
    first = error.errors(include_url=False)[0]
    where = _path(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{where} is missing"
    if not where:
        return message
    return f"{where}={_shown(first.get('input'))} is invalid: {_EXPECTED.get(first['type'], message)}"


def _version_problem(content: Any, kind: str) -> str | None:
    if not isinstance(content, dict):
        return f"not a {kind} (a JSON {_json_type(content)}, expected an object)"
    version = content.get("schema")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"not a {kind} (schema={version!r}, expected a version number)"
    if not 1 <= version <= SCHEMA_VERSION:
        return f"schema version {version} is not one this version reads (1 to {SCHEMA_VERSION}); update bench"
    return None


def problem(schema: type[BaseModel] | TypeAdapter, content: Any) -> str | None:
    """Why ``content`` does not fit ``schema`` (one line), or None when it does."""
    try:
        schema.validate_python(content) if isinstance(schema, TypeAdapter) else schema.model_validate(content)
    except ValidationError as error:
        return describe(error)
    return None


def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a run record this code reads (one line), or None when it is."""
    return _version_problem(record, "run record") or problem(RunRecord, record)


def choice_problem(choice: Any) -> str | None:
    """Why ``choice`` is not a tuning choice this code reads (one line), or None when it is."""
    return _version_problem(choice, "tuning choice") or problem(TuningChoice, choice)


def diagnostics_problem(value: Any) -> str | None:
    """Why ``value`` is not a cached diagnostics entry (one line), or None when it is."""
    return problem(TrunkDiagnostics if isinstance(value, list) else BaselineDiagnostics, value)
