"""Fills `{{ name }}` placeholders in target templates: one argv item, JSON string or header at a time.

A placeholder's value is never parsed again, so it can never turn into shell syntax or JSON structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from watchdog.errors import ConfigError

# The names a rollback request can fill (base.RollbackRequest.placeholders()).
KNOWN = frozenset(
    {"service", "environment", "version", "artifact", "failed_version", "failed_artifact", "deployment_id"}
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders_in(template: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(template)}


def strings_in(value: Any) -> Iterable[str]:
    """Every string value inside a JSON-like structure (keys are structure, not templates)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def check_templates(templates: Iterable[str], *, where: str) -> None:
    """Fails loudly at start-up for a misspelt placeholder, rather than sending `{{ verison }}` at 3 a.m."""
    unknown = sorted({name for t in templates for name in placeholders_in(t)} - KNOWN)
    if unknown:
        raise ConfigError(
            f"{where}: unknown placeholder(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}"
        )


def render(template: str, values: Mapping[str, str]) -> str:
    """Replaces each `{{ name }}` with its value in one pass, so a value holding `{{ x }}` stays literal."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise ConfigError(f"unknown placeholder {{{{ {name} }}}} in {template!r}")
        return values[name]

    return _PLACEHOLDER.sub(sub, template)


def render_json(value: Any, values: Mapping[str, str]) -> Any:
    """A copy of a JSON-like value with every string rendered; numbers, booleans, null and keys untouched."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {key: render_json(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render_json(item, values) for item in value]
    return value
