"""Intake throughput: 1,000 signed events from 20 concurrent warm clients against the app under uvicorn.

The daemon runs in a child process on a loopback port over a fresh SQLite store (no engine: intake only),
optionally over N past deploys of the service. `--code DIR` serves another checkout of the code, so a
before/after comparison alternates A and B in one run. Writes bench/results/intake.json.
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
# The child serving another checkout (A/B runs) imports that checkout's watchdog package.
sys.path.insert(0, os.environ.get("WATCHDOG_BENCH_CODE", str(ROOT)))
sys.path.insert(1, str(ROOT))  # this checkout's bench/ (the probe) even when serving another's watchdog/

from bench.intake_probe import Probe, summary  # noqa: E402
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


def _seed_history(store: Any, count: int) -> None:
    """`count` finished past deploys of the benched service, written in bulk (not measured)."""
    from datetime import UTC, datetime, timedelta

    from watchdog.store.schema import deployments, verifications

    base = datetime.now(UTC) - timedelta(days=30)
    deps: list[dict[str, Any]] = []
    vers: list[dict[str, Any]] = []
    for i in range(count):
        at = base + timedelta(seconds=i)
        dep_id = f"hist{i:08d}"
        deps.append(
            {
                "id": dep_id,
                "service": "checkout",
                "environment": "staging",
                "version": f"0.{i}",
                "artifact": f"reg/c@sha256:{i:063x}f",
                "deployed_at": at,
                "received_at": at,
                "labels": {},
                "source": "generic",
                "policy": {},
                "rollback_safe": True,
                "is_rollback": False,
            }
        )
        vers.append(
            {
                "id": f"histv{i:08d}",
                "deployment_id": dep_id,
                "kind": "deploy",
                "state": "passed",
                "reason": "",
                "failed_checks": [],
                "version": f"0.{i}",
                "artifact": f"reg/c@sha256:{i:063x}f",
                "starts_at": at,
                "interval_s": 10.0,
                "samples_total": 1,
                "next_k": 2,
                "policy": {},
                "lease_epoch": 0,
                "created_at": at,
                "updated_at": at,
                "finished_at": at,
            }
        )
    with store._engine.begin() as conn:
        conn.execute(deployments.insert(), deps)
        conn.execute(verifications.insert(), vers)


def serve(port: int, data: Path, history: int = 0) -> None:
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
    # Flat field names, as the CLI passes them (Settings sorts them into their groups; the pydantic plugin's
    # signature knows the groups only). The constructor, whatever checkout WATCHDOG_BENCH_CODE names.
    flat: dict[str, Any] = {"data_dir": data, "webhook_secret": SECRET}
    settings = Settings(**flat)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    if history:
        _seed_history(store, history)
    probe = Probe(data / "watchdog.db")
    probe.wrap_store(store)
    engine: Any = IdleEngine()
    runtime = Runtime(
        settings=settings,
        store=store,
        policies=PolicyHolder(data / "config"),
        clock=SystemClock(),
        metrics=Metrics(),
        engine=engine,
    )
    app = probe.wrap_app(create_app(runtime), dump_to=data / "probe.json")
    from watchdog.cli import serve as cli_serve

    # What `watchdog serve` does once the daemon is built, in the checkouts that do it.
    freeze = getattr(cli_serve, "freeze_startup_heap", None)
    if freeze is not None:
        freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


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


async def _load(url: str) -> dict[str, Any]:
    """The 20 clients, warm when the clock starts: each has a kept-alive connection and one event behind it.

    The warm-up events (one per client, not counted) are timed apart: they show the cost of a cold
    connection and a cold daemon (statement compilation, first-use paths), which a running daemon paid long
    ago, and which would otherwise be exactly the 2% of requests a p99 of 1,000 looks at.
    """
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(EVENTS):
        queue.put_nowait(i)
    latencies: list[float] = []
    warmups: list[float] = []
    accepted = 0
    ready, go = asyncio.Semaphore(0), asyncio.Event()

    async def post(c: httpx.AsyncClient, i: int) -> tuple[float, bool]:
        body, headers = _signed(i)
        start = time.perf_counter()
        resp = await c.post("/v1/events", content=body, headers=headers)
        return time.perf_counter() - start, resp.status_code == 202

    async def client(n: int) -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            warmups.append((await post(c, EVENTS + n))[0])
            ready.release()
            await go.wait()
            while not queue.empty():
                took, ok = await post(c, queue.get_nowait())
                latencies.append(took)
                accepted += ok

    tasks = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
    for _ in range(CLIENTS):
        await ready.acquire()
    lag: list[float] = []
    watch = asyncio.create_task(_watch_loop(lag))
    start = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    watch.cancel()
    latencies.sort()
    return {"wall": wall, "latencies": latencies, "warmups": warmups, "accepted": accepted, "lag": lag}


async def _watch_loop(lag: list[float], every: float = 0.005) -> None:
    """The client's own event-loop lag: a starved client adds it to every latency it measures."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(every)
        lag.append(time.perf_counter() - start - every)


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


def one_run(*, code: Path, history: int) -> dict[str, Any]:
    """One daemon over a fresh store (with `history` past deploys), loaded by the 20 clients."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="watchdog-bench-") as tmp:
        data = Path(tmp)
        cmd = [sys.executable, __file__, "--serve", str(port), str(data), "--history", str(history)]
        env = {**os.environ, "PYTHONPATH": str(code), "WATCHDOG_BENCH_CODE": str(code)}
        child = subprocess.Popen(cmd, env=env)
        try:
            _wait(url, child)
            cpu_before, mine_before = _cpu_s(child.pid), _cpu_s(os.getpid())
            load = asyncio.run(_load(url))
            wall, latencies, accepted = load["wall"], load["latencies"], load["accepted"]
            cpu, mine = _cpu_s(child.pid) - cpu_before, _cpu_s(os.getpid()) - mine_before
        finally:
            child.terminate()
            child.wait(timeout=10)
        import sqlite3

        with sqlite3.connect(data / "watchdog.db") as db:
            # The measured events are versions 1.0.0 to 1.0.999 (the warm-up ones come after).
            stored = db.execute(
                "SELECT count(*) FROM deployments WHERE id NOT LIKE 'hist%'"
                " AND CAST(substr(version, 5) AS INTEGER) < ?",
                (EVENTS,),
            ).fetchone()[0]
        inside = summary(data / "probe.json")
    return {
        "accepted": accepted,
        "stored": stored,
        "load_average": round(os.getloadavg()[0], 2),  # beside every figure: the machine is shared
        "seconds": round(wall, 3),
        "accepted_per_s": round(accepted / wall, 1),
        "p50_ms": round(_pct(latencies, 0.50), 2),
        "p99_ms": round(_pct(latencies, 0.99), 2),
        "max_ms": round(_pct(latencies, 1.0), 2),
        "warmup_max_ms": round(max(load["warmups"]) * 1000, 2),
        "client_loop_lag_max_ms": round(max(load["lag"], default=0.0) * 1000, 2),
        "daemon_cpu_ms_per_event": round(cpu / max(accepted, 1) * 1000, 2),
        "client_cpu_ms_per_event": round(mine / max(accepted, 1) * 1000, 2),
        **inside,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = sorted(r[key] for r in runs)
    return {"min": values[0], "median": values[len(values) // 2], "max": values[-1]}


# (title, [(column, run key)]): what the client saw, then where the time went inside the daemon (the probe).
_TABLES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "seen by the clients",
        [
            ("events/s", "accepted_per_s"),
            ("p50 ms", "p50_ms"),
            ("p99 ms", "p99_ms"),
            ("CPU ms/event", "daemon_cpu_ms_per_event"),
        ],
    ),
    (
        "inside the daemon (ASGI call to response start; batches; GC; loop lag)",
        [
            ("server p99 ms", "server_p99_ms"),
            ("server max ms", "server_max_ms"),
            ("batch size median", "batch_size_median"),
            ("writer CPU ms/event", "write_cpu_ms_per_event"),
            ("write p99 ms", "write_p99_ms"),
        ],
    ),
    (
        "",
        [
            ("checkpoints", "checkpoints"),
            ("ckpt commit max ms", "checkpoint_commit_max_ms"),
            ("GC max CPU ms", "gc_max_cpu_ms"),
            ("loop lag max ms", "loop_lag_max_ms"),
            ("client lag max ms", "client_loop_lag_max_ms"),
        ],
    ),
]


def main(*, rounds: int, histories: list[int], before: Path | None) -> int:
    codes: dict[str, Path] = {"after": ROOT} if before is None else {"before": before, "after": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {f"{n}@{h}": [] for n in codes for h in histories}
    ok = True
    for _ in range(rounds):  # alternate A and B (and the history sizes) inside every round
        for history in histories:
            for name, code in codes.items():
                run = one_run(code=code, history=history)
                runs[f"{name}@{history}"].append(run)
                ok = ok and run["accepted"] == run["stored"] == EVENTS
    print(f"intake, {EVENTS} events from {CLIENTS} clients, {rounds} rounds (min / median / max)")
    results: dict[str, Any] = {}
    for title, keys in _TABLES:
        print(f"\n{title}\n{'code@past deploys':<18}" + "".join(f"{label:>24}" for label, _ in keys))
        for key, rs in runs.items():
            cols = {k: _spread(rs, k) for _, k in keys}
            results.setdefault(key, {"runs": rs}).update(cols)
            cells = [f"{c['min']:>7} {c['median']:>7} {c['max']:>7}" for c in cols.values()]
            print(f"{key:<18}" + "".join(f"{c:>24}" for c in cells))
    missing = [key for key, rs in runs.items() if any(r["accepted"] != r["stored"] for r in rs)]
    print("\nevery 202'd event stored" if not missing else f"\nMISSING events in {', '.join(missing)}")
    result = {"events": EVENTS, "clients": CLIENTS, "rounds": rounds, "results": results}
    out = ROOT / "bench" / "results" / "intake.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--histories", default="0,10000", help="past deploys of the service, comma-separated")
    parser.add_argument("--before", type=Path, help="another checkout to compare against (A/B)")
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), args.history)
    else:
        hs = [int(h) for h in args.histories.split(",")]
        sys.exit(main(rounds=args.rounds, histories=hs, before=args.before))
