"""The advisor's two heads (MTL beats STL; TL beats STL): L2-regularised logistic regressions on the
standardised descriptors, each calibrated inside its training folds, and the file that ships them.

One head per question, because the literature finds multi-task and transfer affinities unrelated or even
opposed (Azorin et al. 2023; Fifty et al. 2021), so one score for both would be wrong. A head's strength is
chosen by leave-one-family-out cross-validation on the families it is trained on (Brier score), and its
probabilities are recalibrated by Platt scaling (Platt 1999) fitted on those same out-of-family predictions,
never on the rows it scores: the calibration a new family gets is the one measured on unseen families.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from bench.advise import AdviceError

STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse L2 strengths C: a few dozen examples need strong ones
FORMAT = "mtl-transfer-bench advisor 2"


@dataclass(frozen=True)
class Head:
    """``p = sigmoid(slope * coef . z + offset)``, ``z`` the descriptors imputed by ``medians`` and standardised
    by ``means`` and ``scales``; ``slope`` and ``offset`` are the calibration (``coef . z``: the score)."""

    medians: list[float]
    means: list[float]
    scales: list[float]
    coef: list[float]
    slope: float = 1.0
    offset: float = 0.0
    strength: float | None = None  # C, None for a constant head (one class in training)
    examples: int = 0
    positives: int = 0

    def standardised(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        x = np.where(np.isnan(x), np.asarray(self.medians), x)
        return (x - np.asarray(self.means)) / np.asarray(self.scales)

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.standardised(x) @ np.asarray(self.coef)

    def probability(self, x: np.ndarray) -> np.ndarray:
        return expit(self.slope * self.score(x) + self.offset)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each descriptor's push on the calibrated log-odds (positive: towards yes), for one family ``x``."""
        return self.slope * self.standardised(x)[0] * np.asarray(self.coef)


def _log_odds(positives: int, examples: int) -> float:
    rate = (positives + 1) / (examples + 2)  # Laplace: one class alone is no certainty
    return float(np.log(rate / (1 - rate)))


def _logistic(x: np.ndarray, y: np.ndarray, strength: float) -> Head:
    """A head on rows ``x`` (descriptors, NaN allowed) and labels ``y``, calibrated on its own rows; constant
    (the smoothed rate) on one class."""
    present = ~np.isnan(x)
    medians = np.array([np.median(x[present[:, j], j]) if present[:, j].any() else 0.0 for j in range(x.shape[1])])
    filled = np.where(np.isnan(x), medians, x)
    means, scales = filled.mean(axis=0), filled.std(axis=0)
    scales = np.where(scales > 1e-12, scales, 1.0)
    positives = int(y.sum())
    if positives in (0, len(y)):
        return Head(medians.tolist(), means.tolist(), scales.tolist(), [0.0] * x.shape[1], 0.0,
                    _log_odds(positives, len(y)), examples=len(y), positives=positives)
    model = LogisticRegression(C=strength, solver="newton-cholesky", max_iter=100).fit((filled - means) / scales, y)
    return Head(medians.tolist(), means.tolist(), scales.tolist(), model.coef_[0].tolist(), 1.0,
                float(model.intercept_[0]), strength=strength, examples=len(y), positives=positives)


def _out_of_family(x: np.ndarray, y: np.ndarray, groups: np.ndarray, strength: float) -> np.ndarray:
    """Each row's score (without intercept) from a head trained without its family."""
    scores = np.empty(len(y))
    for family in np.unique(groups):
        held = groups == family
        scores[held] = _logistic(x[~held], y[~held], strength).score(x[held])
    return scores


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and offset of ``P(y) = sigmoid(slope * score + offset)`` on out-of-family scores. A slope at or
    below zero (the scores do not rank unseen families) gives the base rate alone, never a reversed model."""
    platt = LogisticRegression(C=1e4, solver="newton-cholesky", max_iter=100).fit(scores[:, None], y)
    if platt.coef_[0, 0] <= 0:
        return 0.0, _log_odds(int(y.sum()), len(y))
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


def fit_head(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Head:
    """The head on every row, its strength and calibration chosen out of family (needs 3 families; with fewer,
    the middle strength, calibrated on its own rows).

    Calibration reads each row's score *without* an intercept: the intercept of a head trained without a
    family carries the other families' base rate, which leave-one-out makes anti-correlated with the held-out
    family's own; on 12 families it drove the Platt slope negative. The offset comes from every row instead.
    """
    y = np.asarray(y, dtype=int)
    if len(np.unique(groups)) < 3 or y.min() == y.max():
        return _logistic(x, y, STRENGTHS[len(STRENGTHS) // 2])
    calibrated = {}
    for strength in STRENGTHS:
        scores = _out_of_family(x, y, groups, strength)
        slope, offset = _platt(scores, y)
        calibrated[strength] = (float(np.mean((expit(slope * scores + offset) - y) ** 2)), slope, offset)
    strength = min(STRENGTHS, key=lambda c: calibrated[c][0])
    _, slope, offset = calibrated[strength]
    return Head(**{**asdict(_logistic(x, y, strength)), "slope": slope, "offset": offset})


@dataclass(frozen=True)
class Advisor:
    """Both heads, the descriptor names they read (in order), and the corpus they were trained on."""

    descriptors: list[str]
    heads: dict[str, Head]
    corpus_sha256: str
    margin: float

    def save(self, path: Path) -> None:
        body = {"format": FORMAT, "descriptors": self.descriptors, "corpus_sha256": self.corpus_sha256,
                "margin": self.margin, "heads": {name: asdict(head) for name, head in self.heads.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**body, "checksum": _checksum(body)}, indent=1) + "\n")


def _checksum(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load_advisor(path: Path, descriptors: list[str]) -> Advisor:
    """The advisor stored at ``path``, refused with one line when it is not exactly what ``save`` wrote for
    these ``descriptors`` (edited, truncated, or trained on other descriptors)."""
    def refuse(why: str) -> AdviceError:
        return AdviceError(f"advisor file {path} is unusable ({why}); rebuild it with `make advisor`")

    try:
        stored = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise refuse("it does not exist") from None
    except (OSError, ValueError) as error:
        raise refuse(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise refuse(f"not an advisor file of format {FORMAT!r}")
    body = {key: value for key, value in stored.items() if key != "checksum"}
    if stored.get("checksum") != _checksum(body):
        raise refuse("its checksum does not match its content: corrupted or edited")
    if body.get("descriptors") != descriptors:
        raise refuse("it was trained on other descriptors than this code measures")
    try:
        heads = {name: Head(**fields) for name, fields in body["heads"].items()}
    except (TypeError, AttributeError, KeyError) as error:
        raise refuse(f"a head is malformed: {error}") from None
    for name, head in heads.items():
        sizes = {len(head.medians), len(head.means), len(head.scales), len(head.coef)}
        if sizes != {len(descriptors)}:
            raise refuse(f"head {name!r} holds {sorted(sizes)} values for {len(descriptors)} descriptors")
    if set(heads) != {"mtl", "tl"}:
        raise refuse(f"heads {sorted(heads)}, expected ['mtl', 'tl']")
    return Advisor(descriptors, heads, str(body["corpus_sha256"]), float(body["margin"]))


REGIMES = ("stl", "mtl", "tl")


def recommend(probabilities: dict[str, float]) -> str:
    """The regime to use: of the heads whose probability of beating STL is at least one half (NaN: the regime
    is not available), the likelier; STL, the cheapest, when none is."""
    likely = {head: p for head, p in probabilities.items() if not np.isnan(p) and p >= 0.5}
    return max(likely, key=likely.get) if likely else "stl"
