"""GET /v1/deployments (filters, cursor), /v1/deployments/{id}, /v1/incidents, and the 404 shape.

State is made by accepting events through the API, then moving it with store calls as the engine would.
"""

from __future__ import annotations

import httpx

from tests.api.harness import T0, dumps, event, generic_headers
from watchdog.clock import FakeClock
from watchdog.engine.runtime import Runtime


async def accept(client: httpx.AsyncClient, msg_id: str, **fields: object) -> str:
    body = dumps(event(**fields))
    resp = await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id=msg_id, at=T0))
    assert resp.status_code == 202, resp.text
    return str(resp.json()["deployment_id"])


async def test_list_filters_and_pages_newest_first(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = []
    for i in range(5):
        ids.append(
            await accept(
                client, f"m{i}", version=f"1.0.{i}", environment="staging" if i % 2 else "production"
            )
        )
        assert isinstance(runtime.clock, FakeClock)
        runtime.clock.advance(1)
    page = (await client.get("/v1/deployments", params={"limit": 2})).json()
    assert [d["id"] for d in page["items"]] == ids[::-1][:2]
    seen = [d["id"] for d in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get("/v1/deployments", params={"limit": 2, "cursor": page["next_cursor"]})
        ).json()
        seen += [d["id"] for d in page["items"]]
    assert seen == ids[::-1]
    staging = (await client.get("/v1/deployments", params={"environment": "staging"})).json()["items"]
    assert {d["version"] for d in staging} == {"1.0.1", "1.0.3"}
    # Each newer deploy superseded the previous one in its environment.
    pending = (await client.get("/v1/deployments", params={"state": "pending"})).json()["items"]
    assert {d["version"] for d in pending} == {"1.0.3", "1.0.4"}
    assert (await client.get("/v1/deployments", params={"service": "nope"})).json()["items"] == []


async def test_bad_cursor_and_bad_state(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/deployments", params={"cursor": "%%%"})
    assert (resp.status_code, resp.json()["error"]) == (400, "bad_cursor")
    resp = await client.get("/v1/deployments", params={"state": "sleeping", "limit": 0})
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_request"
    assert "query.state" in resp.json()["detail"] and "query.limit" in resp.json()["detail"]


async def test_detail_has_the_whole_story(client: httpx.AsyncClient, runtime: Runtime) -> None:
    store = runtime.store
    store.mark_stable(
        service="checkout",
        environment="staging",
        version="2.4.0",
        artifact="reg/c@sha256:old",
        deployment_id=None,
        now=T0,
    )
    dep_id = await accept(client, "d1", labels={"team": "payments"}, deployer="ci", commit="9f1c")
    v = store.deploy_verification(dep_id)
    store.set_state(
        verification_id=v.id,
        to_state="failed",
        reason="errors failed 2 samples in a row",
        now=T0,
        verdict="failed",
        failed_checks=["errors"],
    )
    store.create_rollback(
        deployment_id=dep_id,
        service="checkout",
        environment="staging",
        trigger="auto",
        state="refused",
        reason="frozen: release freeze",
        target="t",
        from_version="2.4.1",
        from_artifact="x",
        to_version="2.4.0",
        to_artifact="reg/c@sha256:old",
        now=T0,
    )
    report = runtime.settings.resolved_reports_dir / "2026-11-01-checkout-staging-2.4.1.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("# checkout 2.4.1 failed\n\n| check | result |\n|---|---|\n| errors | fail |\n")
    incident = store.upsert_incident(
        deployment_id=dep_id,
        service="checkout",
        environment="staging",
        version="2.4.1",
        status="failed",
        title="checkout 2.4.1 in staging: failed",
        path=str(report),
        now=T0,
    )

    d = (await client.get(f"/v1/deployments/{dep_id}")).json()
    for key in (
        "id",
        "service",
        "environment",
        "version",
        "artifact",
        "state",
        "verdict",
        "reasons",
        "samples",
    ):
        assert key in d
    assert (d["state"], d["verdict"], d["deployer"], d["labels"]) == (
        "failed",
        "failed",
        "ci",
        {"team": "payments"},
    )
    assert "errors failed 2 samples in a row" in d["reasons"]
    assert [t["to_state"] for t in d["transitions"]] == ["pending", "failed"]
    assert d["rollback"]["state"] == "refused" and d["rollback"]["reason"] == "frozen: release freeze"
    assert len(d["rollbacks"]) == 1
    assert d["previous_stable"]["artifact"] == "reg/c@sha256:old"
    assert d["incident"]["id"] == incident.id

    listed = (await client.get("/v1/incidents", params={"service": "checkout"})).json()["items"]
    assert [i["id"] for i in listed] == [incident.id]
    assert (await client.get("/v1/incidents", params={"environment": "production"})).json()["items"] == []
    md = await client.get(f"/v1/incidents/{incident.id}")
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith("# checkout")
    html = await client.get(f"/v1/incidents/{incident.id}", headers={"accept": "text/html,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html") and "<table>" in html.text


async def test_not_found_shape(client: httpx.AsyncClient) -> None:
    for url in ("/v1/deployments/nope", "/v1/incidents/nope", "/v1/nothing-here"):
        resp = await client.get(url)
        assert resp.status_code == 404
        assert resp.json()["error"] == "not_found" and resp.json()["detail"]
