"""Shared test fixtures: free loopback ports, the PostgreSQL URL, and a known secret to hunt for in output.

Fakes of external systems live in tests/fakes/ and speak their real wire formats.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# A secret value the tests set in the environment and then look for in every captured output.
KNOWN_SECRET = "s3cr3t-Sentinel-7f9d2c4b"

PG_URL = os.environ.get("WATCHDOG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


@pytest.fixture(autouse=True)
def no_known_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: whatever it logged, the known secret value never reached a log record."""
    yield
    leaked = sorted({r.name for r in caplog.records if KNOWN_SECRET in r.getMessage()})
    assert not leaked and KNOWN_SECRET not in caplog.text, f"the known secret reached the logs of {leaked}"
