"""The HTML view of a report: tables rendered, charts inlined as SVG, raw HTML from people escaped.

This is what GET /v1/incidents/{id} serves for text/html.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.reports import builders
from watchdog.reports.html import markdown_to_html
from watchdog.reports.postmortem import write_report


def test_charts_inline_and_tables(tmp_path: Path) -> None:
    path = write_report(report=builders.failed_rolled_back(), reports_dir=tmp_path)
    markdown = path.read_text() + "\n<script>alert(1)</script>\n"
    html = markdown_to_html(markdown, charts_dir=tmp_path)
    assert html.startswith("<!doctype html>")
    assert "<title>checkout 2.4.1 in production: rolled back</title>" in html
    assert html.count("<svg ") == 4 and "<img" not in html
    assert 'id="threshold"' in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<?xml" not in html
    # The whole page is well-formed enough for an XML parser once the doctype is dropped.
    ET.fromstring(html.split("\n", 1)[1].replace('<meta charset="utf-8">', '<meta charset="utf-8"/>'))


def test_only_bare_file_names_are_inlined(tmp_path: Path) -> None:
    (tmp_path / "secret.svg").write_text("<svg>outside</svg>")
    charts = tmp_path / "reports"
    charts.mkdir()
    html = markdown_to_html("![x](../secret.svg)\n\n![y](missing.svg)\n", charts_dir=charts)
    assert "outside" not in html
    assert '<img src="../secret.svg"' in html
    assert "chart missing.svg is missing" in html
