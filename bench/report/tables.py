"""Tables for people: computed frames turned into formatted cells, written as Markdown, LaTeX and HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

P_LEVEL = 0.05  # the level a p-value is read at


@dataclass(frozen=True)
class Table:
    """A formatted table with the sentence that says how to read it (sign conventions, intervals, n)."""

    name: str
    title: str
    caption: str
    frame: pd.DataFrame

    def columns(self) -> list[str]:
        return [str(column) for column in self.frame.columns]

    def rows(self) -> list[list[str]]:
        """Every cell as text (missing values empty), for a template to print (and escape)."""
        return [["" if _missing(value) else str(value) for value in row]
                for row in self.frame.itertuples(index=False, name=None)]

    def markdown(self) -> str:
        shown = pd.DataFrame(self.rows(), columns=[markdown_text(c) for c in self.columns()])
        shown = shown.map(markdown_text)
        return (f"**{markdown_text(self.title)}.** {markdown_text(self.caption)}\n\n"
                f"{shown.to_markdown(index=False)}\n")

    def latex(self) -> str:
        return self.frame.to_latex(index=False, escape=True, caption=f"{self.title}. {self.caption}",
                                   label=f"tab:{self.name}")

    def write(self, folder: Path) -> None:
        """``<name>.md`` and ``<name>.tex`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.name}.md").write_text(self.markdown())
        (folder / f"{self.name}.tex").write_text(self.latex())


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def markdown_text(text) -> str:
    """Text for a Markdown file that no viewer turns into markup: ``<``, ``>`` and ``&`` become entities
    outside `code` spans (inside one they are shown as typed, never live), a table's ``|`` is escaped and
    line breaks become spaces."""
    parts = str(text).replace("\r", " ").replace("\n", " ").split("`")
    shown = [html.escape(part, quote=False) if index % 2 == 0 else part for index, part in enumerate(parts)]
    if len(parts) % 2 == 0:  # an unmatched backtick opens no span: its tail is plain text too
        shown[-1] = html.escape(parts[-1], quote=False)
    return "`".join(shown).replace("|", "\\|").replace("](", "]\\(")


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


def smallest_p(n_pairs: int, comparisons: int) -> tuple[float, float]:
    """The smallest two-sided Wilcoxon signed-rank p that ``n_pairs`` can give (all differences of one sign:
    2 / 2^n), and the smallest Holm-adjusted one over ``comparisons`` (Holm's first step multiplies it by m)."""
    raw = 2.0 / 2.0 ** n_pairs if n_pairs else 1.0
    return raw, min(1.0, comparisons * raw)


def _p_columns(summary: pd.DataFrame) -> tuple[dict[str, pd.Series], str]:
    """The p-value columns that can decide at ``P_LEVEL`` and the sentence that says how to read them: a
    column whose smallest attainable value is not below the level is left out, and the sentence says why."""
    n = int(summary["n_pairs"].max()) if len(summary) else 0
    comparisons = int(summary["p"].notna().sum())
    raw, adjusted = smallest_p(n, comparisons)
    columns = {"p (Wilcoxon)": summary["p"].map(p_value), "p (Holm)": summary["p_holm"].map(p_value)}
    if raw >= P_LEVEL:
        return {}, (f" No p-value is shown: with at most {n} pairs the smallest two-sided Wilcoxon p is 2/2^{n} = "
                    f"{raw:.3g}, never below {P_LEVEL}; the outcome rests on the CI.")
    rule = (f" p: two-sided Wilcoxon signed-rank test (with {n} pairs it cannot fall below {raw:.3g})")
    if adjusted >= P_LEVEL:
        columns.pop("p (Holm)")
        return columns, (f"{rule}. Its Holm adjustment over the {comparisons} comparisons of this table is left "
                         f"out: it cannot fall below {comparisons} x {raw:.3g} = {adjusted:.3g}, so it could never "
                         f"decide at {P_LEVEL}; the outcome rests on the CI.")
    return columns, f"{rule}; p (Holm): adjusted over the {comparisons} comparisons of this table."


def difference_table(summary: pd.DataFrame, keys: list[str], digits: int, name: str, title: str,
                     caption: str) -> Table:
    """One row per arm and condition (and metric, task): mean paired difference [95% CI], n pairs, the
    p-values that can decide (see ``_p_columns``), outcome; ``n tasks`` and ``n left out`` where the summary
    has them."""
    extra = {"metric": "metric", "task": "task"}
    counts = {"n_tasks": "n tasks", "n_left_out": "n left out"}
    p_columns, p_rule = _p_columns(summary)
    frame = pd.DataFrame({
        "arm": summary["arm"],
        **{key: summary[key].map(knob_text) for key in keys},
        **{label: summary[column] for column, label in extra.items() if column in summary and column not in keys},
        "difference [95% CI]": [interval(m, lo, hi, digits) for m, lo, hi in
                                zip(summary["mean"], summary["ci_low"], summary["ci_high"], strict=True)],
        "n pairs": summary["n_pairs"],
        **{label: summary[column] for column, label in counts.items() if column in summary},
        **p_columns,
        "outcome": summary["outcome"],
    })
    return Table(name, title, caption + p_rule, frame)


def plain_table(frame: pd.DataFrame, name: str, title: str, caption: str, keys: list[str] = ()) -> Table:
    """A computed frame shown as it is, knob values (``keys``) as given and other floats to 3 decimals."""
    shown = frame.copy()
    for column in shown.columns:
        if column in keys:
            shown[column] = shown[column].map(knob_text)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: number(v, 3))
    return Table(name, title, caption, shown)


def _evidence(cell, knob_value) -> str:
    if not isinstance(cell, tuple):
        return "—"
    mean, low, high, n = cell
    return f"{knob_text(knob_value)}: {interval(mean, low, high)} (n={n})"


def claims_view(claims: pd.DataFrame, rule: str) -> Table:
    """One row per claim and arm: what was predicted, the measured trend with its CI, end points, verdict."""
    rows = []
    for _, row in claims.iterrows():
        if row["verdict"] == "descriptive":
            mean, low, high, n = row["pooled"]
            measured = (f"MTL beats TL in {int(row['win'])}, ties in {int(row['tie'])}, loses in "
                        f"{int(row['loss'])} conditions; pooled mean MTL − TL {interval(mean, low, high)} "
                        f"over {n} pairs")
            low = high = "—"
            change = overall = "—"
        elif isinstance(row.get("low"), tuple):
            measured = f"{interval(row['slope'], row['slope_low'], row['slope_high'])} {row['unit']}"
            low, high = _evidence(row["low"], row["low_knob"]), _evidence(row["high"], row["high_knob"])
            change = (f"{interval(row['change'], row['change_low'], row['change_high'])} "
                      f"(margin ±{row['margin']:g}, n={int(row['n_units'])})")
            overall = f"{row['overall']}: {interval(row['overall_mean'], row['overall_low'], row['overall_high'])}"
        else:
            measured, low, high, change, overall = "—", "—", "—", "—", "—"
        rows.append({"claim": int(row["claim"]), "prediction tested": row["prediction"], "study": row["study"],
                     "arm": row["arm"], "change, smallest to largest knob [simultaneous CI]": change,
                     "verdict": row["verdict"], "overall vs STL": overall, "trend [95% CI]": measured,
                     "at the smallest knob": low, "at the largest knob": high,
                     "excess risk": row["excess"] if isinstance(row.get("excess"), str) else "",
                     "note": row["note"] if isinstance(row.get("note"), str) else ""})
    levels = claims["level"].dropna() if "level" in claims else pd.Series(dtype=float)
    adjusted = f" Here k = {len(levels)}: each CI of the change and of overall is at {levels.iloc[0]:.2%}." \
        if len(levels) else ""
    caption = (f"{rule}{adjusted} Differences at the end points are arm − STL in the claim's measure, with 95% "
               "CI and the number of pairs.")
    return Table("claims", "Claims under test (DESIGN.md section 1)", caption, pd.DataFrame(rows))
