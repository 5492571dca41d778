"""GET /v1/gates/{service}/{environment}?artifact=: allowed (200) and each way to be refused (409).

One JSON shape either way; every check listed with its reason.
"""

from __future__ import annotations

import httpx

from tests.api.harness import T0
from tests.api.test_reads import accept
from watchdog.engine.runtime import Runtime

ART = "registry.example/checkout@sha256:aaa"


def checks(body: dict[str, object]) -> dict[str, bool]:
    return {c["name"]: c["ok"] for c in body["checks"]}  # type: ignore[attr-defined, index]


async def gate(client: httpx.AsyncClient, artifact: str = ART, env: str = "production") -> httpx.Response:
    return await client.get(f"/v1/gates/checkout/{env}", params={"artifact": artifact})


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
        "rollback_plan": False,
        "not_frozen": True,
        "not_bad": True,
    }

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
