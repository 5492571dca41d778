"""The CLI clients (notify, status, history, rollback, gate) against the app served by uvicorn.

Real HTTP on a loopback port; the daemon side runs on the system clock so signatures are fresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.harness import ADMIN_TOKEN, WEBHOOK_SECRET, RecordingEngine, make_runtime
from tests.api.server import serving
from tests.conftest import free_port
from watchdog.api.app import create_app
from watchdog.cli import main
from watchdog.clock import SystemClock
from watchdog.engine.runtime import Runtime


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Runtime]]:
    runtime = make_runtime(tmp_path, clock=SystemClock())
    monkeypatch.setenv("WATCHDOG_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("WATCHDOG_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("WATCHDOG_URL", raising=False)
    with serving(create_app(runtime)) as url:
        yield url, runtime
    runtime.store.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_notify_then_status_and_history(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    url, runtime = daemon
    code, out, err = run(
        capsys,
        "notify",
        "--url",
        url,
        "--service",
        "checkout",
        "--environment",
        "staging",
        "--version",
        "2.4.1",
        "--artifact",
        "reg/checkout@sha256:aaa",
        "--previous-version",
        "2.4.0",
        "--previous-artifact",
        "reg/checkout@sha256:old",
        "--deployer",
        "ci",
        "--commit",
        "9f1c",
        "--not-rollback-safe",
        "--label",
        "team=payments",
    )
    assert code == 0, err
    dep_id = out.strip()
    d = runtime.store.get_deployment(dep_id)
    assert (d.version, d.deployer, d.rollback_safe, d.labels) == ("2.4.1", "ci", False, {"team": "payments"})

    code, out, _ = run(
        capsys,
        "notify",
        "--url",
        url,
        "--json",
        "--service",
        "checkout",
        "--environment",
        "production",
        "--version",
        "2.4.1",
    )
    assert code == 0 and json.loads(out)["state"] == "pending"

    code, out, _ = run(capsys, "status", "--url", url, dep_id)
    assert code == 0 and "2.4.1" in out and "reg/checkout@sha256:aaa" in out and "pending" in out
    code, out, _ = run(capsys, "status", "--url", url)
    assert code == 0 and len(out.strip().splitlines()) == 3  # header + two deployments

    code, out, _ = run(capsys, "history", "checkout", "--url", url, "--environment", "staging")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["TIME", "ENV", "VERSION", "ARTIFACT", "STATE", "VERDICT"]
    assert len(lines) == 2 and "reg/checkout@sha256:aaa" in lines[1]
    code, out, _ = run(capsys, "history", "checkout", "--url", url, "--json")
    assert len(json.loads(out)["items"]) == 2


def test_notify_refused_and_unknown_deployment(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    code, _, err = run(
        capsys, "notify", "--url", url, "--service", "billing", "--environment", "x", "--version", "1"
    )
    assert code == 1 and "unknown_service" in err
    code, _, err = run(capsys, "status", "--url", url, "nope")
    assert code == 1 and "not_found" in err


def test_gate_exit_codes(daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]) -> None:
    url, runtime = daemon
    code, out, _ = run(capsys, "gate", "checkout", "production", "--artifact", "reg/c@sha256:x", "--url", url)
    assert code == 1 and "refused" in out and "FAIL verified" in out
    runtime.store.mark_stable(
        service="checkout",
        environment="staging",
        version="1",
        artifact="reg/c@sha256:0",
        deployment_id=None,
        now=runtime.clock.now(),
    )
    code, out, _ = run(capsys, "gate", "checkout", "staging", "--artifact", "reg/c@sha256:x", "--url", url)
    assert code == 0 and "allowed" in out


def test_rollback_goes_through_the_admin_api(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    _, out, _ = run(
        capsys,
        "notify",
        "--url",
        url,
        "--service",
        "checkout",
        "--environment",
        "staging",
        "--version",
        "2.4.1",
    )
    code, _, err = run(capsys, "rollback", out.strip(), "--url", url, "--reason", "p99 doubled")
    # RecordingEngine refuses every rollback: the refusal and its reason reach the operator.
    assert code == 1 and "rollback_refused" in err


def test_rollback_without_token(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = daemon
    monkeypatch.delenv("WATCHDOG_ADMIN_TOKEN")
    code, _, err = run(capsys, "rollback", "x", "--url", url)
    assert code == 2 and "WATCHDOG_ADMIN_TOKEN" in err


def test_unreachable_daemon_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_URL", f"http://127.0.0.1:{free_port()}")
    for argv in (["status"], ["history", "checkout"], ["gate", "checkout", "production", "--artifact", "a"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and "cannot reach the watchdog" in err


def test_rollback_with_the_real_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = make_runtime(tmp_path, clock=SystemClock(), engine="real")
    if isinstance(runtime.engine, RecordingEngine):
        runtime.store.close()
        pytest.skip("the real Engine cannot be built yet")
    monkeypatch.setenv("WATCHDOG_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("WATCHDOG_ADMIN_TOKEN", ADMIN_TOKEN)
    runtime.store.mark_stable(
        service="checkout",
        environment="staging",
        version="2.4.0",
        artifact="reg/c@sha256:old",
        deployment_id=None,
        now=runtime.clock.now(),
    )
    with serving(create_app(runtime)) as url:
        _, out, _ = run(
            capsys,
            "notify",
            "--url",
            url,
            "--service",
            "checkout",
            "--environment",
            "staging",
            "--version",
            "2.4.1",
        )
        code, out, err = run(capsys, "rollback", out.strip(), "--url", url, "--reason", "p99 doubled")
    runtime.store.close()
    assert code == 0, err
    assert "to 2.4.0" in out


def test_reads_send_the_read_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = make_runtime(tmp_path, clock=SystemClock(), read_token="read-token-for-cli-tests")
    monkeypatch.delenv("WATCHDOG_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("WATCHDOG_URL", raising=False)
    with serving(create_app(runtime)) as url:
        monkeypatch.delenv("WATCHDOG_READ_TOKEN", raising=False)
        code, _, err = run(capsys, "history", "checkout", "--url", url)
        assert code == 1 and "401" in err
        monkeypatch.setenv("WATCHDOG_READ_TOKEN", "read-token-for-cli-tests")
        code, _, err = run(capsys, "history", "checkout", "--url", url)
        assert code == 0, err
    runtime.store.close()
