"""Intake field rules through every webhook route: a 4xx naming the field, never a 5xx, nothing stored.

Bodies are signed properly: these are what a compromised pipeline (or a stranger's branch name) could send.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.harness import (
    ARGOCD_TOKEN,
    GITLAB_TOKEN,
    T0,
    dumps,
    event,
    generic_headers,
    github_headers,
    snapshot,
)
from tests.intake.payloads import argocd_deployed, gitlab_deployment
from watchdog.engine.runtime import Runtime


async def post_generic(client: httpx.AsyncClient, body: bytes, *, msg_id: str = "msg_f") -> httpx.Response:
    return await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id=msg_id, at=T0))


REFUSED: list[tuple[str, Any, int, str]] = [
    ("newline in version", event(version="1.0\nX: y"), 422, "version: must be printable"),
    ("NUL in version", event(version="1.0\x00"), 422, "version: must be printable"),
    ("bidi override", event(artifact="reg/x@sha256:\u202eevil"), 422, "artifact: must be printable"),
    ("long version", event(version="1" * 201), 422, "version: at most 200"),
    ("long artifact", event(artifact="a" * 257), 422, "artifact: at most 256"),
    ("year 1", event(deployed_at="0001-01-01T00:00:00Z"), 422, "deployed_at: 0001-01-01"),
    ("year 9999", event(deployed_at="9999-12-31T23:59:59+14:00"), 422, "deployed_at: 9999-12-31"),
    ("two days ago", event(deployed_at="2026-10-30T12:00:00Z"), 422, "outside the accepted window"),
    ("an hour ahead", event(deployed_at="2026-11-01T13:00:00Z"), 422, "outside the accepted window"),
    ("no time zone", event(deployed_at="2026-11-01T12:00:00"), 422, "deployed_at: give a time zone"),
    ("NUL in a label", event(labels={"team": "a\x00b"}), 422, "labels.team: must be text"),
    ("too many labels", event(labels={f"k{i}": "v" for i in range(65)}), 422, "labels: at most 64"),
    ("javascript link", event(changelog_url="javascript:alert(1)"), 422, "changelog_url: expected an http"),
    ("service with a slash", event(service="../etc"), 422, "service: must match"),
]


@pytest.mark.parametrize(("case", "payload", "status", "words"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_generic_events_are_refused_by_field(
    client: httpx.AsyncClient, runtime: Runtime, case: str, payload: Any, status: int, words: str
) -> None:
    before = snapshot(runtime.store)
    resp = await post_generic(client, dumps(payload))
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"], resp.json()
    assert snapshot(runtime.store) == before


RAW: list[tuple[str, bytes, str]] = [
    (
        "5,000-digit integer",
        b'{"service": "checkout", "environment": "staging", "version": "1", "n": ' + b"9" * 5000 + b"}",
        "more than 19 digits",
    ),
    ("deep nesting", b'{"labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
    ("33 levels", b'{"x": ' + b"[" * 33 + b"]" * 33 + b"}", "nested deeper than 32"),
    ("Infinity", b'{"service": "checkout", "x": Infinity}', "Infinity is not a JSON number"),
    ("1e999", b'{"service": "checkout", "x": 1e999}', "out of range"),
    (
        "lone surrogate",
        b'{"service": "checkout", "environment": "staging", "version": "\\ud800"}',
        "version: input should be a valid string",
    ),
]


@pytest.mark.parametrize(("case", "body", "words"), RAW, ids=[r[0] for r in RAW])
async def test_hostile_json_is_a_4xx(
    client: httpx.AsyncClient, runtime: Runtime, case: str, body: bytes, words: str
) -> None:
    before = snapshot(runtime.store)
    resp = await post_generic(client, body)
    assert 400 <= resp.status_code < 500, resp.text
    assert words in resp.json()["detail"]
    assert snapshot(runtime.store) == before


async def test_a_plain_event_still_passes(client: httpx.AsyncClient) -> None:
    ok = event(
        version="2.4.1+build.7", deployed_at="2026-11-01T11:58:00Z", labels={"note": "tab\tand\nnewline ok"}
    )
    assert (await post_generic(client, dumps(ok))).status_code == 202


def _github(version: str) -> dict[str, Any]:
    from tests.api.test_webhooks import _success_status

    example = _success_status()
    example["deployment"]["payload"] = {"service": "checkout", "version": version}
    return example


def _post_other(source: str, body: bytes) -> tuple[str, dict[str, str]]:
    headers: dict[str, str] = {"content-type": "application/json"}
    if source == "gitlab":
        headers |= {
            "x-gitlab-event": "Deployment Hook",
            "x-gitlab-event-uuid": "u-1",
            "x-gitlab-token": GITLAB_TOKEN,
        }
    elif source == "argocd":
        headers |= {"x-watchdog-token": ARGOCD_TOKEN}
    else:
        headers = github_headers(body, delivery="gh-f")
    return f"/v1/webhooks/{source}", headers


OTHERS: list[tuple[str, bytes, str]] = [
    (
        "github",
        dumps(_github('1.0"} or vector(0) #\n')),
        "deployment.payload.version (or deployment.ref): must be printable",
    ),
    ("gitlab", dumps(gitlab_deployment(short_sha="ab\x00cd", deployable_url="x")), "must be printable"),
    ("argocd", dumps(argocd_deployed(revision="r\x1b[31m")), "must be printable"),
    ("argocd", dumps(argocd_deployed(deployer="alice\u2028bob")), "deployer: must be printable"),
    (
        "gitlab",
        json.dumps(gitlab_deployment())
        .replace('"deployable_id": 796', '"deployable_id": ' + "7" * 5000)
        .encode(),
        "more than 19 digits",
    ),
]


@pytest.mark.parametrize(
    ("source", "body", "words"), OTHERS, ids=[f"{o[0]}-{i}" for i, o in enumerate(OTHERS)]
)
async def test_every_webhook_kind_applies_the_same_rules(
    client: httpx.AsyncClient, runtime: Runtime, source: str, body: bytes, words: str
) -> None:
    before = snapshot(runtime.store)
    path, headers = _post_other(source, body)
    resp = await client.post(path, content=body, headers=headers)
    assert 400 <= resp.status_code < 500, resp.text
    assert words in resp.json()["detail"], resp.json()
    assert snapshot(runtime.store) == before


async def test_a_captured_github_delivery_replayed_under_new_ids_starts_one_verification(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = dumps(_github("2.4.1"))
    answers = []
    for delivery in ("gh-a", "gh-b", "gh-c"):
        resp = await client.post(
            "/v1/webhooks/github", content=body, headers=github_headers(body, delivery=delivery)
        )
        answers.append((resp.status_code, resp.json()))
    assert answers[0][0] == 202 and answers[1:] == [answers[0], answers[0]]
    rows, _cursor = runtime.store.list_deployments(service="checkout", environment="staging")
    assert len(rows) == 1


async def test_an_ignored_delivery_stores_its_reason_as_plain_text(client: httpx.AsyncClient) -> None:
    example = _github("2.4.1")
    example["deployment_status"]["state"] = "pend\x00ing\x1b[2J"
    body = dumps(example)
    resp = await client.post(
        "/v1/webhooks/github", content=body, headers=github_headers(body, delivery="gh-i")
    )
    assert resp.status_code == 200 and "pend?ing?[2J" in resp.json()["reason"]
