"""`watchdog serve --workers 2` on SQLite: two engine processes split the verifications between them, each
verification is probed once per sample by one of them, and SIGTERM to the daemon drains both.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.daemon import Daemon
from tests.fakes.loopback_json import JsonServer

pytestmark = pytest.mark.slow

ENVIRONMENTS = [f"e{i}" for i in range(16)]


class Service(JsonServer):
    """A healthy service whose /healthz records which deployment each probe was for."""

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, {"status": "ok"}

    def probes(self) -> Counter[str]:
        with self.lock:
            return Counter(r.path.split("d=", 1)[1] for r in self.requests if r.path.startswith("/healthz?"))


def write_config(root: Path, service: Service) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(yaml.safe_dump({"sources": {}}))
    check = {
        "name": "healthz",
        "type": "http",
        "url": f"{service.url}/healthz?d={{{{ deployment_id }}}}",
        "expect": {"status": 200},
        "timeout": "1s",
    }
    policy = {
        "service": "shop",
        "defaults": {
            "verification": {"duration": "4s", "interval": "1s", "warmup": "0s", "min_conclusive": 0.5},
            "on_failure": "alert",
        },
        "environments": {env: {"checks": [check]} for env in ENVIRONMENTS},
    }
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(policy))
    return config


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) has finished its drain too.
    return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_two_workers_split_the_work_and_drain_on_sigterm(tmp_path: Path) -> None:
    service = Service().start()
    daemon = Daemon(
        config=write_config(tmp_path, service),
        data=tmp_path / "data",
        env={"WATCHDOG_INSTANCE_ID": "wd"},
        args=["--workers", "2"],
    )
    try:
        daemon.start()
        # Until w1 runs the serving engine takes every share: events go out once w1 takes its own.
        daemon.wait_for(
            lambda: "engine worker wd-w1 takes its share" in daemon.log.read_text(), what="w1", timeout=60
        )
        ids = [daemon.notify(service="shop", environment=env, version="1.0.0") for env in ENVIRONMENTS]
        finals = [daemon.wait_state(d, {"passed", "failed", "inconclusive"}, timeout=60) for d in ids]
        # Passed, or inconclusive when the shared machine made the daemon late (never failed).
        assert {f["state"] for f in finals} <= {"passed", "inconclusive"}, [f["reasons"] for f in finals]
        # Each sample taken once, by one process: one stored row per k and one probe per stored row.
        probes = service.probes()
        for d, final in zip(ids, finals, strict=True):
            rows = [s for s in final["samples"] if s["check"] == "healthz"]
            ks = Counter(s["k"] for s in rows)
            assert ks and max(ks.values()) == 1, ks
            # Never a second probe for a sample: at most one per stored row, one behind every pass (a sample
            # the shared machine made late is recorded inconclusive, with or without its probe).
            passed = sum(s["outcome"] == "pass" for s in rows)
            assert passed <= probes[d] <= len(rows), (probes[d], [(s["k"], s.get("reason")) for s in rows])
        with sqlite3.connect(tmp_path / "data" / "watchdog.db") as db:
            owners = Counter(o for (o,) in db.execute("SELECT lease_owner FROM verifications"))
        assert set(owners) == {"wd", "wd-w1"}, owners  # the two engines shared the verifications
        log = daemon.log.read_text()
        found = re.search(r"engine workers started beside this one \(pids \[(\d+)\]\)", log)
        assert found is not None, log[-3000:]
        worker = int(found.group(1))
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0
        deadline = time.monotonic() + 10  # a hang guard: the worker is waited for by the daemon already
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
        log = daemon.log.read_text()
        released = set(re.findall(r"released \d+ leases of instance (\S+)", log))
        assert released == {"wd", "wd-w1"}, log[-3000:]  # both drained and let their leases go
        # And closed their sources' connections, rather than leaving them to the garbage collector.
        assert "Unclosed client session" not in log and "Unclosed connector" not in log, log[-3000:]
    finally:
        daemon.stop()
        service.stop()
