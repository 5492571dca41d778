"""The echo of a rollback as the API shows it: each webhook shape that reports the restored artifact again
is accepted as a rollback (`is_rollback`), with `echo_of` naming the rollback and `rollback_of` the deploy.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.harness import T0, dumps, generic_headers, github_headers
from tests.api.test_reads import accept
from tests.api.test_webhooks import argocd_headers, gitlab_headers
from tests.fakes.octokit import examples
from tests.intake.payloads import SHA, argocd_deployed, gitlab_deployment
from watchdog.engine.runtime import Runtime


def shapes(restored: str) -> dict[str, tuple[str, Any, dict[str, str] | None]]:
    """source -> (route, body, headers or None for the generic signature) reporting `restored` live."""
    status = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
    status["deployment"]["payload"] = {"service": "checkout", "version": "2.4.0", "artifact": restored}
    status["deployment_status"]["environment"] = "staging"
    return {
        "generic": (
            "/v1/events",
            {"service": "checkout", "environment": "staging", "version": "2.4.0", "artifact": restored},
            None,
        ),
        "github": ("/v1/webhooks/github", status, {}),
        "argocd": ("/v1/webhooks/argocd", argocd_deployed(images=[restored], version="2.4.0"), {}),
        "gitlab": ("/v1/webhooks/gitlab", gitlab_deployment(), {}),
    }


@pytest.mark.parametrize("source", ["generic", "github", "argocd", "gitlab"])
async def test_echo_is_shown_in_the_deployment_view(
    client: httpx.AsyncClient, runtime: Runtime, source: str
) -> None:
    # GitLab reports a commit (its full SHA is the artifact); the others an image reference.
    restored = SHA if source == "gitlab" else "registry.example/checkout@sha256:old"
    failed = await accept(client, "m-bad", version="2.4.1")
    rb = runtime.store.create_rollback(
        deployment_id=failed,
        service="checkout",
        environment="staging",
        trigger="auto",
        state="verifying",
        reason="errors",
        target="t",
        from_version="2.4.1",
        from_artifact="registry.example/checkout@sha256:aaa",
        to_version="2.4.0",
        to_artifact=restored,
        now=T0,
    )
    route, body, headers = shapes(restored)[source]
    raw = dumps(body)
    if headers is None:
        headers = generic_headers(raw, msg_id="m-echo", at=T0)
    else:
        headers = {
            "github": github_headers(raw, delivery="g-echo"),
            "argocd": argocd_headers(raw),
            "gitlab": gitlab_headers(raw),
        }[source]
    resp = await client.post(route, content=raw, headers=headers)
    assert resp.status_code == 202, resp.text
    d = (await client.get(f"/v1/deployments/{resp.json()['deployment_id']}")).json()
    assert (d["echo_of"], d["rollback_of"], d["is_rollback"]) == (rb.id, failed, True)
    assert "the echo of rollback" in d["transitions"][0]["reason"]


async def test_an_ordinary_deploy_is_no_echo(client: httpx.AsyncClient, runtime: Runtime) -> None:
    dep = await accept(client, "m1")
    d = (await client.get(f"/v1/deployments/{dep}")).json()
    assert (d["echo_of"], d["is_rollback"]) == (None, False)
