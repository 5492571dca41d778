"""Renders helm/watchdog offline with Helm's own Go engine (the helm-python-sdk wheel, in the dev extra).

`render` returns the parsed documents; a template's `fail` surfaces as RenderFailed with Helm's message.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "watchdog"
RELEASE = "watchdog"
NAMESPACE = "deploy-watchdog"
DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
HA: dict[str, Any] = yaml.safe_load((CHART / "values-ha.yaml").read_text())
EXAMPLE: dict[str, Any] = yaml.safe_load((CHART / "values-example.yaml").read_text())
SCHEMA: dict[str, Any] = yaml.safe_load((CHART / "values.schema.json").read_text())


class RenderFailed(Exception):
    """The chart refused to render (a `fail` in a template, or values the schema rejects)."""


def renderer() -> ModuleType:
    """The helm_python module; skips outside CI when it is not installed, fails in CI."""
    try:
        import helm_python
    except (ImportError, OSError) as exc:  # OSError: the bundled libhelm_c.so did not load
        message = f"helm-python-sdk is not usable ({exc}); install the dev extra: make venv"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return helm_python


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    helm = renderer()
    with helm.Chart.load(str(CHART)) as chart:
        try:
            manifests: dict[str, str] = chart.render(values, name=RELEASE, namespace=NAMESPACE)
        except (helm.HelmRenderError, helm.HelmValuesError) as exc:
            raise RenderFailed(str(exc)) from exc
    documents: list[dict[str, Any]] = []
    for path in sorted(manifests):
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for document in yaml.safe_load_all(manifests[path]):
            if document is not None:
                assert isinstance(document, dict), f"{path}: a document is not a mapping"
                documents.append(document)
    return documents


def lint(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`helm lint --strict` findings at warning level or above."""
    helm = renderer()
    report: dict[str, Any] = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
    return [m for m in report["messages"] if m["severity"] >= 2] + [{"error": e} for e in report["errors"]]


def only(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (main,) = only(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(main)


def env_of(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(documents).get("env", [])}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing, for the schema test: maps merge key by key, anything else replaces."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
