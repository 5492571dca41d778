"""Shared test fixtures: free loopback ports, the PostgreSQL URL, and a known secret to hunt for in output.

Fakes of external systems live in tests/fakes/ and speak their real wire formats. Every secret setting the
tests use holds KNOWN_SECRET; across the whole run it must never reach a log record, an answer of our API
(/metrics included), a request body we send (notifications, target calls), a report or a daemon log.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# A secret value the tests set in the environment and then look for in every captured output.
KNOWN_SECRET = "s3cr3t-Sentinel-7f9d2c4b"
# Secret values whose text does not contain KNOWN_SECRET (a whsec_ key is its base64), watched alike.
WATCHED: set[str] = {KNOWN_SECRET}
LEAKS: list[str] = []

PG_URL = os.environ.get("WATCHDOG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def watch(*values: str) -> None:
    WATCHED.update(v for v in values if v)


def leaked_in(text: str) -> str | None:
    return next((s for s in WATCHED if s in text), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A clean schema-less PostgreSQL database URL; in CI `.ci/run` makes sure the server is up."""
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield PG_URL


def _ours(client: httpx.Client | httpx.AsyncClient, response: httpx.Response) -> bool:
    """An answer of our app (in process, or served by uvicorn), not of a fake that echoes on purpose."""
    return isinstance(client._transport, httpx.ASGITransport) or response.headers.get("server") == "uvicorn"


def _inspect(request: httpx.Request, response: httpx.Response | None) -> None:
    """What our code sends (a body: notifications, target calls) and what our API answers.

    Headers are left alone: a configured bearer token is where a secret belongs. Streams are not read.
    """
    if request.stream is not None and isinstance(request.stream, httpx.ByteStream):
        found = leaked_in(request.content.decode("utf-8", "replace"))
        if found:
            LEAKS.append(f"{request.method} {request.url.path}: a secret in the request body")
    if response is not None and response.is_stream_consumed:
        found = leaked_in(response.text)
        if found:
            LEAKS.append(
                f"{request.method} {request.url.path}: a secret in the answer ({response.status_code})"
            )


@pytest.fixture(scope="session", autouse=True)
def secrets_never_leak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For the whole run: every httpx exchange is inspected; at the end, every report and daemon log."""
    patch = pytest.MonkeyPatch()
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        response = sync_send(self, request, **kw)
        _inspect(request, response if not kw.get("stream") and _ours(self, response) else None)
        return response

    async def asend(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
        response = await async_send(self, request, **kw)
        _inspect(request, response if not kw.get("stream") and _ours(self, response) else None)
        return response

    patch.setattr(httpx.Client, "send", send)
    patch.setattr(httpx.AsyncClient, "send", asend)
    yield
    patch.undo()
    written = [
        p
        for pattern in ("**/*.md", "**/*.svg", "**/*.html", "**/daemon.log")
        for p in Path(tmp_path_factory.getbasetemp()).glob(pattern)
        if p.is_file()
    ]
    bad = [str(p) for p in written if leaked_in(p.read_text(errors="replace"))]
    assert not bad, f"a secret reached these reports or logs: {bad}"


@pytest.fixture(autouse=True)
def no_known_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: the known secrets never reached a log record (exceptions logged included) or an answer."""
    LEAKS.clear()
    yield
    leaked = sorted({r.name for r in caplog.records if leaked_in(r.getMessage())})
    assert not leaked and not leaked_in(caplog.text), f"a known secret reached the logs of {leaked}"
    assert not LEAKS, f"a known secret left through HTTP: {LEAKS}"


@pytest.fixture(autouse=True)
def redactor_per_test() -> Iterator[None]:
    """The process-wide redactor learns every secret a test resolves: forget them after it, so one test's
    throwaway value (say, a one-letter token) cannot mask text in the next."""
    from watchdog.redact import REDACTOR

    REDACTOR.add(KNOWN_SECRET)  # the daemon's settings always register it: every secret setting holds it
    before = set(REDACTOR._secrets)
    yield
    REDACTOR._secrets.intersection_update(before)
