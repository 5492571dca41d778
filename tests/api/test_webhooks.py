"""The GitHub, GitLab and Argo CD routes through the ASGI app, with @octokit/webhooks-examples payloads.

Refused requests must leave every table as it was; ignored ones are acknowledged and answered again alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.harness import ARGOCD_TOKEN, GITLAB_TOKEN, dumps, github_headers, snapshot
from tests.fakes.octokit import examples
from tests.intake.payloads import argocd_deployed, gitlab_deployment
from watchdog.engine.runtime import Runtime


def gitlab_headers(body: bytes, *, delivery: str = "uuid-1", token: str = GITLAB_TOKEN) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-gitlab-event": "Deployment Hook",
        "x-gitlab-event-uuid": delivery,
        "x-gitlab-token": token,
    }


def argocd_headers(body: bytes, *, token: str = ARGOCD_TOKEN) -> dict[str, str]:
    return {"content-type": "application/json", "x-watchdog-token": token}


def _success_status() -> dict[str, Any]:
    example = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
    example["deployment"]["payload"] = {"service": "checkout", "version": "2.4.1"}
    example["deployment_status"]["environment"] = "staging"
    return example


Headers = Callable[[bytes], dict[str, str]]
ROUTES: list[tuple[str, Callable[[], object], Headers, Headers]] = [
    (
        "github",
        _success_status,
        lambda b: github_headers(b, delivery="g-1"),
        lambda b: {**github_headers(b, delivery="g-1"), "x-hub-signature-256": "sha256=" + "0" * 64},
    ),
    ("gitlab", gitlab_deployment, gitlab_headers, lambda b: gitlab_headers(b, token="wrong")),
    ("argocd", argocd_deployed, argocd_headers, lambda b: argocd_headers(b, token="wrong")),
]


@pytest.mark.parametrize(("source", "payload", "good", "bad"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_webhook_route(
    client: httpx.AsyncClient,
    runtime: Runtime,
    source: str,
    payload: Callable[[], object],
    good: Headers,
    bad: Headers,
) -> None:
    url = f"/v1/webhooks/{source}"
    body = dumps(payload())
    before = snapshot(runtime.store)

    refused = [
        (await client.post(url, content=body, headers=bad(body)), 401, "bad_signature"),
        (await client.post(url, content=b"{nope", headers=good(b"{nope")), 400, "malformed_json"),
        (
            await client.post(
                url, content=body, headers={**good(body), "content-type": "application/x-www-form-urlencoded"}
            ),
            415,
            "unsupported_media_type",
        ),
    ]
    big = b" " * (runtime.settings.intake.max_body_bytes + 1) + body
    refused.append((await client.post(url, content=big, headers=good(big)), 413, "payload_too_large"))
    for resp, status, code in refused:
        assert (resp.status_code, resp.json()["error"]) == (status, code), resp.text
    assert snapshot(runtime.store) == before

    first = await client.post(url, content=body, headers=good(body))
    assert first.status_code == 202, first.text
    d = runtime.store.get_deployment(first.json()["deployment_id"])
    assert (d.service, d.environment, d.source) == ("checkout", "staging", source)

    after = snapshot(runtime.store)
    replay = await client.post(url, content=body, headers=good(body))
    assert (replay.status_code, replay.json()) == (202, first.json())
    assert snapshot(runtime.store) == after


async def test_ignored_delivery_is_acknowledged_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = dumps(gitlab_deployment(status="running"))
    first = await client.post(
        "/v1/webhooks/gitlab", content=body, headers=gitlab_headers(body, delivery="run-1")
    )
    assert first.status_code == 200
    assert first.json() == {
        "status": "ignored",
        "reason": "status is running: only success starts a verification",
    }
    after = snapshot(runtime.store)
    assert after["deliveries"] and not after["deployments"]
    again = await client.post(
        "/v1/webhooks/gitlab", content=body, headers=gitlab_headers(body, delivery="run-1")
    )
    assert (again.status_code, again.json()) == (200, first.json())
    assert snapshot(runtime.store) == after


async def test_github_ping(client: httpx.AsyncClient) -> None:
    body = dumps({"zen": "Keep it logically awesome.", "hook_id": 1})
    resp = await client.post(
        "/v1/webhooks/github", content=body, headers=github_headers(body, delivery="p", kind="ping")
    )
    assert resp.status_code == 200 and resp.json()["status"] == "ignored"


@pytest.mark.parametrize("event", ["deployment_status", "deployment"])
async def test_octokit_examples_are_accepted_or_ignored_as_documented(
    client: httpx.AsyncClient, runtime: Runtime, event: str
) -> None:
    """Unmodified payloads: success statuses start a verification of hello-world, the rest are ignored."""
    for i, example in enumerate(examples(event)):
        body = dumps(example)
        resp = await client.post(
            "/v1/webhooks/github",
            content=body,
            headers=github_headers(body, delivery=f"{event}-{i}", kind=event),
        )
        assert resp.status_code < 500, resp.text
        success = event == "deployment_status" and example["deployment_status"]["state"] == "success"
        if success:
            assert resp.status_code == 202, resp.text
            d = runtime.store.get_deployment(resp.json()["deployment_id"])
            assert (d.service, d.environment, d.commit) == (
                "hello-world",
                "production",
                example["deployment"]["sha"],
            )
        else:
            assert resp.status_code == 200 and resp.json()["status"] == "ignored", resp.text


async def test_gitlab_service_override_and_unknown_environment(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = dumps(gitlab_deployment(environment="review/feature-x"))
    resp = await client.post("/v1/webhooks/gitlab", content=body, headers=gitlab_headers(body, delivery="r"))
    assert resp.status_code == 422 and resp.json()["error"] == "invalid_event"
    body = dumps(gitlab_deployment(project={"path_with_namespace": "acme/shop"}))
    resp = await client.post("/v1/webhooks/gitlab", content=body, headers=gitlab_headers(body, delivery="s"))
    assert resp.json()["error"] == "unknown_service"
    resp = await client.post(
        "/v1/webhooks/gitlab?service=checkout", content=body, headers=gitlab_headers(body, delivery="s")
    )
    assert resp.status_code == 202
