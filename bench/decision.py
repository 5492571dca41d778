"""Decision to target call: from the stored verdict of the deciding sample to the webhook target getting it.

Real `watchdog serve` processes (SQLite) judge deploys that fail their first sample; a loopback server is
both the failing service and the webhook target, stamping each call's arrival. `--before DIR` runs another
checkout beside this one, runs alternating A and B. Prints a table, writes bench/results/decision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchdog.intake.signatures import sign_standard  # noqa: E402

SECRET = "whsec_" + "YmVuY2gtZGVjaXNpb24tc2VjcmV0LTAxMjM0NTY3ODlhYg=="


class Stand:
    """The failing service (/healthz answers 503) and the webhook target (POST /target/<deployment>)."""

    def __init__(self) -> None:
        self.calls: dict[str, float] = {}
        self.got = threading.Condition()
        stand = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(503, b'{"status": "down"}')

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with stand.got:
                    stand.calls.setdefault(self.path.rsplit("/", 1)[-1], arrived)
                    stand.got.notify_all()
                self._answer(200, b'{"ok": true}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_call(self, deployment_id: str, timeout: float) -> float | None:
        with self.got:
            self.got.wait_for(lambda: deployment_id in self.calls, timeout=timeout)
            return self.calls.get(deployment_id)


def _config(root: Path, stand: Stand, services: list[str]) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    hook = {
        "type": "webhook",
        "url": stand.url + "/target/{{ deployment_id }}",
        "body": {"v": "{{ version }}"},
    }
    (config / "watchdog.yaml").write_text(yaml.safe_dump({"targets": {"hook": hook}}))
    check = {"name": "healthz", "type": "http", "url": f"{stand.url}/healthz", "timeout": "1s"}
    for service in services:
        policy = {
            "service": service,
            "defaults": {
                "verification": {
                    "duration": "10s",
                    "interval": "0.5s",
                    "warmup": "0s",
                    "failure_limit": 1,
                },
                "on_failure": "rollback",
                "rollback": {
                    "max_per_hour": 1000,
                    "verification": {"duration": "1s", "interval": "0.5s", "checks": "http"},
                },
            },
            "environments": {"production": {"target": "hook", "checks": [check]}},
        }
        (config / "services" / f"{service}.yaml").write_text(yaml.safe_dump(policy))
    return config


class Daemon:
    def __init__(self, name: str, code: Path, root: Path, stand: Stand, services: list[str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = root / name
        self.data.mkdir()
        config = _config(self.data, stand, services)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
        env |= {
            "PYTHONPATH": str(code),
            "WATCHDOG_DATA_DIR": str(self.data),
            "WATCHDOG_WEBHOOK_SECRET": SECRET,
            "WATCHDOG_TICK_SECONDS": "0.1",
        }
        cmd = [sys.executable, "-m", "watchdog", "serve", "--config", str(config), "--port", str(self.port)]
        log = (self.data / "daemon.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.data)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        log_text = (self.data / "daemon.log").read_text()[-2000:]
        raise SystemExit(f"daemon {name} did not become ready:\n{log_text}")

    def deploy(self, service: str, n: int) -> str:
        body = json.dumps(
            {
                "service": service,
                "environment": "production",
                "version": f"1.1.{n}",
                "artifact": f"reg/{service}:1.1.{n}",
                "previous_version": "1.0.0",
                "previous_artifact": f"reg/{service}:1.0.0",
            }
        ).encode()
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard(secret=SECRET, msg_id=msg_id, timestamp=ts, body=body),
        }
        r = httpx.post(f"{self.url}/v1/events", content=body, headers=headers, timeout=10)
        r.raise_for_status()
        return str(r.json()["deployment_id"])

    def decided_at(self, deployment_id: str) -> float:
        """When the verdict that asks for the rollback was stored (the transition out of sampling)."""
        with sqlite3.connect(self.data / "watchdog.db") as db:
            row = db.execute(
                "SELECT min(at) FROM transitions WHERE deployment_id = ? AND to_state IN "
                "('failed', 'rolling_back')",
                (deployment_id,),
            ).fetchone()
        return datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC).timestamp()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(*, runs: int, rounds: int, before: Path | None) -> int:
    codes = {"after": ROOT} if before is None else {"before": before, "after": ROOT}
    stand = Stand()
    lat: dict[str, list[list[float]]] = {name: [[] for _ in range(rounds)] for name in codes}
    per_round = -(-runs // rounds)
    with tempfile.TemporaryDirectory(prefix="watchdog-decision-") as tmp:
        services = [f"svc{i}" for i in range(per_round * rounds)]
        daemons = {name: Daemon(name, code, Path(tmp), stand, services) for name, code in codes.items()}
        try:
            for i, service in enumerate(services):
                for name, daemon in daemons.items():  # A then B, run after run
                    dep = daemon.deploy(service, i)
                    arrived = stand.wait_call(dep, timeout=30)
                    if arrived is None:
                        raise SystemExit(f"{name}: no target call for {service}")
                    time.sleep(0.3)  # the transition is committed before the call: read it after
                    lat[name][i // per_round].append((arrived - daemon.decided_at(dep)) * 1000)
        finally:
            for daemon in daemons.values():
                daemon.stop()
            stand.server.shutdown()
            if os.environ.get("BENCH_KEEP"):
                import shutil

                shutil.copytree(tmp, os.environ["BENCH_KEEP"], dirs_exist_ok=True)
    result: dict[str, Any] = {"runs": len(services), "rounds": rounds, "results": {}}
    print(f"decision sample -> target call, {len(services)} runs each, ms (rounds: min / median / max)")
    print(f"{'code':<8} {'p50':>8} {'p99':>8} {'max':>8}   {'p50 per round':>26}")
    for name, by_round in lat.items():
        every = [v for r in by_round for v in r]
        p50s = sorted(_pct(r, 0.5) for r in by_round if r)
        row: dict[str, Any] = {
            "p50_ms": round(_pct(every, 0.5), 1),
            "p99_ms": round(_pct(every, 0.99), 1),
            "max_ms": round(max(every), 1),
            "round_p50_ms": {
                "min": round(p50s[0], 1),
                "median": round(p50s[len(p50s) // 2], 1),
                "max": round(p50s[-1], 1),
            },
            "latencies_ms": [round(v, 1) for v in every],
        }
        result["results"][name] = row
        rp = row["round_p50_ms"]
        print(
            f"{name:<8} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8}   "
            f"{rp['min']:>8} {rp['median']:>8} {rp['max']:>8}"
        )
    out = ROOT / "bench" / "results" / "decision.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to compare against (A/B)")
    args = parser.parse_args()
    sys.exit(main(runs=args.runs, rounds=args.rounds, before=args.before))
