"""JSON Schema of the two file kinds (service policy and daemon file), generated from the models.

Editors use it for completion and inline errors; `additionalProperties: false` mirrors extra="forbid".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from watchdog.policy.connections import DaemonConfig
from watchdog.policy.service import ServiceFile

Kind = Literal["service", "daemon"]
FILE_NAMES: dict[Kind, str] = {"service": "service.schema.json", "daemon": "watchdog.schema.json"}
_MODELS: dict[Kind, tuple[type[BaseModel], str]] = {
    "service": (ServiceFile, "Deploy Watchdog service policy (config/services/<service>.yaml)"),
    "daemon": (DaemonConfig, "Deploy Watchdog daemon file (config/watchdog.yaml)"),
}
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: Kind) -> dict[str, Any]:
    model, title = _MODELS[kind]
    body = model.model_json_schema(by_alias=True)
    return {"$schema": DIALECT, **body, "title": title}


def all_schemas() -> dict[str, dict[str, Any]]:
    return {kind: json_schema(kind) for kind in _MODELS}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Writes service.schema.json and watchdog.schema.json into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name in FILE_NAMES.items():
        path = directory / name
        path.write_text(render(json_schema(kind)), encoding="utf-8")
        written.append(path)
    return written
