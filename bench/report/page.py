"""The HTML pages: ``index.html`` (the decision, the claims, the overview, links to every study) and one
``<study>/index.html`` per study, rendered by Jinja2 templates with autoescape, so that nothing a record,
a config, a folder name or a user's table holds can become markup.

The index embeds its few figures (it stands alone when sent around); a study page links the figures that lie
beside it, so that no page carries every figure of the report.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from bench.report.study import Figure, Section, StudyReport
from bench.report.tables import Table

VERDICT_WORDS = ("win", "loss", "tie", "supported", "contradicted", "inconclusive", "not run", "descriptive",
                 "no effect")


def marks(text: str) -> Markup:
    """Escape, then the two Markdown marks our captions use: `code` and **bold**."""
    text = str(escape(text))
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text))


def href(path: str | Path) -> str:
    """A relative link whose every part is percent-encoded: a folder named ``javascript:x`` or ``a"b`` stays
    a path (``./javascript%3Ax``), never a scheme or an attribute's end."""
    parts = str(path).split("/")
    return "./" + "/".join(quote(part, safe="") for part in parts)


def slug(text: str) -> str:
    """An element id from a title: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "section"


def verdict(cell: str) -> str:
    """The CSS class that colours a verdict word in a table cell (empty for any other cell)."""
    return f"v-{cell.replace(' ', '-')}" if cell in VERDICT_WORDS else ""


ENVIRONMENT = jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "templates"), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters.update(marks=marks, href=href, slug=slug, verdict=verdict)


class Sources:
    """Where a page finds a figure: embedded as PNG data (the index) or the file beside the page."""

    def __init__(self, page_folder: Path, embed: bool):
        self.folder, self.embed = page_folder, embed

    def image(self, figure: Figure) -> str:
        if self.embed:
            return "data:image/png;base64," + base64.b64encode(figure.path.read_bytes()).decode()
        return href(figure.path.relative_to(self.folder).as_posix())

    def svg(self, figure: Figure) -> str | None:
        """The link to the figure's SVG, when the report wrote one (``--svg``)."""
        vector = figure.path.with_suffix(".svg")
        return href(vector.relative_to(self.folder).as_posix()) if vector.exists() else None


def write_study_page(report: StudyReport) -> Path:
    """``<study>/index.html``: the decision first, then every section, the protocol and the files."""
    path = report.folder / "index.html"
    template = ENVIRONMENT.get_template("study.html")
    path.write_text(template.render(report=report, sources=Sources(report.folder, embed=False)))
    return path


def write_index(path: Path, claims: Section, reports: list[StudyReport], overall: Section, versions: Table,
                rules: list[str], tuning: dict[str, str], claim_sentences: list[str]) -> Path:
    """``index.html``: what to do (one line per study, and ``claim_sentences``: one per claim), the claims,
    the regime maps, every study together, links to the study pages, the protocol."""
    studies = [{"name": r.name, "decision": r.decision, "protocol": r.protocol, "tuning": tuning[r.name]}
               for r in reports]
    maps = [r.regime_map for r in reports if r.regime_map is not None]
    page = ENVIRONMENT.get_template("index.html").render(
        claims=claims, claim_sentences=claim_sentences, studies=studies, maps=maps, overall=overall,
        versions=versions, rules=rules, sources=Sources(path.parent, embed=True))
    path.write_text(page)
    return path
