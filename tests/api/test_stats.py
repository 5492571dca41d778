"""The ledger on a seeded history: GET /v1/stats figures, the /metrics gauges, and the rollback review.

Every number is worked out by hand from the seed below, so a wrong count or percentile shows at once.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.api.harness import ADMIN_TOKEN, T0
from tests.fakes.history import seed
from watchdog.engine.runtime import Runtime

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _history(runtime: Runtime) -> dict[str, str]:
    s = runtime.store
    day = timedelta(days=1)
    ids = {}
    # checkout/production in the last 30 days: 6 deploys, 3 bad, 2 rolled back (60 s and 300 s), 1 failed
    ids["p1"] = seed(
        s, service="checkout", environment="production", version="1.1", at=T0 - 20 * day, outcome="passed"
    )
    ids["p2"] = seed(
        s, service="checkout", environment="production", version="1.2", at=T0 - 15 * day, outcome="passed"
    )
    ids["r1"] = seed(
        s,
        service="checkout",
        environment="production",
        version="1.3",
        at=T0 - 10 * day,
        outcome="rolled_back",
        recovery_s=60,
    )
    ids["r2"] = seed(
        s,
        service="checkout",
        environment="production",
        version="1.4",
        at=T0 - 5 * day,
        outcome="rolled_back",
        recovery_s=300,
    )
    ids["f1"] = seed(
        s,
        service="checkout",
        environment="production",
        version="1.5",
        at=T0 - 2 * day,
        outcome="rollback_failed",
    )
    ids["i1"] = seed(
        s,
        service="checkout",
        environment="production",
        version="1.6",
        at=T0 - 1 * day,
        outcome="inconclusive",
    )
    # older than 30 days: outside the window
    seed(
        s,
        service="checkout",
        environment="production",
        version="0.9",
        at=T0 - 40 * day,
        outcome="rolled_back",
    )
    # another pair: one refused automatic rollback, one passed
    ids["x1"] = seed(
        s, service="search", environment="staging", version="3.0", at=T0 - 3 * day, outcome="refused"
    )
    seed(s, service="search", environment="staging", version="3.1", at=T0 - 2 * day, outcome="passed")
    return ids


async def test_stats_counts_the_seeded_history(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = _history(runtime)
    r = await client.put(
        f"/v1/deployments/{ids['r2']}/rollback-review",
        json={"unneeded": True, "reason": "the spike was a load test"},
        headers=ADMIN,
    )
    assert r.status_code == 200, r.text
    assert r.json()["unneeded"] is True and r.json()["reviewed_by"] == "admin-api"

    body = (await client.get("/v1/stats", params={"since": "30d"})).json()
    rows = {(i["service"], i["environment"]): i for i in body["items"]}
    prod = rows[("checkout", "production")]
    assert prod["deploys"] == 6
    assert prod["decided"] == 6
    assert prod["failed"] == 3
    assert prod["inconclusive"] == 1
    assert prod["change_failure_rate"] == 0.5
    assert prod["automatic_rollbacks"] == 3  # two verified, one failed
    assert prod["rollbacks_failed"] == 1
    assert prod["rollbacks_unneeded"] == 1
    assert abs(prod["false_rollback_rate"] - 1 / 3) < 1e-9
    # recoveries of 60 s and 300 s: median 180 s, p90 = 60 + 0.9 x 240 = 276 s
    assert prod["recoveries"] == 2
    assert prod["recovery_p50_s"] == 180.0
    assert abs(prod["recovery_p90_s"] - 276.0) < 1e-9
    search = rows[("search", "staging")]
    assert search["deploys"] == 2 and search["failed"] == 1 and search["refused_rollbacks"] == 1
    assert search["automatic_rollbacks"] == 0 and search["false_rollback_rate"] is None

    week = (await client.get("/v1/stats", params={"since": "7d", "service": "checkout"})).json()
    assert [i["deploys"] for i in week["items"]] == [3]  # 1.4, 1.5, 1.6

    metrics = (await client.get("/metrics")).text
    labels = 'environment="production",service="checkout",window="30d"'
    assert f"watchdog_ledger_deploys{{{labels}}} 6.0" in metrics
    assert f"watchdog_ledger_change_failure_rate{{{labels}}} 0.5" in metrics
    assert f"watchdog_ledger_recovery_p50_seconds{{{labels}}} 180.0" in metrics
    assert f"watchdog_ledger_rollbacks_unneeded{{{labels}}} 1.0" in metrics


async def test_review_needs_the_token_and_a_rollback(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = _history(runtime)
    url = f"/v1/deployments/{ids['r1']}/rollback-review"
    assert (await client.put(url, json={"unneeded": True})).status_code == 401
    assert (await client.put(url, json={}, headers={"Authorization": "Bearer nope"})).status_code == 403
    passed = await client.put(f"/v1/deployments/{ids['p1']}/rollback-review", json={}, headers=ADMIN)
    assert passed.status_code == 409 and passed.json()["error"] == "not_rolled_back"
    refused = await client.put(f"/v1/deployments/{ids['x1']}/rollback-review", json={}, headers=ADMIN)
    assert refused.status_code == 409
    missing = await client.put("/v1/deployments/nope/rollback-review", json={}, headers=ADMIN)
    assert missing.status_code == 404
    assert runtime.store.rollback_review(ids["p1"]) is None


async def test_since_is_validated(client: httpx.AsyncClient) -> None:
    for bad in ("30 days", "0s", "9999d", "-1d"):
        r = await client.get("/v1/stats", params={"since": bad})
        assert r.status_code == 422, bad
        assert "since" in r.json()["detail"]
