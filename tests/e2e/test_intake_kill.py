"""Group commit is durable: a daemon SIGKILLed mid-burst has stored every event it answered 202.

Twenty concurrent clients post signed events; the daemon is killed while they are in flight. Every 202'd
deployment is in the store afterwards, and no delivery (nor a retry of it after restart) is stored twice.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.daemon import SECRET, Daemon

pytestmark = pytest.mark.slow

CLIENTS, PER_CLIENT = 20, 40
POLICY = "service: checkout\ndefaults:\n  on_failure: alert\nenvironments:\n  staging: {}\n"


def _config(root: Path) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text("{}\n")
    (config / "services" / "checkout.yaml").write_text(POLICY)
    return config


def _signed(n: int) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(
        {"service": "checkout", "environment": "staging", "version": f"1.0.{n}", "artifact": f"a@{n}"}
    )
    msg_id, now = f"msg_{uuid.uuid4().hex}", time.time()
    signature = Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(now, UTC), body)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature,
    }
    return msg_id, body.encode(), headers


async def _burst(url: str, answered: dict[str, str], sent: dict[str, tuple[bytes, dict[str, str]]]) -> None:
    async def client(c: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for i in range(PER_CLIENT):
                msg_id, body, headers = _signed(c * PER_CLIENT + i)
                sent[msg_id] = (body, headers)
                try:
                    r = await http.post("/v1/events", content=body, headers=headers)
                except httpx.HTTPError:
                    return  # the daemon is gone: this one may or may not be stored
                if r.status_code == 202:
                    answered[msg_id] = str(r.json()["deployment_id"])

    await asyncio.gather(*(client(c) for c in range(CLIENTS)))


def _stored(db: Path) -> tuple[set[str], dict[str, int]]:
    with sqlite3.connect(db) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM deployments")}
        per_delivery = dict(
            conn.execute("SELECT delivery_id, count(*) FROM deliveries GROUP BY delivery_id").fetchall()
        )
    return ids, per_delivery


def test_sigkill_mid_burst_keeps_every_202(tmp_path: Path) -> None:
    daemon = Daemon(config=_config(tmp_path), data=tmp_path / "data").start()
    answered: dict[str, str] = {}
    sent: dict[str, tuple[bytes, dict[str, str]]] = {}

    def kill_once_some_answered() -> None:
        deadline = time.monotonic() + 60
        while len(answered) < 100 and time.monotonic() < deadline:
            time.sleep(0.005)
        daemon.kill()

    killer = threading.Thread(target=kill_once_some_answered)
    killer.start()
    try:
        asyncio.run(_burst(daemon.url, answered, sent))
    finally:
        killer.join()
    assert 100 <= len(answered) < CLIENTS * PER_CLIENT, "the kill should land mid-burst"

    ids, per_delivery = _stored(daemon.data / "watchdog.db")
    lost = {m: d for m, d in answered.items() if d not in ids}
    assert lost == {}, f"{len(lost)} events answered 202 are not stored"
    assert all(n == 1 for n in per_delivery.values())
    assert len(ids) == len(per_delivery), "one deployment per delivery"

    # The senders retry every event after the restart: the answered ones answer their first answer,
    # the others are stored now, and still nothing is stored twice.
    daemon.start()
    try:
        for msg_id, (body, headers) in sent.items():
            r = httpx.post(f"{daemon.url}/v1/events", content=body, headers=headers, timeout=10)
            assert r.status_code == 202, r.text
            if msg_id in answered:
                assert r.json()["deployment_id"] == answered[msg_id]
    finally:
        daemon.stop()
    ids, per_delivery = _stored(daemon.data / "watchdog.db")
    assert len(per_delivery) == len(sent) == len(ids)
    assert set(per_delivery) == set(sent)
