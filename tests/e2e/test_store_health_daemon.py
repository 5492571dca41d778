"""A running daemon whose SQLite file is deleted or made read-only: /readyz turns 503 and events answer 503.

Real process, real HTTP. Nothing is answered 202 that the file cannot keep.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.daemon import SECRET, Daemon
from tests.e2e.test_resume import write_config
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow


def post_event(daemon: Daemon, version: str) -> httpx.Response:
    body = json.dumps({"service": "shop", "environment": "production", "version": version})
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = time.time()
    signature = Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(now, UTC), body)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature,
    }
    return httpx.post(f"{daemon.url}/v1/events", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize("damage", ["delete", "read-only"])
def test_a_damaged_sqlite_file_turns_readiness_and_writes_to_503(tmp_path: Path, damage: str) -> None:
    with DemoApp(port=0, version="1.0.0", rps=50, seed=3).start() as app:
        daemon = Daemon(config=write_config(tmp_path, app), data=tmp_path / "data").start()
        db = tmp_path / "data" / "watchdog.db"
        try:
            assert post_event(daemon, "1.0.0").status_code == 202
            if damage == "delete":
                db.unlink()
            else:
                db.chmod(0o444)
            # A deleted file is either seen gone or, once a new connection of the pool has opened the path
            # (SQLite creates a missing file), seen replaced: both are a damaged store, both refuse writes.
            words = "was deleted|was replaced by another file" if damage == "delete" else "is read-only"
            seen: dict[str, Any] = {}  # the last /readyz answer

            def unready() -> bool:
                r = httpx.get(f"{daemon.url}/readyz", timeout=5)
                seen.update(r.json())
                return r.status_code == 503

            # The probe runs every tick (0.2 s here); waiting is bounded, never timed.
            daemon.wait_for(unready, what="/readyz to turn 503", timeout=10, detail=lambda: str(seen))
            assert any(re.search(words, str(r)) for r in seen["reasons"]), seen
            refused = post_event(daemon, "1.1.0")
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "store_unavailable" and re.search(
                words, refused.json()["detail"]
            )
            assert int(refused.headers["retry-after"]) > 0
            assert httpx.get(f"{daemon.url}/healthz", timeout=5).status_code == 200  # alive, not ready
        finally:
            if db.exists():
                db.chmod(0o644)
            daemon.stop()
