"""Intake throughput: 1,000 signed events from 20 concurrent clients against the app under uvicorn.

The daemon runs in a child process on a loopback port over a fresh SQLite store (no engine: intake only).
Prints accepted/s and latency p50/p99, checks every event is stored, writes bench/results/intake.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchdog.intake.signatures import sign_standard  # noqa: E402

SECRET = "whsec_" + "YmVuY2gtaW50YWtlLXNlY3JldC0wMTIzNDU2Nzg5YWI="
EVENTS, CLIENTS = 1000, 20
POLICY = "service: checkout\ndefaults:\n  on_failure: alert\nenvironments:\n  staging: {}\n"


class IdleEngine:
    """The bench measures intake: the engine is told to wake and does nothing."""

    def wake(self) -> None:
        return None

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> Any:
        raise NotImplementedError

    async def promote(self, deployment_id: str, *, by: str) -> Any:
        raise NotImplementedError


def serve(port: int, data: Path) -> None:
    import uvicorn

    from watchdog.api.app import create_app
    from watchdog.clock import SystemClock
    from watchdog.engine.runtime import Runtime
    from watchdog.policy.reload import PolicyHolder
    from watchdog.settings import Settings
    from watchdog.store import Store
    from watchdog.telemetry import Metrics

    (data / "config" / "services").mkdir(parents=True, exist_ok=True)
    (data / "config" / "watchdog.yaml").write_text("{}\n")
    (data / "config" / "services" / "checkout.yaml").write_text(POLICY)
    settings = Settings(data_dir=data, webhook_secret=SECRET)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    engine: Any = IdleEngine()
    runtime = Runtime(
        settings=settings,
        store=store,
        policies=PolicyHolder(data / "config"),
        clock=SystemClock(),
        metrics=Metrics(),
        engine=engine,
    )
    uvicorn.run(create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _signed(i: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "service": "checkout",
            "environment": "staging",
            "version": f"1.0.{i}",
            "artifact": f"reg/c@sha256:{i:064x}",
        }
    ).encode()
    msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret=SECRET, msg_id=msg_id, timestamp=ts, body=body),
    }


async def _load(url: str) -> tuple[float, list[float], int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(EVENTS):
        queue.put_nowait(i)
    latencies: list[float] = []
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            while not queue.empty():
                body, headers = _signed(queue.get_nowait())
                start = time.perf_counter()
                resp = await c.post("/v1/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                accepted += resp.status_code == 202

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - start, sorted(latencies), accepted


def _wait(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit("the daemon exited before it answered")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the daemon did not answer /healthz within 30 s")


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="watchdog-bench-") as tmp:
        data = Path(tmp)
        cmd = [sys.executable, __file__, "--serve", str(port), str(data)]
        child = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            _wait(url, child)
            wall, latencies, accepted = asyncio.run(_load(url))
        finally:
            child.terminate()
            child.wait(timeout=10)
        from watchdog.store import Store

        store = Store(f"sqlite:///{data / 'watchdog.db'}")
        stored = sum(store.count_by_state().values())
        store.close()
    latency = {"p50": round(_pct(latencies, 0.50), 2), "p99": round(_pct(latencies, 0.99), 2)}
    result: dict[str, Any] = {
        "events": EVENTS,
        "clients": CLIENTS,
        "accepted": accepted,
        "stored": stored,
        "seconds": round(wall, 3),
        "accepted_per_s": round(accepted / wall, 1),
        "latency_ms": latency,
    }
    print(
        f"intake: {accepted}/{EVENTS} accepted in {wall:.2f} s = {result['accepted_per_s']} events/s; "
        f"latency p50 {latency['p50']} ms, p99 {latency['p99']} ms; {stored} stored"
    )
    out = ROOT / "bench" / "results" / "intake.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if accepted == stored == EVENTS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]))
    else:
        sys.exit(main())
