"""`POST /v1/backtests` (admin) runs a backtest in the background; `GET /v1/backtests/{id}` has its result.

The app is the daemon's own (create_app on a Runtime); history comes from the backfilled Prometheus.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.api.harness import ADMIN_TOKEN, make_runtime
from tests.backtest.conftest import Shop, write_config
from watchdog.api.app import create_app

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _client(tmp_path: Path, shop: Shop) -> tuple[httpx.AsyncClient, Any]:
    config = write_config(
        tmp_path / "config", sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n"
    )
    runtime = make_runtime(tmp_path / "daemon", config_dir=config)
    app = create_app(runtime)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://watchdog.test"), runtime


async def test_a_backtest_runs_in_the_background_and_its_result_is_kept(tmp_path: Path, shop: Shop) -> None:
    client, runtime = await _client(tmp_path, shop)
    deploys = [
        {"version": d.version, "deployed_at": d.deployed_at, "label": d.label} for d in shop.deploys[:8]
    ]
    try:
        started = await client.post(
            "/v1/backtests",
            json={"service": "shop", "environment": "production", "deploys": deploys},
            headers=AUTH,
        )
        assert started.status_code == 202, started.text
        body = started.json()
        assert body["state"] == "running" and body["id"]
        for _ in range(200):
            seen = (await client.get(f"/v1/backtests/{body['id']}", headers=AUTH)).json()
            if seen["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert seen["state"] == "done", seen
        assert (seen["service"], seen["environment"]) == ("shop", "production")
        assert [r["version"] for r in seen["rows"]] == [d["version"] for d in deploys]
        for d, row in zip(shop.deploys[:8], seen["rows"], strict=True):
            assert row["replayed_verdict"] in d.allowed
        assert seen["summary"]["deploys"] == 8 and seen["summary"]["false_rollbacks"] == 0
    finally:
        await client.aclose()
        runtime.store.close()


async def test_refusals_name_what_is_wrong(tmp_path: Path, shop: Shop) -> None:
    client, runtime = await _client(tmp_path, shop)
    try:
        anonymous = await client.post("/v1/backtests", json={"service": "shop", "environment": "production"})
        assert anonymous.status_code == 401
        unknown = await client.post(
            "/v1/backtests", json={"service": "shop", "environment": "staging"}, headers=AUTH
        )
        assert unknown.status_code == 422 and "no policy for shop/staging" in unknown.text
        bad = await client.post(
            "/v1/backtests",
            json={"service": "shop", "environment": "production", "deploys": [{"version": "1.0.0"}]},
            headers=AUTH,
        )
        assert bad.status_code == 422 and "deploys: deployed_at is required" in bad.text
        missing = await client.get("/v1/backtests/nope", headers=AUTH)
        assert missing.status_code == 404
    finally:
        await client.aclose()
        runtime.store.close()
