"""Tables for people: computed frames turned into formatted cells, written as Markdown, LaTeX and HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Table:
    """A formatted table with the sentence that says how to read it (sign conventions, intervals, n)."""

    name: str
    title: str
    caption: str
    frame: pd.DataFrame

    def markdown(self) -> str:
        return f"**{self.title}.** {self.caption}\n\n{self.frame.to_markdown(index=False)}\n"

    def latex(self) -> str:
        return self.frame.to_latex(index=False, escape=True, caption=f"{self.title}. {self.caption}",
                                   label=f"tab:{self.name}")

    def html(self) -> str:
        body = self.frame.to_html(index=False, escape=True, border=0, classes="data", na_rep="")
        return f'<figure class="table"><figcaption><b>{_escape(self.title)}.</b> {_escape(self.caption)}' \
               f"</figcaption>{_mark_outcomes(body)}</figure>"

    def write(self, folder: Path) -> None:
        """``<name>.md`` and ``<name>.tex`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.name}.md").write_text(self.markdown())
        (folder / f"{self.name}.tex").write_text(self.latex())


def _escape(text: str) -> str:
    return html.escape(text).replace("**", "")


def _mark_outcomes(body: str) -> str:
    """Colour the verdict words so a reader's eye finds them (CSS classes in the page's style sheet)."""
    for word in ("win", "loss", "tie", "supported", "contradicted", "underpowered", "premise fails", "not run",
                 "descriptive", "no effect"):
        body = body.replace(f"<td>{word}</td>", f'<td class="v-{word.replace(" ", "-")}">{word}</td>')
    return body


def number(value: float, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``mean [low, high]``; a single seed has no interval and says so."""
    if math.isnan(low):
        return f"{number(mean, digits)} [no CI]"
    return f"{number(mean, digits)} [{number(low, digits)}, {number(high, digits)}]"


def p_value(p: float) -> str:
    return "—" if math.isnan(p) else f"{p:.3g}"


def knob_text(value) -> str:
    return f"{value:g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def score_table(summary: pd.DataFrame, keys: list[str], expected: pd.Series, name: str, caption: str,
                title: str | None = None) -> Table:
    """Conditions (and metrics, when several) as rows, arms as columns, ``mean [95% CI] n=...`` per cell;
    ``n=4/5`` flags missing seeds."""
    rows = summary.merge(expected.rename("n_expected").reset_index(), on=keys, how="left")
    cells = [
        f"{interval(r['mean'], r['ci_low'], r['ci_high'])} "
        + (f"n={r['n_seeds']}" if r["n_seeds"] >= r["n_expected"] else f"n={r['n_seeds']}/{r['n_expected']} ⚠")
        for _, r in rows.iterrows()
    ]
    several = summary["metric"].nunique() > 1
    index = [*keys, "metric"] if several else keys
    wide = rows.assign(cell=cells).pivot(index=index, columns="arm", values="cell").reset_index()
    for key in keys:
        wide[key] = wide[key].map(knob_text)
    metric = ", ".join(sorted(summary["metric"].unique()))
    return Table(name, title or f"Target-task test {metric}", caption, wide.rename_axis(columns=None))


def difference_table(summary: pd.DataFrame, keys: list[str], digits: int, name: str, title: str,
                     caption: str) -> Table:
    """One row per arm and condition (and metric, task): mean paired difference [95% CI], n pairs, p, Holm p,
    outcome; ``n tasks`` and ``n left out`` where the summary has them."""
    extra = {"metric": "metric", "task": "task"}
    counts = {"n_tasks": "n tasks", "n_left_out": "n left out"}
    frame = pd.DataFrame({
        "arm": summary["arm"],
        **{key: summary[key].map(knob_text) for key in keys},
        **{label: summary[column] for column, label in extra.items() if column in summary and column not in keys},
        "difference [95% CI]": [interval(m, lo, hi, digits) for m, lo, hi in
                                zip(summary["mean"], summary["ci_low"], summary["ci_high"], strict=True)],
        "n pairs": summary["n_pairs"],
        **{label: summary[column] for column, label in counts.items() if column in summary},
        "p (Wilcoxon)": summary["p"].map(p_value),
        "p (Holm)": summary["p_holm"].map(p_value),
        "outcome": summary["outcome"],
    })
    return Table(name, title, caption, frame)


def plain_table(frame: pd.DataFrame, name: str, title: str, caption: str, keys: list[str] = ()) -> Table:
    """A computed frame shown as it is, knob values (``keys``) as given and other floats to 3 decimals."""
    shown = frame.copy()
    for column in shown.columns:
        if column in keys:
            shown[column] = shown[column].map(knob_text)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: number(v, 3))
    return Table(name, title, caption, shown)
