"""The CLI clients (notify, status, history, rollback, gate) against the app served by uvicorn.

Real HTTP on a loopback port; the daemon side runs on the system clock so signatures are fresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
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
    assert f"id        {dep_id}" in out
    deployed = d.deployed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"deployed  {deployed} by ci" in out
    code, out, _ = run(capsys, "status", "--url", url, dep_id, "-o", "wide")
    assert "transitions (UTC):" in out and "- -> pending" in out
    code, out, _ = run(capsys, "status", "--url", url)
    assert code == 0 and len(out.strip().splitlines()) == 3  # header + two deployments
    assert out.splitlines()[0].split()[:4] == ["ID", "DEPLOYED", "(UTC)", "SERVICE"]

    code, out, _ = run(capsys, "history", "checkout", "--url", url, "--environment", "staging")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["ID", "DEPLOYED", "(UTC)", "ENV", "VERSION", "ARTIFACT", "STATE", "VERDICT"]
    assert len(lines) == 2 and "reg/checkout@sha256:aaa" in lines[1]
    # The id `watchdog status` takes, and the time with its zone.
    assert lines[1].split()[:2] == [dep_id, deployed]
    code, out, _ = run(capsys, "history", "checkout", "--url", url, "-o", "wide")
    header = out.splitlines()[0]
    assert "RECEIVED (UTC)" in header and "DEPLOYER" in header and "SOURCE" in header
    assert " ci " in out.splitlines()[-1] + " "
    code, out, _ = run(capsys, "history", "checkout", "--url", url, "--json")
    assert len(json.loads(out)["items"]) == 2
    code, out, _ = run(capsys, "history", "checkout", "--url", url, "-o", "json")
    assert [i["id"] for i in json.loads(out)["items"]][-1] == dep_id


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
    assert code == 1 and "refused (first deploy)" in out
    lines = {line.split()[1]: line for line in out.splitlines()[1:]}
    assert lines["verified"].startswith("  ✗ verified") and "has not passed verification in staging" in out
    assert lines["lint"].startswith("  - lint") and "not required" in lines["lint"]
    assert lines["not_frozen"].startswith("  ✓ not_frozen")
    runtime.store.mark_stable(
        service="checkout",
        environment="staging",
        version="1",
        artifact="reg/c@sha256:0",
        deployment_id=None,
        now=runtime.clock.now(),
    )
    argv = ["gate", "checkout", "staging", "--artifact", "reg/c@sha256:x", "--url", url]
    code, out, _ = run(capsys, *argv)
    assert code == 1 and "✗ tests" in out and "--ci-status" in out
    code, out, _ = run(capsys, *argv, "--ci-status", "success")
    assert code == 0 and "allowed" in out and "✓ tests" in out


def test_gate_checklist_for_a_first_deploy(
    daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    argv = [
        "gate",
        "checkout",
        "staging",
        "--artifact",
        "reg/c@sha256:new",
        "--url",
        url,
        "--ci-status",
        "success",
    ]
    code, out, _ = run(capsys, *argv, "--migration")
    assert code == 1
    failing = [line for line in out.splitlines() if "✗" in line]
    assert [line.split()[1] for line in failing] == ["migration", "rollback_plan"]
    code, out, _ = run(
        capsys, *argv, "--migration", "--migration-tested", "--rollback-plan", "https://runbooks/c", "--json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["allowed"] and answer["first_deploy"]
    plan = next(c for c in answer["checks"] if c["name"] == "rollback_plan")
    assert plan["status"] == "pass" and "https://runbooks/c" in plan["reason"]


def test_notify_carries_the_ci_facts(daemon: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]) -> None:
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
        "--ci-status",
        "success",
        "--lint-status",
        "failure",
        "--migration",
        "--rollback-plan",
        "helm rollback checkout 0",
    )
    assert code == 0, err
    d = runtime.store.get_deployment(out.strip())
    assert d.pipeline == {
        "ci_status": "success",
        "lint_status": "failure",
        "migration": True,
        "rollback_plan": "helm rollback checkout 0",
    }


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


def test_notify_wait_without_a_secret_is_an_error_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WATCHDOG_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("WATCHDOG_DATA_DIR", str(tmp_path))  # no demo secret there either
    argv = ["notify", "--service", "s", "--environment", "e", "--version", "1"]
    assert run(capsys, *argv)[0] == 2
    code, _, err = run(capsys, *argv, "--wait")
    assert code == 3 and "WATCHDOG_WEBHOOK_SECRET is not set" in err


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
