"""The self-contained HTML page: every figure embedded (PNG as base64, SVG linked beside it), every table."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from bench.report.study import DELTA_M_RULE, Figure, Section, StudyReport
from bench.report.tables import Table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 1.5rem 2rem 4rem; color: #1d1d1f; line-height: 1.5; font-size: 16px; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2rem;
margin-top: 2.5rem; } h3 { margin-top: 1.8rem; }
nav { background: #f6f6f8; padding: .6rem 1rem; border-radius: 6px; font-size: .95rem; }
nav a { margin-right: 1rem; }
code { background: #f1f1f4; padding: 0 .25rem; border-radius: 3px; font-size: .92em; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 0 1.5rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .92rem; color: #444; margin: .3rem 0; }
table.data { border-collapse: collapse; font-size: .88rem; margin: .4rem 0 1rem; font-variant-numeric: tabular-nums; }
table.data th { background: #f1f1f4; text-align: left; padding: .3rem .55rem; border-bottom: 2px solid #ccc; }
table.data td { padding: .25rem .55rem; border-bottom: 1px solid #eee; vertical-align: top; }
table.data tr:nth-child(even) td { background: #fafafa; }
.v-win, .v-supported { background: #dff0d8 !important; font-weight: 600; }
.v-loss, .v-contradicted { background: #f7dcdc !important; font-weight: 600; }
.v-tie, .v-inconclusive { color: #555; } .v-not-run { color: #999; font-style: italic; }
.v-no-effect { color: #31708f; font-weight: 600; } .v-premise-fails { color: #6a4c93; font-weight: 600; }
.v-underpowered { color: #555; }
.v-descriptive { color: #31588a; }
dl.protocol { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .92rem; }
dl.protocol dt { font-weight: 600; } dl.protocol dd { margin: 0; }
.scroll { overflow-x: auto; }
"""


def inline(text: str) -> str:
    """Escape, then the two Markdown marks our captions use: `code` and **bold**."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def figure_html(figure: Figure, root: Path) -> str:
    encoded = base64.b64encode(figure.path.read_bytes()).decode()
    svg = figure.path.with_suffix(".svg").relative_to(root)
    return (f'<figure><img alt="{html.escape(figure.caption)}" src="data:image/png;base64,{encoded}">'
            f'<figcaption>{inline(figure.caption)} <a href="{svg}">SVG</a></figcaption></figure>')


def table_html(table: Table) -> str:
    return f'<div class="scroll">{table.html()}</div>'


def section_html(section: Section, root: Path, level: int = 3) -> str:
    parts = [f"<h{level}>{inline(section.title)}</h{level}>"] if section.title else []
    parts += [f"<p>{inline(text)}</p>" for text in section.text]
    parts += [table_html(table) for table in section.tables]
    if section.figures:
        parts.append(f'<div class="figures">{"".join(figure_html(f, root) for f in section.figures)}</div>')
    return "\n".join(parts)


def study_html(report: StudyReport, root: Path) -> str:
    protocol = "".join(f"<dt>{html.escape(k)}</dt><dd>{inline(v)}</dd>" for k, v in report.protocol.items())
    links = (f'<p>Files: <a href="{report.name}/README.md">README.md</a>, '
             f'<a href="{report.name}/tidy.csv">tidy.csv</a>, <a href="{report.name}/tables/">tables</a> '
             f'(Markdown, LaTeX); figures as PNG and SVG in <a href="{report.name}/">{report.name}/</a>.</p>')
    body = "\n".join(section_html(s, root) for s in report.sections)
    return (f'<section id="study-{report.name}"><h2>Study <code>{html.escape(report.name)}</code></h2>'
            f'<dl class="protocol">{protocol}</dl>{links}{body}</section>')


def write_page(path: Path, claims: Table, reading: Section, reports: list[StudyReport], overall: Section,
               versions: Table, statistics: list[str]) -> Path:
    root = path.parent
    maps = [r.regime_map for r in reports if r.regime_map is not None]
    nav = ['<a href="#claims">Claims</a>', '<a href="#map">Regime map</a>', '<a href="#overall">All studies</a>']
    nav += [f'<a href="#study-{r.name}">{html.escape(r.name)}</a>' for r in reports]
    nav += ['<a href="#protocol">Protocol</a>']
    rules = "".join(f"<li>{inline(s)}</li>" for s in [*statistics, DELTA_M_RULE])
    map_html = "".join(figure_html(m, root) for m in maps) or (
        "<p>No two-knob study has finished runs: run <code>make bench-full</code> (it includes "
        "<code>+study=regime_map</code>) to draw the regime map.</p>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtl-transfer-bench report</title><style>{STYLE}</style></head><body>
<h1>mtl-transfer-bench report</h1>
<p>Single-task (STL), multi-task (MTL) and transfer (TL) training compared on the same task families, with the
same backbone, budget and early stopping, over paired seeds. Arms: <code>stl</code>, <code>mtl</code>,
<code>tl-full</code> (fine-tune everything), <code>tl-linear_probe</code> (a converged linear head on the frozen
backbone), and any other transfer strategy as <code>tl-&lt;strategy&gt;</code> (<code>lp_ft</code>, <code>l2_sp</code>,
<code>partial</code>, <code>bss</code>).</p>
<nav>{" ".join(nav)}</nav>
<h2 id="claims">Claims</h2>{table_html(claims)}
{section_html(reading, root)}
<h2 id="map">Regime map</h2>{map_html}
<h2 id="overall">All studies together</h2>{section_html(Section("", overall.text, overall.tables,
                                                                 overall.figures), root)}
{"".join(study_html(r, root) for r in reports) or "<p>No run records found: run <code>make bench</code>.</p>"}
<h2 id="protocol">Protocol and statistics</h2><ul>{rules}</ul>{table_html(versions)}
</body></html>
"""
    path.write_text(page)
    return path
