"""``reports/advisor/``: the validation's page (README.md), its figure and its numbers (validation.json).

Computing is bench/advise/validate.py's; this module only lays out what it computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.advise.model import REGIMES  # noqa: E402
from bench.advise.outcomes import HEADS, MARGIN  # noqa: E402

QUESTIONS = {"mtl": "MTL beats STL", "tl": "TL beats STL"}


def _table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".3f") + "\n"


def plot_calibration(predictions: dict[str, pd.DataFrame], path: Path, bins: int = 5) -> Path:
    """Reliability diagram of the advisor's held-out probabilities, one panel per head (marker area: examples)."""
    fig, axes = plt.subplots(1, len(predictions), figsize=(4.2 * len(predictions), 4), squeeze=False)
    for ax, (head, frame) in zip(axes[0], predictions.items(), strict=True):
        edges = np.linspace(0, 1, bins + 1)
        which = np.clip(np.digitize(frame["advisor"], edges) - 1, 0, bins - 1)
        cells = frame.groupby(which).agg(p=("advisor", "mean"), observed=("label", "mean"), n=("label", "size"))
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
        ax.scatter(cells["p"], cells["observed"], s=20 + 8 * cells["n"], color="#1f77b4", zorder=3)
        ax.plot(cells["p"], cells["observed"], color="#1f77b4")
        ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="predicted probability (held-out family)",
               ylabel="observed frequency", title=QUESTIONS[head])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _verdicts(paired: pd.DataFrame) -> list[str]:
    lines = []
    for row in paired.itertuples():
        interval = f"{row.advisor_minus_baseline:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}] over {row.groups} groups"
        if row.advisor == "better":
            lines.append(f"- The advisor **beats** {row.baseline} on {row.measure}: {interval}.")
        elif row.advisor == "worse":
            lines.append(f"- The advisor is **worse** than {row.baseline} on {row.measure}: {interval}.")
        else:
            lines.append(f"- The advisor does **not** beat {row.baseline} on {row.measure} (no resolved difference): "
                         f"{interval}.")
    return lines


def _confusion(regret: pd.DataFrame, method: str) -> pd.DataFrame:
    table = pd.crosstab(regret["oracle"], regret[f"{method} regime"]).reindex(index=REGIMES, columns=REGIMES,
                                                                                fill_value=0)
    return table.rename_axis(index=f"best regime \\ {method}").reset_index()


def _head_confusion(frame: pd.DataFrame) -> pd.DataFrame:
    said = np.where(frame["advisor"] >= 0.5, "yes", "no")
    truth = np.where(frame["label"] == 1, "yes", "no")
    return pd.crosstab(pd.Series(truth, name="outcome \\ advisor"), pd.Series(said, name="advisor")).reindex(
        index=["yes", "no"], columns=["yes", "no"], fill_value=0).reset_index()


def _wrong(regret: pd.DataFrame, predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    wrong = regret[regret["advisor regime"] != regret["oracle"]].copy()
    for head in HEADS:
        wrong[f"P({head})"] = predictions[head]["advisor"].reindex(wrong.index)
    columns = ["family", "condition", "oracle", "advisor regime", *(f"P({h})" for h in HEADS), "advisor regret"]
    return wrong.sort_values("advisor regret", ascending=False)[columns]


def _costs(corpus: pd.DataFrame) -> pd.DataFrame:
    seconds = {"advisor (descriptors)": corpus["descriptor_seconds"], "pilot (a tenth of the budget, 3 seeds)":
               corpus["pilot_seconds"], "the study's arms (STL, MTL, TL; tuning not counted)": corpus["study_seconds"]}
    return pd.DataFrame([{"what": what, "median seconds per condition": float(values.median()),
                          "total seconds": float(values.sum())} for what, values in seconds.items()])


def write_page(folder: Path, corpus: pd.DataFrame, corpus_sha: str, by_family: dict, by_source: dict,
               ceiling: dict[str, float]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    figure = plot_calibration(by_family["predictions"], folder / "calibration.png")
    labelled = {head: corpus[f"{head}_beats"].dropna() for head in HEADS}
    overall = by_family["heads"][by_family["heads"]["held_out"] == "overall"].drop(columns="held_out")
    regret_overall = by_family["regret_scores"][by_family["regret_scores"]["held_out"] == "overall"]
    costs = _costs(corpus)
    ratio = corpus["descriptor_seconds"].median() / corpus["pilot_seconds"].median()
    chosen = pd.concat([by_family["predictions"][h]["descriptor"] for h in HEADS]).value_counts()
    lines = [
        "# The advisor, validated on families it never saw", "",
        f"Corpus: {len(corpus)} examples (conditions) from {corpus['family'].nunique()} families and "
        f"{corpus['source'].nunique()} sources (`bench/advise/data/corpus.csv`, sha256 `{corpus_sha[:12]}`). "
        + " ".join(f"{QUESTIONS[h]}: {len(labelled[h])} labelled, {int(labelled[h].sum())} yes." for h in HEADS),
        f"An arm beats STL when its paired Δm% difference has a 95% CI above 0 and a mean above {MARGIN:g} point.",
        "",
        "Nested leave-one-family-out: each family's conditions are predicted by heads trained on the other "
        "families only (their L2 strength and Platt calibration chosen by an inner leave-one-family-out). The "
        "baselines: the **majority** answer of the training families; the **best descriptor** (one descriptor "
        "and threshold, chosen in the inner folds); the **pilot** (STL, MTL and TL at a tenth of their step "
        "budget, 3 seeds, untuned; its probability is the share of its seeds beyond the margin). **Regret**: the "
        "Δm% points the recommended regime's mean trails the best regime's there (STL counts 0).", "",
        "## Overall", "",
        "AUC and Brier pool every held-out family's predictions. A base rate learnt without a family is "
        "anti-correlated with that family's own (leave-one-out), so a method that mostly predicts base rates "
        "scores a pooled AUC below 0.5: the majority's is the measure of that artefact.", "",
        _table(overall), _table(regret_overall.drop(columns="held_out")),
        "## Does the advisor beat its baselines?", "",
        "Advisor minus baseline, per held-out family then averaged, 95% bootstrap CI over families "
        "(negative is better for the advisor).", "", _table(by_family["paired"]), *_verdicts(by_family["paired"]), "",
        "## Cost", "",
        f"Measured on the machine that built the corpus (shared, loaded: read ratios, not seconds). The advisor "
        f"costs {ratio:.2f}x the pilot per condition (median).", "", _table(costs),
        "## Noise ceiling", "",
        "How often one seed's answer (its difference beyond the margin or not) is its condition's answer: no "
        "advisor can be judged more finely than the outcomes it learns from. " +
        ", ".join(f"{QUESTIONS[h]}: {ceiling[h]:.3f}" for h in HEADS) + ".", "",
        "## Per held-out family", "",
        *[f"{QUESTIONS[h]}:\n\n" + _table(by_family["heads"][by_family["heads"]["head"] == h].drop(columns="head"))
          for h in HEADS],
        "Regret (Δm% points) and how often the recommended regime is the best one:", "",
        _table(by_family["regret_scores"]),
        "## Calibration", "", f"![calibration]({figure.name})", "",
        "## Confusion matrices", "", "The regime recommended against the best regime (rows):", "",
        *[_table(_confusion(by_family["regret"], method)) for method in ("advisor", "pilot")],
        *[f"{QUESTIONS[h]}, advisor (held out):\n\n" + _table(_head_confusion(by_family["predictions"][h]))
          for h in HEADS],
        "## Where the advisor is wrong", "", _table(_wrong(by_family["regret"], by_family["predictions"])),
        "## Leave one source out (harder)", "",
        "The same, holding out a whole source (every synthetic study at once, every digits family, ...).", "",
        _table(by_source["heads"][by_source["heads"]["held_out"] == "overall"].drop(columns="held_out")),
        _table(by_source["regret_scores"]), _table(by_source["paired"]), *_verdicts(by_source["paired"]), "",
        "## The best single descriptor, as the folds chose it", "",
        _table(chosen.rename_axis("descriptor").reset_index(name="held-out examples it answered")),
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
    numbers = {"corpus_sha256": corpus_sha, "examples": len(corpus), "margin": MARGIN, "noise_ceiling": ceiling,
               "advisor_over_pilot_cost": float(ratio),
               **{f"{name}_{key}": by[key].to_dict(orient="records") for name, by in
                  (("leave_one_family_out", by_family), ("leave_one_source_out", by_source))
                  for key in ("heads", "regret_scores", "paired")}}
    (folder / "validation.json").write_text(json.dumps(numbers, indent=1, default=float) + "\n")
    return folder / "README.md"
