"""Fills an Argo CD notifications template with Go's own text/template engine (Helm's, in helm-python-sdk).

Argo CD hands its templates `.app` (the Application object); Helm hands a chart's `.Values`, so each
`.app` becomes `.Values.app` and the template goes through Helm as a one-file chart. Sprig's functions
(`toJson`, `index`) are the same in both. One difference stays: Helm prints a missing key as "" where
Argo CD prints `<no value>`, so tests fill every field the template reads.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from tests.deploy.helm_render import renderer

# A field chain that starts at the template's root: `.app...` right after `{`, `(`, or a space.
_ROOT = re.compile(r"(?<=[\s({])\.(app|context)\b")


def render(template: str, data: dict[str, Any]) -> str:
    helm = renderer()
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "snippet"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: snippet\nversion: 0.0.1\n")
        (chart / "templates" / "body.txt").write_text(_ROOT.sub(r".Values.\1", template))
        with helm.Chart.load(str(chart)) as loaded:
            rendered: dict[str, str] = loaded.render(data, name="snippet", namespace="default")
    return rendered["snippet/templates/body.txt"]
