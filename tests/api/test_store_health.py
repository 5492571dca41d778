"""A state store that cannot keep writes: /readyz says why (503) and every write answers 503 + Retry-After.

The SQLite file is deleted, made read-only or replaced under a running app; nothing is answered 202.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.api.harness import ADMIN_TOKEN, T0, dumps, event, generic_headers
from tests.api.test_reads import accept
from watchdog.engine.runtime import Runtime

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def db_file(runtime: Runtime) -> Path:
    return Path(runtime.settings.files.data_dir) / "watchdog.db"


async def post(client: httpx.AsyncClient, msg_id: str) -> httpx.Response:
    body = dumps(event(version="9.9.9"))
    return await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id=msg_id, at=T0))


async def assert_unavailable(client: httpx.AsyncClient, runtime: Runtime, words: str) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert any(words in r for r in ready.json()["reasons"]), ready.json()
    resp = await post(client, "after")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"] == "store_unavailable" and words in resp.json()["detail"]
    assert resp.headers["retry-after"] == "5"
    freeze = await client.put("/v1/freezes/checkout/staging", json={"reason": "x"}, headers=AUTH)
    assert (freeze.status_code, freeze.headers.get("retry-after")) == (503, "5")


async def test_deleted_sqlite_file(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first = await accept(client, "before")
    assert (await client.get("/readyz")).status_code == 200
    db_file(runtime).unlink()
    await assert_unavailable(client, runtime, "was deleted")
    # The open connection still reads the unlinked file: the refused event left no trace in it.
    items = (await client.get("/v1/deployments")).json()["items"]
    assert [d["id"] for d in items] == [first]


async def test_read_only_sqlite_file(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await accept(client, "before")
    path = db_file(runtime)
    path.chmod(0o444)
    try:
        await assert_unavailable(client, runtime, "is read-only")
        assert len((await client.get("/v1/deployments")).json()["items"]) == 1
    finally:
        path.chmod(0o644)
    # Writable again: the next probe (at most a second later, or the next tick) lets writes through.
    runtime.store.health.probe()
    assert (await client.get("/readyz")).status_code == 200
    assert (await post(client, "later")).status_code == 202


async def test_replaced_sqlite_file(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await accept(client, "before")
    path = db_file(runtime)
    os.replace(path, path.with_suffix(".old"))
    path.write_bytes(b"")  # an empty file under the same name: a new database, not ours
    await assert_unavailable(client, runtime, "was replaced")


def test_probe_finds_it_without_a_write(runtime: Runtime) -> None:
    assert runtime.store.health.probe() is None
    db_file(runtime).unlink()
    problem = runtime.store.health.probe()
    assert problem is not None and "deleted" in problem


async def test_unreachable_postgresql_answers_503_not_500(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from tests.conftest import free_port
    from watchdog.store import Store

    sqlite = runtime.store
    # Nothing listens on that loopback port: every connection is refused.
    runtime.store = Store(f"postgresql+psycopg://watchdog@127.0.0.1:{free_port()}/watchdog")
    try:
        resp = await post(client, "pg-down")
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "store_unavailable" and resp.headers["retry-after"] == "5"
        listing = await client.get("/v1/deployments")
        assert listing.status_code == 503
        ready = (await client.get("/readyz")).json()
        assert ready["ready"] is False and "does not answer" in ready["reasons"][0]
    finally:
        runtime.store.close()
        runtime.store = sqlite
