"""The JSON shape of GET /v1/deployments/{id} and its parts, and the redaction of the free text in them.

The views are filled from the store records by field name: these are the field names a client relies on.
"""

from __future__ import annotations

import httpx

from tests.api.harness import T0
from tests.api.test_reads import accept
from watchdog.engine.runtime import Runtime
from watchdog.store.records import SampleRow

DEPLOYMENT = {
    "id", "service", "environment", "version", "artifact", "previous_version", "previous_artifact",
    "deployed_at", "received_at", "deployer", "commit", "changelog_url", "rollback_safe", "is_rollback",
    "labels", "source", "rollback_of", "echo_of", "state", "verdict", "action", "decided_after_s",
    "failed_checks", "reasons", "verification", "samples", "transitions", "rollback", "rollbacks",
    "rollback_verifications", "incident", "previous_stable",
}  # fmt: skip
VERIFICATION = {
    "id", "kind", "state", "reason", "verdict", "action", "version", "artifact", "starts_at", "interval_s",
    "samples_total", "next_sample_at", "finished_at",
}  # fmt: skip
SAMPLE = {"check", "k", "t", "taken_at", "outcome", "reason", "observed", "warmup", "note"}
TRANSITION = {"verification_id", "from_state", "to_state", "reason", "at"}
ROLLBACK = {
    "id", "deployment_id", "trigger", "state", "reason", "target", "from_version", "from_artifact",
    "to_version", "to_artifact", "output", "attempts", "verification_id", "requested_at", "finished_at",
}  # fmt: skip
STABLE = {"version", "artifact", "status", "deployment_id", "since", "assumed"}
SUMMARY = {
    "id", "service", "environment", "version", "artifact", "state", "verdict", "deployed_at", "received_at",
    "deployer", "source", "is_rollback",
}  # fmt: skip


async def test_detail_fields_and_redacted_free_text(client: httpx.AsyncClient, runtime: Runtime) -> None:
    store = runtime.store
    dep_id = await accept(client, "v1", previous_version="2.4.0", previous_artifact="reg/c@sha256:old")
    v = store.deploy_verification(dep_id)
    owner, lease = "test-owner", 60.0
    (claimed,) = store.claim_due(owner=owner, now=T0, lease_s=lease, limit=1)
    sample = SampleRow(
        verification_id=v.id,
        check_name="errors",
        k=1,
        t=10.0,
        taken_at=T0,
        outcome="fail",
        reason="5xx rate 0.2 > 0.05 api_key=k-123456 seen",
        observed=0.2,
        warmup=False,
        measurement={"note": "token=t-abcdef said nothing"},
    )
    assert store.record_step(
        verification_id=v.id,
        owner=owner,
        epoch=claimed.lease_epoch,
        now=T0,
        samples=[sample],
        next_k=2,
        next_sample_at=None,
        transition=("failed", "errors failed password=p-7890 seen"),
        verdict="failed",
        failed_checks=["errors"],
    )
    rb = store.create_rollback(
        deployment_id=dep_id,
        service="checkout",
        environment="staging",
        trigger="auto",
        state="running",
        reason="errors failed secret=s-1111 seen",
        target="t",
        from_version="2.4.1",
        from_artifact="x",
        to_version="2.4.0",
        to_artifact="reg/c@sha256:old",
        now=T0,
    )
    store.update_rollback(rollback_id=rb.id, now=T0, output="Authorization: Bearer b-2222\ndone")

    d = (await client.get(f"/v1/deployments/{dep_id}")).json()
    assert set(d) == DEPLOYMENT
    assert set(d["verification"]) == VERIFICATION
    assert [set(s) for s in d["samples"]] == [SAMPLE]
    assert {frozenset(t) for t in d["transitions"]} == {frozenset(TRANSITION)}
    assert set(d["rollback"]) == ROLLBACK and d["rollbacks"] == [d["rollback"]]
    assert set(d["previous_stable"]) == STABLE and d["previous_stable"]["assumed"] is True
    assert (d["state"], d["verdict"], d["failed_checks"]) == ("failed", "failed", ["errors"])
    assert d["samples"][0]["check"] == "errors"
    text = str(d)
    for secret in ("k-123456", "t-abcdef", "p-7890", "s-1111", "b-2222"):
        assert secret not in text
    assert d["samples"][0]["reason"] == "5xx rate 0.2 > 0.05 api_key=*** seen"
    assert d["samples"][0]["note"] == "token=*** said nothing"
    assert d["verification"]["reason"] == "errors failed password=*** seen"
    assert d["transitions"][-1]["reason"] == "errors failed password=*** seen"
    assert d["rollback"]["reason"] == "errors failed secret=*** seen"
    assert d["rollback"]["output"] == "Authorization: Bearer ***\ndone"
    assert "errors: 5xx rate 0.2 > 0.05 api_key=*** seen" in d["reasons"]

    listed = (await client.get("/v1/deployments")).json()["items"]
    assert [set(x) for x in listed] == [SUMMARY] and listed[0]["state"] == "failed"
