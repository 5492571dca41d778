"""A rollback whose target call takes 20 s runs beside the tick: another verification on the same daemon is
sampled on time throughout the call (stored sample times against their due times).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.crash.harness import wait_until, world
from watchdog.store import Store

pytestmark = pytest.mark.slow

CALL_S = 20.0


@dataclass
class SlowTarget:
    url: str = ""
    calls: list[tuple[float, float]] = field(default_factory=list)  # (started, ended) wall-clock times
    started: threading.Event = field(default_factory=threading.Event)


@contextmanager
def slow_target(seconds: float) -> Iterator[SlowTarget]:
    state = SlowTarget()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            began = time.time()
            state.started.set()
            time.sleep(seconds)  # a Helm or Argo CD rollout that takes its time
            state.calls.append((began, time.time()))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/deploy"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_a_20s_target_call_delays_no_other_verifications_samples(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'watchdog.db'}"
    with (
        slow_target(CALL_S) as target,
        world(
            tmp_path,
            database,
            services=("shop", "cart"),
            windows={"cart": {"duration": "30s"}},
            target_urls={"shop": target.url},
        ) as w,
    ):
        daemon = w.daemon()
        good = w.deploy(daemon, "cart", "1.1.0")
        w.deploy(daemon, "shop", "1.1.0-bad")
        assert target.started.wait(20), "the rollback never called the target"
        wait_until(lambda: bool(target.calls), timeout=CALL_S + 10, what="the slow call to end")
        began, ended = target.calls[0]
        store = Store(database)
        try:
            v = store.deploy_verification(good)
            during = []
            for s in store.samples_for(v.id):
                due = v.starts_at + timedelta(seconds=s.k * v.interval_s)
                if began <= due.timestamp() <= ended:
                    during.append((s.taken_at - due).total_seconds())
        finally:
            store.close()
        # Every sample due while the call ran was taken: 20 s at 0.5 s per sample, two checks each.
        assert len(during) >= 2 * int(CALL_S / 0.5) - 4, len(during)
        # Taken within a couple of ticks of its due time: the tick never waited for the target.
        assert max(during) < 2.0, sorted(during)[-5:]
