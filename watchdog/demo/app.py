"""The bundled demo service: a tiny threaded web app with its own synthetic traffic and Prometheus metrics.

Its version decides its health ("bad" -> 30% errors, "slow" -> 5x latency, "down" -> /healthz 503);
POST /deploy is the deploy target the daemon's webhook target calls, POST /chaos overrides the error rate.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BAD_ERROR_RATE = 0.30
GOOD_ERROR_RATE = 0.005
_TICK = 0.05  # seconds between traffic bursts: smooth enough for 1 s scrapes


class DemoApp:
    """`DemoApp(port=0).start()` serves on a free port; `.url` says where; `.stop()` ends it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8081,
        version: str = "1.0.0",
        rps: float = 40.0,
        seed: int | None = None,
        declare_errors: bool = True,
    ) -> None:
        self.host = host
        self.rps = rps
        self._requested_port = port
        self._lock = threading.Lock()
        self._version = version
        self._artifact = version
        self._override: float | None = None
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self.deploys: list[dict[str, str]] = []  # every POST /deploy, in order: what a rollback test asserts
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "demo_requests_total", "Synthetic requests by status code", ["code"], registry=self.registry
        )
        self.duration = Histogram(
            "demo_request_duration_seconds", "Synthetic request latency", registry=self.registry
        )
        self.version_info = Gauge(
            "demo_version_info", "The running version", ["version"], registry=self.registry
        )
        # Both codes exist from the start, so "no errors yet" reads as 0 rather than as a missing series.
        # declare_errors=False behaves like most apps: the 500 series appears with the first error.
        self.requests.labels(code="200")
        if declare_errors:
            self.requests.labels(code="500")
        self.version_info.labels(version=version).set(1)

    # ---- state -------------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        with self._lock:
            return self._version

    @property
    def artifact(self) -> str:
        with self._lock:
            return self._artifact

    @property
    def error_rate(self) -> float:
        with self._lock:
            if self._override is not None:
                return self._override
            return BAD_ERROR_RATE if "bad" in self._version else GOOD_ERROR_RATE

    def set_error_rate(self, rate: float | None) -> None:
        """Overrides the error rate (0..1); None returns to the version's own rate."""
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"error rate must be within 0..1, got {rate}")
        with self._lock:
            self._override = rate

    def deploy(self, version: str, artifact: str | None = None) -> None:
        with self._lock:
            old = self._version
            self._version, self._artifact = version, artifact or version
            self.deploys.append({"version": version, "artifact": self._artifact})
        if old != version:
            self.version_info.remove(old)
        self.version_info.labels(version=version).set(1)

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DemoApp:
        """Starts serving and generating traffic in background threads; returns at once."""
        self._server = ThreadingHTTPServer((self.host, self._requested_port), _handler_for(self))
        self._server.daemon_threads = True
        self._stop.clear()
        self._threads = [
            # A short poll interval keeps stop() quick; the cost is a few idle wake-ups a second.
            threading.Thread(target=self._server.serve_forever, args=(0.05,), name="demo-http", daemon=True),
            threading.Thread(target=self._traffic, name="demo-traffic", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self) -> DemoApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _traffic(self) -> None:
        owed = 0.0
        last = time.monotonic()
        while not self._stop.wait(_TICK):
            now = time.monotonic()
            owed += self.rps * (now - last)
            last = now
            count, owed = int(owed), owed - int(owed)
            rate = self.error_rate
            slow = 5.0 if "slow" in self.version else 1.0
            for _ in range(count):
                failed = self._random.random() < rate
                self.requests.labels(code="500" if failed else "200").inc()
                self.duration.observe(self._random.uniform(0.020, 0.060) * slow)

    # ---- HTTP --------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request; kept apart from the server for clarity."""
        if method == "GET" and path == "/healthz":
            version = self.version
            status = 503 if "down" in version else 200
            return _json(status, {"status": "ok" if status == 200 else "down", "version": version})
        if method == "GET" and path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if method == "POST" and path in ("/deploy", "/chaos"):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return _json(400, {"error": "body is not JSON"})
            if not isinstance(data, dict):
                return _json(400, {"error": "body must be a JSON object"})
            return self._deploy(data) if path == "/deploy" else self._chaos(data)
        return _json(404, {"error": f"no route {method} {path}"})

    def _deploy(self, data: dict[str, Any]) -> tuple[int, str, bytes]:
        version, artifact = data.get("version"), data.get("artifact")
        if not isinstance(version, str) or not version:
            return _json(400, {"error": "version (a non-empty string) is required"})
        if artifact is not None and not isinstance(artifact, str):
            return _json(400, {"error": "artifact must be a string"})
        self.deploy(version, artifact)
        return _json(200, {"status": "deployed", "version": version, "artifact": self.artifact})

    def _chaos(self, data: dict[str, Any]) -> tuple[int, str, bytes]:
        rate = data.get("error_rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)):
            return _json(400, {"error": "error_rate must be a number or null"})
        try:
            self.set_error_rate(None if rate is None else float(rate))
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"error_rate": self.error_rate, "override": rate})


def _json(status: int, data: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(data).encode()


def _handler_for(app: DemoApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            route = "GET" if method == "HEAD" else method
            status, ctype, payload = app.handle(route, self.path.split("?", 1)[0], body)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return None  # scrapes every second would drown the console

    return Handler
