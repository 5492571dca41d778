"""WATCHDOG_READ_TOKEN: with it set, API reads and the dashboard need it (or the admin token).

Probes, scrapes and the API description stay open; events keep their own signatures.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.harness import ADMIN_TOKEN, T0, dumps, event, generic_headers, read_locked
from watchdog.engine.runtime import Runtime

READ_TOKEN = "read-token-for-tests-0123"
READS = ["/", "/v1/deployments", "/v1/incidents", "/v1/gates/checkout/staging?artifact=a"]
OPEN = ["/healthz", "/metrics", "/openapi.json"]


@pytest.fixture
async def locked(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    async with read_locked(tmp_path, read_token=READ_TOKEN) as locked_client:
        yield locked_client


@pytest.mark.parametrize("path", READS)
async def test_reads_need_the_read_or_admin_token(
    locked: tuple[httpx.AsyncClient, Runtime], path: str
) -> None:
    client, _ = locked
    bare = await client.get(path)
    assert bare.status_code == 401 and bare.json()["error"] == "unauthorized"
    assert bare.headers["www-authenticate"].startswith("Basic")
    wrong = await client.get(path, headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and READ_TOKEN not in wrong.text
    for token in (READ_TOKEN, ADMIN_TOKEN):
        ok = await client.get(path, headers={"authorization": f"Bearer {token}"})
        assert ok.status_code in (200, 409), (path, ok.text)  # 409: the gate said no, as it may
    # A browser answers the Basic challenge with any user name and the token as the password.
    basic = base64.b64encode(f"sre:{READ_TOKEN}".encode()).decode()
    assert (await client.get(path, headers={"authorization": f"Basic {basic}"})).status_code in (200, 409)


@pytest.mark.parametrize("path", OPEN)
async def test_probes_and_scrapes_stay_open(locked: tuple[httpx.AsyncClient, Runtime], path: str) -> None:
    client, _ = locked
    assert (await client.get(path)).status_code == 200


async def test_events_are_still_authenticated_by_their_signature(
    locked: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _ = locked
    body = dumps(event())
    resp = await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id="m-r", at=T0))
    assert resp.status_code == 202
    detail = await client.get(
        f"/v1/deployments/{resp.json()['deployment_id']}", headers={"authorization": f"Bearer {READ_TOKEN}"}
    )
    assert detail.status_code == 200 and detail.json()["version"] == "2.4.1"


async def test_without_a_read_token_reads_stay_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/deployments")).status_code == 200
