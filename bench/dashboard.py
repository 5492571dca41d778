"""Dashboard rendering: the list page over a store holding 10,000 deployments, measured server-side.

Seeds SQLite with 10,000 deployments across 20 services and every final state (bulk rows shaped as
the engine writes them), then times GET / (and filtered, partial and ledger variants) through the
ASGI app in-process: query + template + response, no network. Prints a table, writes
bench/results/dashboard.json. The target: the list renders in under 200 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchdog.store.schema import deployments, verifications  # noqa: E402

N, RUNS, TARGET_MS = 10_000, 30, 200.0
STATES = ["passed"] * 6 + ["rolled_back", "rollback_failed", "inconclusive", "superseded"]
POLICY = {"verification": {"duration": 600.0, "interval": 30.0}, "checks": []}


class IdleEngine:
    def wake(self) -> None:
        return None


def seed(store: Any, now: datetime) -> None:
    dep_rows: list[dict[str, Any]] = []
    ver_rows: list[dict[str, Any]] = []
    for i in range(N):
        at = now - timedelta(minutes=5 * (N - i))
        state = STATES[i % len(STATES)]
        did = f"{i:032x}"
        dep_rows.append(
            {
                "id": did,
                "service": f"svc-{i % 20:02d}",
                "environment": ("staging", "production")[i % 2],
                "version": f"1.{i // 100}.{i % 100}",
                "artifact": f"registry.example/svc@sha256:{i:064x}",
                "deployed_at": at,
                "received_at": at,
                "rollback_safe": True,
                "is_rollback": False,
                "labels": {},
                "source": "generic",
                "policy": POLICY,
            }
        )
        verdict = {"passed": "passed", "inconclusive": "inconclusive", "superseded": None}.get(
            state, "failed"
        )
        ver_rows.append(
            {
                "id": f"v{i:031x}",
                "deployment_id": did,
                "kind": "deploy",
                "state": state,
                "reason": "",
                "verdict": verdict,
                "failed_checks": [],
                "version": f"1.{i // 100}.{i % 100}",
                "artifact": "a",
                "starts_at": at,
                "interval_s": 30.0,
                "samples_total": 20,
                "next_k": 21,
                "policy": POLICY,
                "lease_epoch": 0,
                "created_at": at,
                "updated_at": at,
                "finished_at": at + timedelta(minutes=10),
            }
        )
    with store.engine.begin() as conn:
        conn.execute(deployments.insert(), dep_rows)
        conn.execute(verifications.insert(), ver_rows)


async def measure(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    await client.get(url)  # warm: templates compiled, SQLite pages cached
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        r = await client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
    times.sort()
    return {
        "url": url,
        "bytes": len(r.content),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


async def main() -> int:
    from watchdog.api.app import create_app
    from watchdog.clock import SystemClock
    from watchdog.engine.runtime import Runtime
    from watchdog.policy.reload import PolicyHolder
    from watchdog.settings import Settings
    from watchdog.store import Store
    from watchdog.telemetry import Metrics

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config" / "services").mkdir(parents=True)
        (root / "config" / "watchdog.yaml").write_text("{}\n")
        (root / "config" / "services" / "svc-00.yaml").write_text(
            "service: svc-00\ndefaults: {on_failure: alert}\nenvironments:\n  staging: {}\n  production: {}\n"
        )
        store = Store(f"sqlite:///{root / 'watchdog.db'}")
        store.upgrade()
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        seed(store, now)
        seeded_s = time.perf_counter() - t0
        runtime = Runtime(
            settings=Settings.model_validate({"data_dir": root, "instance_id": "bench"}),
            store=store,
            policies=PolicyHolder(root / "config"),
            clock=SystemClock(),
            metrics=Metrics(),
            engine=IdleEngine(),  # type: ignore[arg-type]  # a stand-in (wake() only), not an Engine
        )
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            rows = [
                await measure(client, "/"),
                await measure(client, "/?state=rolled_back"),
                await measure(client, "/?service=svc-07&environment=production"),
                await measure(client, "/?partial=rows"),
                await measure(client, "/?limit=500"),
                await measure(client, "/ledger?since=365d"),
            ]
        store.close()
    print(f"{N:,} deployments seeded in {seeded_s:.1f} s; {RUNS} requests each, in-process ASGI")
    print(f"{'page':<44} {'bytes':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for r in rows:
        print(f"{r['url']:<44} {r['bytes']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}")
    ok = rows[0]["p95_ms"] < TARGET_MS
    print(f"list (GET /) p95 {rows[0]['p95_ms']} ms: {'under' if ok else 'OVER'} the {TARGET_MS:g} ms target")
    out = ROOT / "bench" / "results" / "dashboard.json"
    out.write_text(
        json.dumps({"deployments": N, "runs": RUNS, "target_ms": TARGET_MS, "pages": rows}, indent=2) + "\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
