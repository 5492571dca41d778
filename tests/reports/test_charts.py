"""The SVG charts: valid XML with the limit, baseline band and both markers; rendered to PNG by librsvg.

Failing samples are crosses (paths), not only red, so the chart reads in greyscale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reports import builders
from watchdog.reports.charts import render_chart
from watchdog.reports.model import ReportInput, evidence

NS = {"s": "http://www.w3.org/2000/svg"}


def _chart(check: str, make: Callable[[], ReportInput] = builders.failed_rolled_back) -> str:
    ev = next(e for e in evidence(make()) if e.name == check)
    return render_chart(ev, title=f"{check} after checkout 2.4.1")


def _by_id(root: ET.Element, ident: str) -> ET.Element | None:
    return next((el for el in root.iter() if el.get("id") == ident), None)


def test_error_rate_chart_has_every_element() -> None:
    root = ET.fromstring(_chart("errors"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    threshold = _by_id(root, "threshold")
    assert threshold is not None
    line = threshold.find("s:line", NS)
    assert line is not None and line.get("class") == "threshold"
    assert "".join(threshold.itertext()) == "limit 2.0%"
    baseline = _by_id(root, "baseline")
    assert baseline is not None and "".join(baseline.itertext()) == "baseline 0.3%–0.5%"
    for marker, label in (("deploy-marker", "deploy"), ("decision-marker", "decision")):
        el = _by_id(root, marker)
        assert el is not None and "".join(el.itertext()) == label
    xs = [root.find(f".//*[@id='{m}']/s:line", NS) for m in ("deploy-marker", "decision-marker")]
    deploy_x, decision_x = (float(el.get("x1", "nan")) for el in xs if el is not None)
    assert deploy_x < decision_x
    series = _by_id(root, "series")
    assert series is not None
    fails = [el for el in series if "fail" in (el.get("class") or "").split()]
    assert len(fails) == 2 and all(el.tag.endswith("path") for el in fails), "failing samples are crosses"
    passes = [el for el in series if "pass" in (el.get("class") or "").split()]
    assert all(el.tag.endswith("circle") for el in passes)
    texts = " ".join(t for el in root.iter() for t in [el.text or ""])
    assert "seconds after deploy" in texts and "error rate (%)" in texts and "6%" in texts


def test_http_and_inconclusive_charts_parse() -> None:
    http = ET.fromstring(_chart("healthz"))
    assert _by_id(http, "threshold") is None and _by_id(http, "deploy-marker") is not None
    inc = ET.fromstring(_chart("errors", builders.inconclusive))
    assert len([el for el in inc.iter() if "inconclusive" in (el.get("class") or "").split()]) >= 4


def test_svg_renders_to_png(tmp_path: Path) -> None:
    binary = shutil.which("rsvg-convert")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("rsvg-convert (Debian librsvg2-bin) is missing in CI; .ci/system-deps installs it")
        pytest.skip("rsvg-convert is missing: apt-get install -y librsvg2-bin (make system-deps)")
    svg = tmp_path / "errors.svg"
    svg.write_text(_chart("errors"))
    png = tmp_path / "errors.png"
    subprocess.run([binary, "-o", str(png), str(svg)], check=True, timeout=60)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (760, 360)
    assert len(data) > 5_000, "a blank image would be far smaller"
    print(f"chart rendered to {png}")
