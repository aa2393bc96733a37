"""Nothing a record, a config, a folder or a user's table holds becomes live markup in the report (issue 22):
records and study folders carrying HTML and script in every string field, rendered, hold no tag or attribute
the report did not write itself, in HTML and in Markdown."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bench.report.__main__ import main
from bench.results import write_record

ATTACK = '"><img src=x onerror=alert(1)><script>alert(2)</script>$x$'
STUDIES = ('x"><img src=x onerror=alert(1)>', "javascript:alert(1)")
# The tags the report's templates write; anything else in a page came from data.
OURS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "nav", "a", "p", "section", "code",
        "b", "ul", "li", "dl", "dt", "dd", "div", "figure", "figcaption", "img", "table", "thead", "tbody", "tr",
        "th", "td"}


def _metrics(r2: float) -> dict:
    return {"loss": 1 - r2, "mse": 1 - r2, "r2": r2}


def _record(study: str, regime: str, strategy: str | None, seed: int, level: str, r2: float) -> dict:
    tasks = [{"task": f"{ATTACK}{t}", "role": "target" if t == 0 else "source", "kind": "regression",
              "val": _metrics(r2), "test": _metrics(r2 - 0.01 * t)} for t in range(1 if regime == "tl" else 2)]
    return {
        "schema": 1, "run_id": f"{regime}{seed}{level[-1]}", "study": study, "seed": seed, "regime": regime,
        "strategy": strategy, "status": "ok", "knobs": {ATTACK: level}, "tasks": tasks,
        "weighting": ATTACK if regime == "mtl" else None,
        "versions": {"torch": ATTACK, ATTACK: "1"},
        "descriptors": {"warnings": [ATTACK]},
        "config": {"data": {"_target_": "bench.data.make_synthetic", "note": ATTACK},
                   "model": {"name": ATTACK}, "trainer": {"max_steps": 10, ATTACK: 1}, "seed": seed},
        "fit": {"steps": 10},
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    for study in STUDIES:
        for seed in range(3):
            for level in (f"{ATTACK}a", f"{ATTACK}b"):
                for regime, strategy, gain in (("stl", None, 0.0), ("mtl", None, 0.05), ("tl", ATTACK, 0.02),
                                               ("sklearn", "ridge", -0.1)):
                    write_record(root / study, _record(study, regime, strategy, seed, level, 0.5 + gain + 0.01 * seed))
        failed = {**_record(study, "mtl", None, 9, f"{ATTACK}a", 0.0), "status": "failed", "error": ATTACK,
                  "tasks": None}
        write_record(root / study, failed)
    out = tmp_path_factory.mktemp("reports")
    assert main(["--experiments", str(root), "--out", str(out), "--svg"]) == 0  # SVG links too
    return out


class _Markup(HTMLParser):
    """Every tag and attribute of a page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _pages(report):
    return sorted(report.rglob("*.html"))


def test_every_page_renders_the_attack_as_text(report):
    pages = _pages(report)
    assert len(pages) == 1 + len(STUDIES)
    for page in pages:
        text = page.read_text()
        assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in text, page  # shown, as text
    assert ">SVG</a>" in (report / STUDIES[0] / "index.html").read_text()


def test_no_page_holds_a_tag_or_attribute_the_report_did_not_write(report):
    for page in _pages(report):
        parser = _Markup()
        parser.feed(page.read_text())
        for tag, attrs in parser.tags:
            assert tag in OURS, (page, tag)
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            for link in (attrs.get("href"), attrs.get("src")):
                if link is not None:
                    assert link.startswith(("./", "#", "../", "data:image/png;base64,", "README.md", "tidy.csv",
                                            "tables/")), (page, link)


def test_markdown_holds_no_raw_tag(report):
    for page in sorted(report.rglob("*.md")):
        text = page.read_text()
        outside_code = "".join(part for index, part in enumerate(text.split("`")) if index % 2 == 0)
        assert "<img" not in outside_code and "<script" not in outside_code, page
        assert "](javascript" not in text, page
