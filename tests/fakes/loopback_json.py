"""A small threaded JSON HTTP server on 127.0.0.1 that the target fakes (Kubernetes, Argo CD) build on.

It records every request, can answer scripted failures first, and can serve TLS with a given context.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    status: int
    body: Any
    method: str | None = None
    path_contains: str = ""
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


class JsonServer:
    """Subclasses implement `handle(method, path, query, headers, body) -> (status, body)`."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.lock = threading.RLock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = owner._dispatch(self.command, self.path, headers, body)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self,
        status: int,
        body: Any = None,
        *,
        method: str | None = None,
        path_contains: str = "",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` matching requests get `status` (recorded, but never reach the fake's state)."""
        with self.lock:
            self.failures.append(Failure(status, body, method, path_contains, times, headers or {}))

    def requests_of(self, method: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method]

    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(Recorded(method, raw_path, headers, body))
            for f in self.failures:
                if f.times > 0 and (f.method in (None, method)) and f.path_contains in raw_path:
                    f.times -= 1
                    return f.status, f.body, f.headers
            parts = urlsplit(raw_path)
            query = {k: v for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)}
            status, answer = self.handle(method, parts.path, query, headers, body)
            return status, answer, {}

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        raise NotImplementedError
