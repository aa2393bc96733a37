"""The pooled-vs-separate oracle (issue 9): where a synthetic study's question is open, by theory, not by outcome.

Sharing helps when estimating one model on every task's rows beats estimating a task's own: more rows
against the bias of pooling readouts that differ. On the synthetic family that trade-off has a closed-form
estimator on each side: ridge regression on the task's rows alone (separate) and on the union of every
task's rows (pooled), each with its strength chosen on the task's validation split, scored on its test
split. The tasks are those the study's claim reads: every task (MTL's claims compare Δm% over tasks), or the
target alone (transfer's claims). Neither is a regime of the suite, nor reads any of their results: the
oracle says where, along a study's knob, theory predicts the transition. A study whose swept range holds a
sign change of ``risk(pooled) - risk(separate)`` spans the open question; one that sits on one side only
asks a question whose answer is settled by its defaults. ``python -m bench.data.oracle [STUDY ...]`` prints
it for the synthetic studies; each study's config quotes its numbers, and tests/test_oracle.py keeps them so.
"""

from __future__ import annotations

import inspect
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.synthetic import make_synthetic

STRENGTHS = np.logspace(-4, 4, 17)  # the scikit-learn arms' grid (bench/regimes/classical.py)
SEEDS = 40
STUDIES = ("relatedness", "imbalance", "covariate_shift", "target_size", "noise", "regime_map", "capacity")
TARGET_ONLY = ("target_size", "regime_map")  # studies read on the target task; the others on every task


def _numpy(tensor) -> np.ndarray:
    return tensor.double().numpy()


def ridge_risk(x: np.ndarray, y: np.ndarray, task) -> float:
    """Test MSE on ``task`` of the ridge fit of ``y`` on ``x`` (no intercept: the generator's scores have
    none) whose strength has the lowest validation MSE on ``task``."""
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    val_x, val_y = _numpy(task.val.x), _numpy(task.val.y)
    best = min((vt.T @ ((s / (s**2 + a))[:, None] * uty) for a in STRENGTHS),
               key=lambda beta: float(np.mean((val_x @ beta - val_y) ** 2)))
    return float(np.mean((_numpy(task.test.x) @ best - _numpy(task.test.y)) ** 2))


def pooled_minus_separate(seed: int, every_task: bool = True, **data) -> tuple[float, float]:
    """``(risk pooled - risk separate, risk separate)`` of one draw of the family, on the target or averaged
    over every task."""
    family = make_synthetic(seed, **data)
    if family.target.kind != "regression":
        raise ValueError(f"the oracle compares regression risks, data.kind={family.target.kind!r}")
    x, y = (np.vstack([_numpy(t.train.x) for t in family.tasks]), np.vstack([_numpy(t.train.y) for t in family.tasks]))
    differences, separates = [], []
    for task in family.tasks if every_task else (family.target,):
        separate = ridge_risk(_numpy(task.train.x), _numpy(task.train.y), task)
        differences.append(ridge_risk(x, y, task) - separate)
        separates.append(separate)
    return float(np.mean(differences)), float(np.mean(separates))


@dataclass(frozen=True)
class OraclePoint:
    condition: dict
    difference: float  # mean over seeds of risk(pooled) - risk(separate): negative = pooling helps
    error: float  # its standard error
    separate: float

    @property
    def side(self) -> str:
        if abs(self.difference) <= 2 * self.error:
            return "open"
        return "pooled" if self.difference < 0 else "separate"


def oracle(data: dict, swept: dict[str, list], every_task: bool = True, seeds: int = SEEDS) -> list[OraclePoint]:
    """The oracle at every combination of the swept data knobs, ``data`` holding the study's fixed ones."""
    points = []
    for values in itertools.product(*swept.values()):
        condition = dict(zip(swept, values, strict=True))
        draws = np.array([pooled_minus_separate(seed, every_task, **{**data, **condition}) for seed in range(seeds)])
        points.append(OraclePoint(condition, float(draws[:, 0].mean()),
                                  float(draws[:, 0].std(ddof=1) / np.sqrt(seeds)), float(draws[:, 1].mean())))
    return points


def spans_transition(points: list[OraclePoint]) -> bool:
    """Whether the swept range holds both sides, or the question is open somewhere inside it."""
    sides = {p.side for p in points}
    return "open" in sides or sides >= {"pooled", "separate"}


def study_design(study: str) -> tuple[dict, dict[str, list]]:
    """A study's fixed synthetic data settings and its swept data knobs, composed as ``bench.run`` would; keys
    that are not the generator's (a validation protocol) are left out: the oracle selects on the whole split."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import bench.config_schema  # noqa: F401 - registers the schemas the config's defaults name

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("config", overrides=[f"+study={study}"], return_hydra_config=True)
    generator = set(inspect.signature(make_synthetic).parameters)
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k in generator}
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    swept = {key.removeprefix("data."): [_number(v) for v in str(value).split(",")]
             for key, value in params.items() if key.startswith("data.")}
    if not str(cfg.data._target_).endswith("make_synthetic"):
        raise ValueError(f"study {study!r} is not on the synthetic family")
    return {k: v for k, v in data.items() if k not in swept}, swept


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def main(argv: list[str]) -> int:
    for study in argv or STUDIES:
        data, swept = study_design(study)
        points = oracle(data, swept, every_task=study not in TARGET_ONLY)
        tasks = "target" if study in TARGET_ONLY else "every task"
        print(f"## {study} ({tasks}): {'spans the transition' if spans_transition(points) else 'ONE SIDE ONLY'}")
        for p in points:
            where = " ".join(f"{k}={v}" for k, v in p.condition.items())
            print(f"  {where}: risk pooled - separate = {p.difference:+.4f} ± {p.error:.4f} "
                  f"(separate {p.separate:.4f}): {p.side}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
