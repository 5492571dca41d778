"""The daemon's own waiting is never the service's fault: a probe's timeout starts on the wire, and a burst
of connections against a small accept backlog is retried inside the same timeout.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any

import pytest

from tests.sources.helpers import NOW, check, ctx
from watchdog import looplag
from watchdog.analysis.models import Measurement
from watchdog.analysis.timing import sample_offset
from watchdog.engine.sampling import sample_all
from watchdog.settings import Settings
from watchdog.sources.http import HttpSource


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(
            1.5 if self.path == "/slow" else 0.001
        )  # /slow holds the one slot; the rest answer in 1 ms
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(server: HTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_a_request_queued_behind_the_concurrency_limit_longer_than_its_timeout_passes() -> None:
    with serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler)) as url:
        source = HttpSource(concurrency=1)
        try:
            hog = asyncio.create_task(
                source.sample(
                    check(type="http", url=f"{url}/slow", timeout="5s"), at=NOW, interval=30, ctx=ctx()
                )
            )
            await asyncio.sleep(0.2)  # /slow now holds the only slot
            waited = looplag.begin()
            fast = check(type="http", url=f"{url}/fast", timeout="0.5s")
            m = await source.sample(fast, at=NOW, interval=30, ctx=ctx())
            await hog
        finally:
            await source.aclose()
    # It waited in the daemon for longer than its own timeout, then the service answered in 1 ms: a pass.
    assert waited.queued_s > 0.5, waited
    assert m.error is None and m.values["up"] == 1.0, m


# A service in its own process (no GIL shared with the daemon's loop) with listen(5): a burst of SYNs
# overflows it and the kernel drops the rest. One thread, 1 ms per answer.
_BACKLOG_5 = """
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.001)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
class S(HTTPServer):
    request_queue_size = 5
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


@contextmanager
def backlog_5_service() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", _BACKLOG_5], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.kill()
        proc.wait(10)


# Alone: on a machine busy with other tests the one-thread service itself is starved of CPU and slow to
# answer, which is the service's slowness, not the daemon knocking too hard.
@pytest.mark.slow
@pytest.mark.alone
async def test_500_verifications_due_in_one_second_against_a_backlog_of_5_fail_no_sample() -> None:
    monitor = looplag.LoopLag()  # as the daemon runs it: what its own loop lag costs is excused
    monitor.start()
    with backlog_5_service() as url:
        source = HttpSource(concurrency=64)
        try:
            probe = check(type="http", url=f"{url}/healthz", name="healthz")
            share = Settings.model_validate({}).engine.sample_jitter

            async def verification(vid: str) -> dict[str, Measurement]:
                # As the engine does: each verification samples at its own stable offset in the interval.
                await asyncio.sleep(sample_offset(vid, 10.0, share=share))
                return await sample_all(
                    sources={"http": source},
                    checks=[probe],
                    at=NOW,
                    interval=10,
                    ctx=ctx(verification_id=vid),
                )

            results = await asyncio.gather(*(verification(f"v{i}") for i in range(500)))
        finally:
            await source.aclose()
            await monitor.stop()
    measurements = [r["healthz"] for r in results]
    down = [m.note or m.error for m in measurements if m.error is not None or m.values.get("up") != 1.0]
    # Any sample the daemon could not get a connection for in time is the daemon's lateness, never a fail.
    assert not [d for d in down if d is None or not d.startswith("watchdog overloaded")], down[:5]
    assert len(down) < len(measurements), "the service answered nobody"
