"""A loopback HTTP receiver for notifier tests: records every request, answers from a script of statuses.

Speaks plain HTTP/1.1 on 127.0.0.1, the way Slack, Datadog and webhook endpoints answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order; then `default`
    default: int = 200
    answer: bytes = b"ok"
    requests: list[Request] = field(default_factory=list)


@contextmanager
def receiver(
    *, statuses: list[int] | None = None, answer: bytes = b"ok", default: int = 200
) -> Iterator[Receiver]:
    state = Receiver(url="", statuses=list(statuses or []), default=default, answer=answer)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                state.requests.append(Request("POST", self.path, dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else state.default
            self.send_response(status)
            self.send_header(
                "content-type", "application/json" if state.answer.startswith(b"{") else "text/plain"
            )
            self.send_header("content-length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
