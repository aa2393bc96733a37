"""The report in a real browser: headless Chromium opens index.html and every study page; no console error,
every figure decodes, every in-page link finds its target, every relative link names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from test_report import _write_study

from bench.report.__main__ import main

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (chromium, chromium-browser or google-chrome): the browser test "
    "needs one; on Debian `apt-get install chromium` (.ci/run installs it where it can)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    _write_study(root, "relatedness", [{"relatedness": r, "target_size": 32} for r in (0.0, 1.0)], seeds=3)
    _write_study(root, "regime_map", [{"relatedness": r, "target_size": n} for r in (0.0, 1.0) for n in (8, 64)],
                 seeds=3)
    out = tmp_path_factory.mktemp("reports")
    assert main(["--experiments", str(root), "--out", str(out)]) == 0
    return out


def _relative_links(page: Path) -> list[str]:
    links = re.findall(r'(?:href|src)="(\.{1,2}/[^"#]*|README\.md|tidy\.csv|tables/)"', page.read_text())
    return [link for link in links if not (page.parent / link).exists()]


def test_every_page_opens_clean_in_chromium(report):
    pages = [report / "index.html", *sorted(report.glob("*/index.html"))]
    assert len(pages) == 3
    with Browser(CHROMIUM) as browser:
        for page in pages:
            check = browser.open_page(page)
            assert check.errors == [], (page, check.errors)
            assert check.broken_images == [] and check.images > 0, (page, check.broken_images)
            assert check.dead_links == [] and check.links > 0, (page, check.dead_links)
            assert _relative_links(page) == [], page
