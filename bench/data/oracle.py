"""The oracle: where a synthetic study's question is open, by theory and cheap estimators, never by an arm.

Multi-task learning with task heads pools the rows of every task to learn a shared representation and reads it
out per task. On the teacher (bench/data/teacher.py) that trade-off has a closed-form estimator on each side:
the latent directions of a task are the eigenvectors of its second-order Stein moment ``E[(y − ȳ) g gᵀ]`` on
whitened inputs ``g`` (principal Hessian directions, Li 1992), so

- **separate** estimates a task's ``k`` directions from its own rows,
- **pooled** from every task's rows (the sum over tasks of the squared moments, weighted by rows, so that
  readouts of opposite signs do not cancel), the representation MTL's shared trunk would learn,

and each then fits a ridge head per task on ``|vᵀx|`` and ``|vᵀ(x − x̄)|`` of its directions: bent at the origin,
and at the mean of the rows it learnt from (a concept shift moves a task's kink with its inputs; a shared
representation bends where the pooled rows lie, as a shared trunk's units do for every task alike). Two more
learners frame them: **raw**, ridge on the inputs (the classical anchor: far from the Bayes risk on the
teacher, whose features have no linear part), and **features**, ridge on the teacher's own features of the
task (a learner given them: it reaches the Bayes risk with ample data). Every strength is chosen on the task's
validation split; every risk is the MSE on a held-out draw of validation size (the family's own test split
drawn with ``n_test = n_val``), on seeds from ``FIRST_SEED`` on, disjoint from every evaluation and tuning seed.

A study whose swept range holds a sign change of ``risk(pooled) − risk(separate)`` spans the open question; one
that sits on one side only asks a question its defaults settle. ``python -m bench.data.oracle [STUDY ...]``
prints, per condition, the lines each study's config quotes (``# oracle ...``); tests/test_oracle.py
recomputes them.
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.synthetic import check_knobs, make_synthetic, synthetic_teacher

STRENGTHS = np.logspace(-4, 4, 17)  # the scikit-learn arms' grid (bench/regimes/classical.py)
FIRST_SEED = 10_000  # the oracle's draws: never an evaluation seed (0-19) or a tuning seed (1000s)
SEEDS = 40
STUDIES = ("relatedness", "imbalance", "covariate_shift", "target_size", "noise", "regime_map", "shift", "capacity")
TARGET_ONLY = ("target_size", "regime_map", "shift")  # studies read on the target task; the others on every task
LEARNERS = ("raw", "features", "separate", "pooled")


def _numpy(tensor) -> np.ndarray:
    return tensor.double().numpy()


def ridge_risk(train: np.ndarray, y: np.ndarray, val: tuple[np.ndarray, np.ndarray],
               held_out: tuple[np.ndarray, np.ndarray]) -> float:
    """Held-out MSE of the ridge fit (with intercept) of ``y`` (one column) on ``train`` whose strength has the
    lowest validation MSE (every strength at once, from one SVD)."""
    centre, offset = train.mean(axis=0), y.mean(axis=0)
    u, s, vt = np.linalg.svd(train - centre, full_matrices=False)
    betas = vt.T @ (s / (s**2 + STRENGTHS[:, None]) * (u.T @ (y - offset))[:, 0]).T  # features x strengths
    validation = np.mean(((val[0] - centre) @ betas + offset - val[1]) ** 2, axis=0)
    best = betas[:, np.argmin(validation)]
    return float(np.mean(((held_out[0] - centre) @ best + offset - held_out[1][:, 0]) ** 2))


def stein_moment(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``S⁻¹ E[(y − ȳ) g gᵀ] S⁻¹`` with ``g`` the inputs whitened by their own means and scales ``S``: a
    matrix in input coordinates whose leading eigenvectors span the task's latent directions (Stein's
    identity: it is the expected Hessian of the function for Gaussian inputs)."""
    scale = x.std(axis=0) + 1e-12
    g = (x - x.mean(axis=0)) / scale
    moment = g.T @ ((y[:, :1] - y[:, :1].mean()) * g) / len(x)
    return moment / scale[:, None] / scale[None, :]


def directions(moments: list[np.ndarray], rows: list[int], k: int) -> np.ndarray:
    """The ``k`` leading eigenvectors of the row-weighted sum of squared moments (d x k)."""
    total = sum(n * m @ m for n, m in zip(rows, moments, strict=True)) / sum(rows)
    values, vectors = np.linalg.eigh(total)
    return vectors[:, np.argsort(values)[::-1][:k]]


def kinks(x: np.ndarray, basis: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return np.hstack([np.abs(x @ basis), np.abs((x - centre) @ basis)])


@dataclass(frozen=True)
class Draw:
    """One draw's held-out MSE per learner (mean over the tasks read) and its Bayes risk."""

    risks: dict[str, float]
    bayes: float


def learner_risks(seed: int, every_task: bool = True, **data) -> Draw:
    """The four learners' risks on one draw of the family ``data`` describes, on the target or averaged over
    every task."""
    knobs = check_knobs(**{**data, "n_test": data.get("n_val", 128)})
    if knobs["kind"] != "regression" or knobs["family"] != "teacher":
        raise ValueError(f"the oracle compares regression risks on the teacher, data.kind={knobs['kind']!r} "
                         f"data.family={knobs['family']!r}")
    family, teacher = make_synthetic(seed, **knobs), synthetic_teacher(seed, knobs)
    k = teacher.projections[0].shape[1]
    xs = [_numpy(t.train.x) for t in family.tasks]
    ys = [_numpy(t.train.y) for t in family.tasks]
    moments = [stein_moment(x, y) for x, y in zip(xs, ys, strict=True)]
    pooled = directions(moments, [len(x) for x in xs], k)
    pooled_centre = np.vstack(xs).mean(axis=0)
    read = range(len(family.tasks)) if every_task else [family.tasks.index(family.target)]
    risks: dict[str, list[float]] = {name: [] for name in LEARNERS}
    for t in read:
        task = family.tasks[t]
        splits = [(xs[t], ys[t]), (_numpy(task.val.x), _numpy(task.val.y)), (_numpy(task.test.x), _numpy(task.test.y))]
        own, centre = directions([moments[t]], [1], k), xs[t].mean(axis=0)
        maps = {"raw": [x for x, _ in splits], "features": [teacher.features(t, x) for x, _ in splits],
                "separate": [kinks(x, own, centre) for x, _ in splits],
                "pooled": [kinks(x, pooled, pooled_centre) for x, _ in splits]}
        for name, (train, val, held) in maps.items():
            risks[name].append(ridge_risk(train, ys[t], (val, splits[1][1]), (held, splits[2][1])))
    bayes = float(np.mean([family.descriptors["bayes_risk"][family.tasks[t].name] for t in read]))
    return Draw({name: float(np.mean(values)) for name, values in risks.items()}, bayes)


@dataclass(frozen=True)
class OraclePoint:
    condition: dict
    risks: dict[str, float]  # mean over seeds of each learner's held-out MSE
    difference: float  # mean over seeds of risk(pooled) - risk(separate): negative = pooling helps
    error: float  # its standard error
    bayes: float

    @property
    def side(self) -> str:
        if abs(self.difference) <= 2 * self.error:
            return "open"
        return "pooled" if self.difference < 0 else "separate"

    def line(self) -> str:
        """The line a study config quotes (``QUOTED`` reads it back)."""
        where = " ".join(f"{k}={v}" for k, v in self.condition.items())
        learners = " ".join(f"{name} {self.risks[name]:.3f}" for name in LEARNERS)
        return (f"# oracle {where}: pooled - separate {self.difference:+.3f} ± {self.error:.3f} "
                f"({self.side}); MSE {learners}; Bayes {self.bayes:.3f}")


QUOTED = re.compile(r"^# oracle (?P<where>[^:]+): pooled - separate (?P<difference>[-+]\d+\.\d+) ± "
                    r"(?P<error>\d+\.\d+) \((?P<side>\w+)\); MSE (?P<learners>[^;]+); Bayes (?P<bayes>\d+\.\d+)$")


def oracle(data: dict, swept: dict[str, list], every_task: bool = True, seeds: int = SEEDS) -> list[OraclePoint]:
    """The oracle at every combination of the swept data knobs, ``data`` holding the study's fixed ones."""
    points = []
    for values in itertools.product(*swept.values()):
        condition = dict(zip(swept, values, strict=True))
        draws = [learner_risks(seed, every_task, **{**data, **condition})
                 for seed in range(FIRST_SEED, FIRST_SEED + seeds)]
        differences = np.array([d.risks["pooled"] - d.risks["separate"] for d in draws])
        points.append(OraclePoint(
            condition, {name: float(np.mean([d.risks[name] for d in draws])) for name in LEARNERS},
            float(differences.mean()), float(differences.std(ddof=1) / np.sqrt(seeds)),
            float(np.mean([d.bayes for d in draws]))))
    return points


def spans_transition(points: list[OraclePoint]) -> bool:
    """Whether the swept range holds both sides, or the question is open somewhere inside it."""
    sides = {p.side for p in points}
    return "open" in sides or sides >= {"pooled", "separate"}


def _compose(study: str):
    from hydra import compose, initialize_config_dir

    import bench.config_schema  # noqa: F401 - registers the schemas the config's defaults name

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"+study={study}"], return_hydra_config=True)


CONF = Path(__file__).resolve().parents[2] / "conf"


def study_design(study: str) -> tuple[dict, dict[str, list]]:
    """A study's fixed synthetic data settings and its swept data knobs, composed as ``bench.run`` would; keys
    that are not the generator's (a validation protocol, the rotated target) are left out: the oracle selects
    on the whole split and reads the anchor, or every task."""
    from omegaconf import OmegaConf

    cfg = _compose(study)
    if not str(cfg.data._target_).endswith("make_synthetic"):
        raise ValueError(f"study {study!r} is not on the synthetic family")
    generator = set(check_knobs()) - {"target", "target_draw", "n_test"}
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k in generator}
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    swept = {key.removeprefix("data."): [_number(v) for v in str(value).split(",")]
             for key, value in params.items() if key.startswith("data.") and key.removeprefix("data.") in generator}
    return {k: v for k, v in data.items() if k not in swept}, swept


def quoted_lines(study: str) -> list[str]:
    """The oracle lines a study's config quotes."""
    text = (CONF / "study" / f"{study}.yaml").read_text()
    return [line.strip() for line in text.splitlines() if line.startswith("# oracle ")]


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def main(argv: list[str]) -> int:
    for study in argv or STUDIES:
        data, swept = study_design(study)
        if data.get("family") != "teacher":
            print(f"## {study}: on the linear family (closed forms), no oracle")
            continue
        points = oracle(data, swept, every_task=study not in TARGET_ONLY)
        tasks = "target" if study in TARGET_ONLY else "every task"
        print(f"## {study} ({tasks}, seeds {FIRST_SEED}-{FIRST_SEED + SEEDS - 1}): "
              f"{'spans the transition' if spans_transition(points) else 'ONE SIDE ONLY'}")
        for point in points:
            print(point.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
