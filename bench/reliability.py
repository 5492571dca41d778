"""Reliability timings of a real daemon process: how soon a damaged store shows, how long a request takes.

Per run: the SQLite file is deleted (or made read-only) under a running daemon and /readyz is polled until
503; and a manual rollback asked over HTTP is timed until its answer. Writes bench/results/reliability.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon import ADMIN, Daemon  # noqa: E402
from tests.e2e.test_replicas_postgres import write_config  # noqa: E402
from watchdog.demo.app import DemoApp  # noqa: E402

TICK_S = 0.2  # tests/e2e/daemon.py runs the daemon with WATCHDOG_TICK_SECONDS=0.2


def until_unready(daemon: Daemon) -> float:
    start = time.monotonic()
    while httpx.get(f"{daemon.url}/readyz", timeout=5).status_code != 503:
        time.sleep(0.01)
    return time.monotonic() - start


def one_run(root: Path, damage: str) -> dict[str, float]:
    with DemoApp(port=0, version="1.1.0", rps=50, seed=1).start() as app:
        daemon = Daemon(config=write_config(root, app), data=root / "data").start()
        try:
            dep = daemon.notify(
                service="shop", environment="production", version="1.1.0", previous_version="1.0.0"
            )
            start = time.monotonic()
            r = httpx.post(
                f"{daemon.url}/v1/deployments/{dep}/rollback",
                headers={"authorization": f"Bearer {ADMIN}"},
                timeout=30,
            )
            request_s = time.monotonic() - start
            assert r.status_code == 202 and r.json()["state"] == "done", r.text
            db = root / "data" / "watchdog.db"
            if damage == "delete":
                db.unlink()
            else:
                db.chmod(0o444)
            unready_s = until_unready(daemon)
            if db.exists():
                db.chmod(0o644)
        finally:
            daemon.stop()
    return {"request_s": request_s, "unready_s": unready_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"delete": [], "read-only": []}
    for damage in rows:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                rows[damage].append(one_run(Path(tmp), damage))
    header = ("damage", "runs", "readyz 503 after (median, max)", "rollback answered (median)")
    print(f"{header[0]:<10} {header[1]:>4} {header[2]:>32} {header[3]:>28}")
    result: dict[str, object] = {"tick_s": TICK_S, "runs": args.runs}
    for damage, runs in rows.items():
        unready = [r["unready_s"] for r in runs]
        request = [r["request_s"] for r in runs]
        print(
            f"{damage:<10} {len(runs):>4} {statistics.median(unready):>20.3f} s, {max(unready):.3f} s"
            f" {statistics.median(request):>26.3f} s"
        )
        result[damage] = {
            "unready_median_s": statistics.median(unready),
            "unready_max_s": max(unready),
            "request_median_s": statistics.median(request),
        }
    out = ROOT / "bench" / "results" / "reliability.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"tick {TICK_S} s; wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
