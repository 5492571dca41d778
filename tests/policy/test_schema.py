"""The JSON Schema from `watchdog schema` accepts the shipped files and rejects unknown keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from tests.policy.conftest import REPO, SHIPPED
from watchdog.cli import main
from watchdog.policy.schema import FILE_NAMES, json_schema, render


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _cli_schemas(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["schema"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_schema_output_has_both_kinds_titled_and_closed(capsys: pytest.CaptureFixture[str]) -> None:
    schemas = _cli_schemas(capsys)
    assert set(schemas) == {"service", "daemon"}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["title"].startswith("Deploy Watchdog")
        assert schema["additionalProperties"] is False


def test_shipped_files_validate(capsys: pytest.CaptureFixture[str]) -> None:
    schemas = _cli_schemas(capsys)
    jsonschema.validate(_yaml(SHIPPED / "watchdog.yaml"), schemas["daemon"])
    services = sorted((SHIPPED / "services").glob("*.yaml"))
    assert len(services) == 3
    for path in services:
        jsonschema.validate(_yaml(path), schemas["service"])


def test_unknown_key_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    schemas = _cli_schemas(capsys)
    data = _yaml(SHIPPED / "services" / "checkout.yaml")
    data["defaults"]["verification"]["falure_limit"] = 3
    with pytest.raises(jsonschema.ValidationError) as caught:
        jsonschema.validate(data, schemas["service"])
    assert "falure_limit" in caught.value.message


def test_bad_duration_and_check_type_are_rejected() -> None:
    schema = json_schema("service")
    data = _yaml(SHIPPED / "services" / "demo.yaml")
    data["defaults"]["verification"]["duration"] = "10 minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    data = _yaml(SHIPPED / "services" / "demo.yaml")
    data["environments"]["local"]["checks"][0]["type"] = "htp"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_one_kind_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "daemon"]) == 0
    daemon = json.loads(capsys.readouterr().out)
    assert "sources" in daemon["properties"]
    assert main(["schema", "--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.schema.json", "watchdog.schema.json"]
    assert json.loads((tmp_path / "watchdog.schema.json").read_text()) == daemon


def test_committed_schema_files_are_current() -> None:
    """The files the example configs point their editors at (docs/schema/) match the models."""
    for kind, name in FILE_NAMES.items():
        committed = (REPO / "docs" / "schema" / name).read_text()
        assert committed == render(json_schema(kind)), f"run: watchdog schema --write docs/schema ({name})"
