"""GET /v1/gates/{service}/{environment}?artifact=: allowed (200) and each way to be refused (409).

One JSON shape either way; every checklist item listed with its status and reason. The item-by-item
table is tests/engine/test_gate.py; here the HTTP side: query parameters, status codes, the shape.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.harness import GITLAB_TOKEN, T0, dumps, snapshot
from tests.api.test_reads import accept
from tests.intake.payloads import SHA
from tests.intake.test_ci_facts import gitlab_pipeline
from watchdog.engine.runtime import Runtime

ART = "registry.example/checkout@sha256:aaa"


def checks(body: dict[str, Any]) -> dict[str, bool]:
    """The gate answer's checks (a JSON body): name -> ok."""
    return {c["name"]: c["ok"] for c in body["checks"]}


async def gate(
    client: httpx.AsyncClient, artifact: str = ART, env: str = "production", **facts: str
) -> httpx.Response:
    params = {"artifact": artifact, "ci_status": "success", **facts}
    return await client.get(f"/v1/gates/checkout/{env}", params=params)


async def test_gate_allows_only_the_exact_verified_artifact(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    store = runtime.store
    refused = await gate(client)
    assert refused.status_code == 409
    body = refused.json()
    assert (body["allowed"], body["service"], body["environment"], body["artifact"]) == (
        False,
        "checkout",
        "production",
        ART,
    )
    assert checks(body) == {
        "policy": True,
        "verified": False,
        "tests": True,
        "lint": True,
        "changelog": True,
        "migration": True,
        "rollback_plan": False,
        "not_frozen": True,
        "not_bad": True,
    }
    assert body["first_deploy"] is True
    statuses = {c["name"]: (c["status"], c["required"]) for c in body["checks"]}
    assert statuses["lint"] == ("not_required", False) and statuses["tests"] == ("pass", True)

    dep_id = await accept(client, "m1", artifact=ART)  # staging
    v = store.deploy_verification(dep_id)
    store.set_state(verification_id=v.id, to_state="passed", reason="window over", now=T0, verdict="passed")
    store.mark_stable(
        service="checkout",
        environment="production",
        version="2.4.0",
        artifact="reg/c@sha256:old",
        deployment_id=None,
        now=T0,
    )
    allowed = await gate(client)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allowed"] is True and all(checks(allowed.json()).values())
    # The same tag rebuilt is another artifact: refused.
    other = await gate(client, artifact="registry.example/checkout@sha256:bbb")
    assert other.status_code == 409 and checks(other.json())["verified"] is False

    store.set_freeze(
        service="checkout",
        environment="production",
        reason="release freeze",
        created_by="x",
        expires_at=None,
        now=T0,
    )
    frozen = await gate(client)
    assert frozen.status_code == 409
    reason = next(c["reason"] for c in frozen.json()["checks"] if c["name"] == "not_frozen")
    assert "release freeze" in reason
    store.delete_freeze(service="checkout", environment="production")

    store.mark_bad(
        service="checkout",
        environment="production",
        version="2.4.1",
        artifact=ART,
        deployment_id=None,
        now=T0,
        reason="5xx",
    )
    bad = await gate(client)
    assert bad.status_code == 409 and checks(bad.json())["not_bad"] is False


async def test_gate_without_a_policy_and_without_artifact(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/gates/billing/production", params={"artifact": ART})
    assert resp.status_code == 409 and checks(resp.json()) == {"policy": False}
    bad = await client.get("/v1/gates/checkout/staging", params={"artifact": ART, "ci_status": "green"})
    assert bad.status_code == 422 and "query.ci_status" in bad.json()["detail"]
    missing = await client.get("/v1/gates/checkout/production")
    assert (missing.status_code, missing.json()["detail"]) == (422, "query.artifact: field required")


async def test_staging_gate_needs_no_earlier_environment(client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.store.mark_stable(
        service="checkout",
        environment="staging",
        version="2.4.0",
        artifact="reg/c@sha256:old",
        deployment_id=None,
        now=T0,
    )
    resp = await gate(client, env="staging")
    assert resp.status_code == 200 and resp.json()["allowed"] is True


async def test_ci_facts_travel_as_query_parameters_or_on_the_event(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # A first deploy of checkout to staging: no stable artifact, so a rollback plan must stand in.
    params = {"artifact": ART}
    refused = await client.get("/v1/gates/checkout/staging", params=params)
    assert refused.status_code == 409
    reasons = {c["name"]: c["reason"] for c in refused.json()["checks"] if not c["ok"]}
    assert set(reasons) == {"tests", "rollback_plan"}
    assert "no ci_status known" in reasons["tests"] and "rollback plan" in reasons["rollback_plan"]

    query = {**params, "ci_status": "success", "rollback_plan": "https://runbook", "migration": "true"}
    untested = await client.get("/v1/gates/checkout/staging", params=query)
    assert untested.status_code == 409 and checks(untested.json())["migration"] is False
    tested = await client.get("/v1/gates/checkout/staging", params={**query, "migration_tested": "true"})
    assert tested.status_code == 200, tested.text

    # The same facts on an earlier event of the same artifact answer the gate without parameters.
    await accept(client, "m-ci", artifact=ART, ci_status="success", rollback_plan="helm uninstall checkout")
    from_event = await client.get("/v1/gates/checkout/production", params=params)
    body = from_event.json()
    assert checks(body)["tests"] is True and checks(body)["verified"] is False
    tests_reason = next(c["reason"] for c in body["checks"] if c["name"] == "tests")
    assert "from the event of deployment" in tests_reason and "in staging" in tests_reason


async def test_a_gitlab_pipeline_answers_the_tests_item(client: httpx.AsyncClient, runtime: Runtime) -> None:
    def headers(delivery: str) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-gitlab-event": "Pipeline Hook",
            "x-gitlab-event-uuid": delivery,
            "x-gitlab-token": GITLAB_TOKEN,
        }

    runtime.store.mark_stable(
        service="checkout", environment="staging", version="1", artifact="old", deployment_id=None, now=T0
    )
    # GitLab's deployment hook makes the full SHA the artifact; its pipeline hook reports that SHA.
    params = {"artifact": SHA}
    before = await client.get("/v1/gates/checkout/staging", params=params)
    assert before.status_code == 409 and checks(before.json())["tests"] is False

    failed = dumps(gitlab_pipeline("failed"))
    resp = await client.post("/v1/webhooks/gitlab", content=failed, headers=headers("p-1"))
    assert resp.status_code == 200 and "recorded for the gate" in resp.json()["reason"]
    red = await client.get("/v1/gates/checkout/staging", params=params)
    reason = next(c["reason"] for c in red.json()["checks"] if c["name"] == "tests")
    assert "ci_status is failure (from the gitlab pipeline http" in reason and "/pipelines/31" in reason

    # The retried pipeline passes; a redelivery of the same hook changes nothing.
    passed = dumps(gitlab_pipeline("success"))
    assert (
        await client.post("/v1/webhooks/gitlab", content=passed, headers=headers("p-2"))
    ).status_code == 200
    rows = snapshot(runtime.store)
    again = await client.post("/v1/webhooks/gitlab", content=passed, headers=headers("p-2"))
    assert again.status_code == 200 and snapshot(runtime.store) == rows
    assert len(rows["ci_runs"]) == 2
    green = await client.get("/v1/gates/checkout/staging", params=params)
    assert green.status_code == 200, green.text
    # A deploy of an image built from that commit finds the pipeline through the event's commit.
    image = "registry.example/checkout@sha256:ccc"
    await accept(client, "m-img", artifact=image, commit=SHA)
    by_commit = await client.get("/v1/gates/checkout/staging", params={"artifact": image})
    assert checks(by_commit.json())["tests"] is True


async def test_a_rollback_plan_is_shown_without_credentials(client: httpx.AsyncClient) -> None:
    plan = "https://runbooks.example/checkout?token=hunter2-runbook"
    resp = await client.get(
        "/v1/gates/checkout/staging", params={"artifact": ART, "ci_status": "success", "rollback_plan": plan}
    )
    assert resp.status_code == 200
    reason = next(c["reason"] for c in resp.json()["checks"] if c["name"] == "rollback_plan")
    assert "https://runbooks.example/checkout?token=***" in reason and "hunter2" not in resp.text
