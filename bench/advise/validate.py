"""``python -m bench.advise.validate``: the advisor tested on families it never saw -> ``reports/advisor/``.

Nested leave-one-family-out: for each family, both heads are trained on every other family (their strength and
calibration chosen by an inner leave-one-family-out inside those, bench/advise/model.py) and predict the
held-out family's conditions. Beside them, trained the same way: the majority answer and the single best
descriptor (its descriptor and threshold chosen in the inner folds); measured: the pilot (each regime at a
tenth of its budget, its answer its seeds' majority). Per held-out family and overall: accuracy, AUC, Brier
score, and regret (the Δm% points lost against the regime that was best at that condition); the advisor's
Brier and regret minus each baseline's with a 95% bootstrap CI over held-out families; the noise ceiling (how
often one seed's answer agrees with its condition's); a calibration plot and the confusion matrices. The same
again leaving one *source* out (every synthetic study at once, ...), a harder test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench.advise.baselines import fit_stump, majority
from bench.advise.corpus import CORPUS, corpus_hash
from bench.advise.descriptors import DESCRIPTORS
from bench.advise.model import REGIMES, fit_head, recommend
from bench.advise.outcomes import HEADS
from bench.advise.page import write_page
from bench.report.stats import bootstrap_ci

METHODS = ("advisor", "majority", "best descriptor", "pilot")


def held_out_predictions(corpus: pd.DataFrame, head: str, group: str) -> pd.DataFrame:
    """Every labelled example of ``head`` with each method's probability, trained without the example's ``group``;
    ``descriptor`` names the best single descriptor that fold chose."""
    rows = corpus[corpus[f"{head}_beats"].notna()]
    x, y, groups = rows[list(DESCRIPTORS)].to_numpy(float), rows[f"{head}_beats"].to_numpy(int), rows[group].to_numpy()
    out = pd.DataFrame({"index": rows.index, "held_out": groups, "label": y}).set_index("index")
    for family in np.unique(groups):
        held, train = groups == family, groups != family
        advisor = fit_head(x[train], y[train], groups[train])
        stump = fit_stump(x[train], y[train], groups[train])
        index = rows.index[held]
        out.loc[index, "advisor"] = advisor.probability(x[held])
        out.loc[index, "majority"] = majority(y[train])
        out.loc[index, "best descriptor"] = stump.probability(x[held])
        out.loc[index, "descriptor"] = list(DESCRIPTORS)[stump.descriptor]
    out["pilot"] = rows[f"pilot_{head}_seed_share"]
    return out


def oracle_regime(corpus: pd.DataFrame) -> pd.Series:
    """The regime that was best at each condition: of MTL and TL, those that beat STL (the outcome), the larger
    gain; STL when neither does."""
    def best(row) -> str:
        beating = {head: row[f"{head}_gain"] for head in HEADS if row[f"{head}_beats"] == 1}
        return max(beating, key=beating.get) if beating else "stl"
    return corpus.apply(best, axis=1)


def regrets(corpus: pd.DataFrame, predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per example and method: the regime it recommends and its regret, the Δm% points that regime's mean trails
    the best mean there (STL counts 0; a regime the study did not run is no choice)."""
    gains = pd.DataFrame({"stl": 0.0, "mtl": corpus["mtl_gain"], "tl": corpus["tl_gain"]})
    best = gains.max(axis=1).to_numpy()
    frame = pd.DataFrame({"family": corpus["family"], "source": corpus["source"], "condition": corpus["condition"],
                          "oracle": oracle_regime(corpus)}, index=corpus.index)
    for method in METHODS:
        chosen = [recommend({head: float(predictions[head][method].get(i, np.nan)) for head in HEADS})
                  for i in corpus.index]
        frame[f"{method} regime"] = chosen
        frame[f"{method} regret"] = best - gains.to_numpy()[np.arange(len(gains)), [REGIMES.index(c) for c in chosen]]
    return frame


def _auc(p: pd.Series, y: pd.Series) -> float:
    return float(roc_auc_score(y, p)) if y.nunique() == 2 else float("nan")


def head_scores(predictions: pd.DataFrame, head: str) -> pd.DataFrame:
    """Accuracy, AUC and Brier score of each method on one head, per held-out group and overall."""
    rows = []
    for name, part in [*predictions.groupby("held_out", sort=True), ("overall", predictions)]:
        for method in METHODS:
            valid = part[part[method].notna()]
            rows.append({"head": head, "held_out": name, "method": method, "examples": len(valid),
                         "positives": int(valid["label"].sum()),
                         "accuracy": float(((valid[method] >= 0.5) == valid["label"]).mean()) if len(valid) else np.nan,
                         "auc": _auc(valid[method], valid["label"]) if len(valid) else np.nan,
                         "brier": float(((valid[method] - valid["label"]) ** 2).mean()) if len(valid) else np.nan})
    return pd.DataFrame(rows)


def regret_scores(regret: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean regret and how often the recommended regime is the oracle's, per method, held-out group and overall."""
    rows = []
    for name, part in [*regret.groupby(by, sort=True), ("overall", regret)]:
        for method in METHODS:
            rows.append({"held_out": name, "method": method, "examples": len(part),
                         "regret": float(part[f"{method} regret"].mean()),
                         "regime_accuracy": float((part[f"{method} regime"] == part["oracle"]).mean())})
    return pd.DataFrame(rows)


def paired(predictions: dict[str, pd.DataFrame], regret: pd.DataFrame, by: str) -> pd.DataFrame:
    """The advisor minus each baseline, per held-out group then averaged, with a 95% bootstrap CI over groups:
    Brier score of each head and regret (negative: the advisor is better)."""
    rows = []
    for baseline in METHODS[1:]:
        measures = {}
        for head, frame in predictions.items():
            squared = (frame["advisor"] - frame["label"]) ** 2 - (frame[baseline] - frame["label"]) ** 2
            measures[f"Brier ({head})"] = squared.groupby(frame["held_out"]).mean()
        measures["regret"] = (regret["advisor regret"] - regret[f"{baseline} regret"]).groupby(regret[by]).mean()
        for measure, per_group in measures.items():
            per_group = per_group.dropna()
            low, high = bootstrap_ci(per_group.to_numpy())
            rows.append({"baseline": baseline, "measure": measure, "groups": len(per_group),
                         "advisor_minus_baseline": float(per_group.mean()), "ci_low": low, "ci_high": high,
                         "advisor": "better" if high < 0 else "worse" if low > 0 else "not resolved"})
    return pd.DataFrame(rows)


def noise_ceiling(corpus: pd.DataFrame) -> dict[str, float]:
    """Per head, how often a single seed's answer (beyond the margin or not) is its condition's answer."""
    ceiling = {}
    for head in HEADS:
        labelled = corpus[corpus[f"{head}_beats"].notna()]
        share = labelled[f"{head}_seed_share"]
        ceiling[head] = float(np.where(labelled[f"{head}_beats"] == 1, share, 1 - share).mean())
    return ceiling


def validate(corpus: pd.DataFrame, by: str) -> dict:
    """Every table of one leave-one-``by``-out validation."""
    predictions = {head: held_out_predictions(corpus, head, by) for head in HEADS}
    regret = regrets(corpus, predictions)
    return {"predictions": predictions, "regret": regret,
            "heads": pd.concat([head_scores(predictions[head], head) for head in HEADS], ignore_index=True),
            "regret_scores": regret_scores(regret, by), "paired": paired(predictions, regret, by)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.advise.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the corpus (CSV) built by bench.advise.corpus")
    parser.add_argument("--out", type=Path, default=Path("reports") / "advisor", help="where to write the page")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"error: no corpus at {args.corpus}; build it with `make advisor`", file=sys.stderr)
        return 1
    corpus = pd.read_csv(args.corpus)
    page = write_page(args.out, corpus, corpus_hash(args.corpus), validate(corpus, "family"),
                      validate(corpus, "source"), noise_ceiling(corpus))
    print(f"[advisor] validation written: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
