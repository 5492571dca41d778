"""/healthz, /readyz and /metrics.

/readyz fails with reasons when the store is gone; /metrics refreshes the verifications gauge at scrape.
"""

from __future__ import annotations

import httpx

from tests.api.test_reads import accept
from tests.conftest import free_port
from watchdog.engine.runtime import Runtime
from watchdog.store import Store


async def test_healthz(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.json() == {"status": "ok"}


async def test_readyz(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await client.get("/readyz")).json() == {"ready": True, "reasons": [], "degraded_sources": []}
    # A database server that refuses connections: nothing listens on that loopback port.
    runtime.store = Store(f"postgresql+psycopg://watchdog@127.0.0.1:{free_port()}/watchdog")
    resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["ready"] is False
    assert resp.json()["reasons"] == ["the state store does not answer (OperationalError)"]
    assert resp.json()["degraded_sources"] == []
    assert (await client.get("/healthz")).status_code == 200


async def test_metrics_exposition(client: httpx.AsyncClient) -> None:
    await accept(client, "m1")
    resp = await client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert 'watchdog_verifications{state="pending"} 1.0' in resp.text
    assert 'watchdog_verifications{state="passed"} 0.0' in resp.text
    assert 'watchdog_events_total{outcome="accepted",source="generic"} 1.0' in resp.text
