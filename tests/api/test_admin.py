"""The admin API: bearer auth (401/403/disabled), freezes, and rollback/promote through the engine.

Auth and freezes use RecordingEngine; rollback and promote run the lead's real Engine (real_client).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.harness import ADMIN_TOKEN, T0, make_runtime, snapshot
from tests.api.test_reads import accept
from watchdog.api.app import create_app
from watchdog.engine.runtime import Runtime

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
ADMIN_CALLS = [
    ("POST", "/v1/deployments/x/rollback", {"reason": "r"}),
    ("POST", "/v1/deployments/x/promote", None),
    ("PUT", "/v1/freezes/checkout/staging", {"reason": "r"}),
    ("DELETE", "/v1/freezes/checkout/staging", None),
    ("GET", "/v1/freezes", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_CALLS)
async def test_admin_auth(
    client: httpx.AsyncClient, runtime: Runtime, method: str, url: str, body: object
) -> None:
    before = snapshot(runtime.store)
    missing = await client.request(method, url, json=body)
    assert (missing.status_code, missing.json()["error"]) == (401, "unauthorized")
    wrong = await client.request(method, url, json=body, headers={"authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")
    basic = await client.request(method, url, json=body, headers={"authorization": "Basic YTpi"})
    assert basic.status_code == 401
    assert snapshot(runtime.store) == before


async def test_admin_disabled_without_a_token(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, admin_token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://t") as c:
        resp = await c.get("/v1/freezes", headers=AUTH)
    assert resp.status_code == 403
    assert resp.json() == {"error": "forbidden", "detail": "admin API disabled: set WATCHDOG_ADMIN_TOKEN"}
    rt.store.close()


async def test_freezes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    put = await client.put(
        "/v1/freezes/checkout/production",
        json={"reason": "black friday", "expires_at": "2026-11-30T00:00:00Z"},
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    assert put.json()["reason"] == "black friday" and put.json()["created_by"] == "admin-api"
    listed = (await client.get("/v1/freezes", headers=AUTH)).json()["items"]
    assert [(f["service"], f["environment"]) for f in listed] == [("checkout", "production")]
    assert runtime.store.active_freeze(service="checkout", environment="production", now=T0) is not None

    unknown = await client.put("/v1/freezes/checkout/qa", json={"reason": "x"}, headers=AUTH)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_environment")
    past = await client.put(
        "/v1/freezes/checkout/staging",
        json={"reason": "x", "expires_at": "2020-01-01T00:00:00Z"},
        headers=AUTH,
    )
    assert past.status_code == 422
    no_reason = await client.put("/v1/freezes/checkout/staging", json={}, headers=AUTH)
    assert (no_reason.status_code, no_reason.json()["detail"]) == (422, "body.reason: field required")

    assert (await client.delete("/v1/freezes/checkout/production", headers=AUTH)).status_code == 204
    again = await client.delete("/v1/freezes/checkout/production", headers=AUTH)
    assert (again.status_code, again.json()["error"]) == (404, "not_found")


async def test_engine_refusal_is_a_409_with_its_reason(client: httpx.AsyncClient, runtime: Runtime) -> None:
    dep_id = await accept(client, "m1")
    resp = await client.post(f"/v1/deployments/{dep_id}/rollback", json={"reason": "bad"}, headers=AUTH)
    assert (resp.status_code, resp.json()["error"]) == (409, "rollback_refused")


async def test_real_rollback_refused_without_a_stable_artifact(
    real_client: httpx.AsyncClient, real_runtime: Runtime
) -> None:
    dep_id = await accept(real_client, "m1")
    resp = await real_client.post(f"/v1/deployments/{dep_id}/rollback", json={"reason": "bad"}, headers=AUTH)
    assert (resp.status_code, resp.json()["error"]) == (409, "rollback_refused")
    detail = (await real_client.get(f"/v1/deployments/{dep_id}")).json()
    assert detail["rollbacks"] and detail["rollbacks"][0]["state"] == "refused"


async def test_real_rollback_to_the_previous_stable(
    real_client: httpx.AsyncClient, real_runtime: Runtime
) -> None:
    real_runtime.store.mark_stable(
        service="checkout",
        environment="staging",
        version="2.4.0",
        artifact="reg/c@sha256:old",
        deployment_id=None,
        now=T0,
    )
    dep_id = await accept(real_client, "m1")
    resp = await real_client.post(f"/v1/deployments/{dep_id}/rollback", json={"reason": "bad"}, headers=AUTH)
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["kind"], answer["state"], answer["handled_by"]) == ("rollback", "done", "api-test")
    assert answer["rollback"]["to_artifact"] == "reg/c@sha256:old"
    assert answer["rollback"]["trigger"] == "manual"
    assert resp.headers["location"] == answer["url"] == f"/v1/requests/{answer['id']}"
    followed = await real_client.get(answer["url"], headers=AUTH)
    assert followed.json()["rollback"]["id"] == answer["rollback"]["id"]
    assert (await real_client.get(answer["url"])).status_code == 401
    missing = await real_client.post("/v1/deployments/nope/rollback", headers=AUTH)
    assert missing.status_code == 404


async def test_real_promote(real_client: httpx.AsyncClient, real_runtime: Runtime) -> None:
    dep_id = await accept(real_client, "m1")
    resp = await real_client.post(f"/v1/deployments/{dep_id}/promote", headers=AUTH)
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["deployment_id"], answer["state"]) == (dep_id, "done")
    assert answer["deployment_state"] == "promoted"
    assert real_runtime.store.passed_in(service="checkout", environment="staging", artifact=event_artifact())
    again = await real_client.post(f"/v1/deployments/{dep_id}/promote", headers=AUTH)
    assert again.status_code == 409


def event_artifact() -> str:
    from tests.api.harness import event

    return str(event()["artifact"])
