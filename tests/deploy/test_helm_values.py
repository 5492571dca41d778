"""helm/watchdog's values: what the chart refuses, values.schema.json on its own, and the optional objects.

Several replicas on SQLite, a password in a URL, a shared ReadWriteOnce volume and values the schema rejects
do not render; the shipped values files match the schema and hold no secret values; a ServiceMonitor, an
image digest and an existing claim render as asked.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.deploy.helm_render import (
    CHART,
    DEFAULTS,
    EXAMPLE,
    HA,
    SCHEMA,
    RenderFailed,
    container,
    env_of,
    merged,
    of_kind,
    only,
    render,
)

# ---- refusals -------------------------------------------------------------------------------------------


def test_several_replicas_on_sqlite_are_refused() -> None:
    with pytest.raises(RenderFailed, match="several replicas need a shared PostgreSQL store"):
        render({"replicaCount": 2})
    with pytest.raises(RenderFailed, match="several replicas need a shared PostgreSQL store"):
        render({"replicaCount": 3, "database": {"url": "sqlite:////var/lib/watchdog/watchdog.db"}})


def test_several_replicas_on_a_postgresql_url_render() -> None:
    values: dict[str, Any] = {
        "replicaCount": 2,
        "persistence": {"enabled": False},
        "database": {"url": "postgresql+psycopg://watchdog@postgres:5432/watchdog"},
    }
    documents = render(values)
    assert only(documents, "Deployment")["spec"]["replicas"] == 2
    assert env_of(documents)["WATCHDOG_DATABASE_URL"]["value"] == values["database"]["url"]


def test_a_password_in_database_url_is_refused() -> None:
    with pytest.raises(RenderFailed, match=r"database\.url holds a password"):
        render({"database": {"url": "postgresql://watchdog:hunter2@postgres/watchdog"}})


def test_a_shared_readwriteonce_volume_is_refused() -> None:
    values = {"replicaCount": 2, "database": {"existingSecret": {"name": "db", "key": "url"}}}
    with pytest.raises(RenderFailed, match="ReadWriteOnce"):
        render(values)


def test_values_the_schema_rejects_do_not_render() -> None:
    with pytest.raises(RenderFailed, match="replicaCount"):
        render({"replicaCount": "two"})
    with pytest.raises(RenderFailed, match="additional properties"):
        render({"replicas": 2})


# ---- values.schema.json (jsonschema, no renderer needed) ------------------------------------------------


def test_values_files_match_the_schema() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert list(validator.iter_errors(DEFAULTS)) == []
    assert list(validator.iter_errors(merged(DEFAULTS, HA))) == []
    assert list(validator.iter_errors(merged(DEFAULTS, EXAMPLE))) == []


@pytest.mark.parametrize(
    "override",
    [
        {"replicaCount": "2"},
        {"replicas": 2},
        {"database": {"url": "mysql://db/watchdog"}},
        {"image": {"digest": "latest"}},
        {"securityContext": {"runAsNonRoot": False}},
        {"settings": {"logFormat": "xml"}},
        {"config": {"services": {"../etc/passwd": {}}}},
        {"ingress": {"enabled": True, "paths": ["/"]}},
    ],
)
def test_schema_rejects_bad_values(override: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert list(validator.iter_errors(merged(DEFAULTS, override))), override


def test_values_hold_no_secret_values() -> None:
    text = "".join(
        (CHART / name).read_text() for name in ("values.yaml", "values-ha.yaml", "values-example.yaml")
    )
    assert "whsec_" not in text
    assert not any(
        ":" in line.split("://", 1)[-1].split("@")[0]
        for line in text.splitlines()
        if "@" in line and "://" in line and not line.lstrip().startswith("#")
    )


# ---- optional objects -----------------------------------------------------------------------------------


def test_service_monitor_when_enabled() -> None:
    documents = render({"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}})
    monitor = only(documents, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_image_by_digest_and_existing_claim() -> None:
    digest = "sha256:" + "ab" * 32
    documents = render({"image": {"digest": digest}, "persistence": {"existingClaim": "watchdog-state"}})
    assert container(documents)["image"] == f"ghcr.io/acme/deploy-watchdog@{digest}"
    assert not of_kind(documents, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in only(documents, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "watchdog-state"
