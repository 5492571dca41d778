"""`watchdog notify --rollback`: the deploy is recorded as a rollback, so it is never rolled back by itself.

Real HTTP on a loopback port, against the app the CLI tests serve.
"""

from __future__ import annotations

import pytest

from tests.cli.test_client import daemon, run
from watchdog.engine.runtime import Runtime

__all__ = ["daemon"]  # the fixture, imported for these tests


def test_notify_rollback_sets_is_rollback(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    url, runtime = daemon
    base = ["notify", "--url", url, "--service", "checkout", "--environment", "staging"]
    code, out, err = run(capsys, *base, "--version", "2.4.0", "--rollback")
    assert code == 0, err
    assert runtime.store.get_deployment(out.strip()).is_rollback is True
    code, out, err = run(capsys, *base, "--version", "2.4.1")
    assert code == 0, err
    assert runtime.store.get_deployment(out.strip()).is_rollback is False
