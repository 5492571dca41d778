"""`watchdog notify --wait` and `watchdog wait ID` as a CI job runs them, against the daemon as a process.

The demo app serves good and bad versions; its /deploy is the rollback target. Exit codes: 0 passed,
1 failed or rolled back, 2 inconclusive, 3 timeout or error.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port
from tests.docs.snippets import ROOT, snippet
from tests.e2e.daemon import Daemon
from tests.e2e.test_walkthrough import shipped_config_with_short_windows
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # `watchdog` on PATH, as a pipeline has it

# Samples 2 s apart: a sample taken more than half an interval late is "watchdog overloaded", and on a
# 2-core machine running the suite in parallel a second's stall happens (1 s apart, twice, CI's verdict
# came out inconclusive and a rollback unverified).
WINDOW = {
    "duration": "10s",
    "interval": "2s",
    "warmup": "2s",
    "failure_limit": 2,
    "min_conclusive": 0.6,
    "baseline_window": "1m",
}


def write_config(root: Path, app: DemoApp) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    daemon_file = {
        "sources": {"app-metrics": {"type": "scrape", "url": f"{app.url}/metrics"}},
        "targets": {
            "demo-app": {
                "type": "webhook",
                "url": f"{app.url}/deploy",
                "body": {"version": "{{ version }}", "artifact": "{{ artifact }}"},
            }
        },
    }
    (config / "watchdog.yaml").write_text(yaml.safe_dump(daemon_file))
    healthz = {
        "name": "healthz",
        "type": "http",
        "url": f"{app.url}/healthz",
        "expect": {"status": 200, "json": {"version": "{{ version }}"}},
        "timeout": "1s",
    }
    errors = {
        "name": "errors",
        "type": "error_rate",
        "source": "app-metrics",
        "errors": 'demo_requests_total{code="500"}',
        "requests": "demo_requests_total",
        "max": 0.05,
        "min_requests": 20,
    }
    # A selector that matches no series: every sample is "no data".
    silent = {**errors, "name": "silent", "errors": "demo_absent_total", "requests": "demo_absent_total"}
    service = {
        "service": "shop",
        "defaults": {
            "verification": WINDOW,
            "on_failure": "rollback",
            "on_inconclusive": "alert",
            "target": "demo-app",
            "rollback": {"verification": {"duration": "6s", "interval": "2s"}},
        },
        "environments": {
            "production": {"checks": [healthz, errors]},
            "dark": {"checks": [silent]},
        },
    }
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(service))
    return config


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.0.0", rps=300, seed=11).start() as a:
        yield a


@pytest.fixture
def daemon(tmp_path: Path, app: DemoApp) -> Iterator[Daemon]:
    d = Daemon(config=write_config(tmp_path, app), data=tmp_path / "data").start()
    try:
        yield d
    finally:
        d.stop()


def start(daemon: Daemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watchdog", *args, "--poll-interval", "0.3"],
        env=daemon.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def notify_and_wait(
    daemon: Daemon, *, environment: str, version: str, extra: tuple[str, ...] = ()
) -> tuple[str, subprocess.Popen[str], subprocess.Popen[str]]:
    """`notify --wait` and, beside it on the id it announced, `wait ID`: both block on one deployment."""
    notify = start(
        daemon,
        "notify",
        "--service",
        "shop",
        "--environment",
        environment,
        "--version",
        version,
        "--wait",
        "--json",
        *extra,
    )
    assert notify.stderr is not None
    first = notify.stderr.readline()
    assert first.startswith("deployment "), first + notify.stderr.read()
    deployment_id = first.split()[1]
    waiter = start(daemon, "wait", deployment_id, *extra)
    return deployment_id, notify, waiter


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_good_deploy_exits_0_and_bad_deploy_exits_1_after_the_rollback(daemon: Daemon, app: DemoApp) -> None:
    dep, notify, waiter = notify_and_wait(daemon, environment="production", version="1.0.0")
    code, out, err = finish(notify)
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["id"], answer["state"], answer["verdict"]) == (dep, "passed", "passed"), answer
    code, out, err = finish(waiter)
    assert code == 0, err
    assert out.startswith(f"shop/production 1.0.0 ({dep}): passed [passed]")
    # Not a terminal: plain progress lines, one per change, each check named with its counts.
    assert "  healthz: " in err and "  errors: " in err and "\x1b[" not in err

    app.deploy("1.1.0-bad")  # what the pipeline's deploy step did before notifying
    dep, notify, waiter = notify_and_wait(daemon, environment="production", version="1.1.0-bad")
    code, out, err = finish(notify)
    assert code == 1, err
    answer = json.loads(out)
    assert answer["state"] == "rolled_back" and answer["verdict"] == "failed", answer
    assert answer["rollback"]["to_version"] == "1.0.0" and answer["rollback"]["state"] == "verified"
    assert app.version == "1.0.0"  # the exit came after the rollback, not before it
    code, out, err = finish(waiter)
    assert code == 1, err
    assert out.startswith(f"shop/production 1.1.0-bad ({dep}): rolled_back to 1.0.0 [failed]")


def test_no_data_exits_2(daemon: Daemon) -> None:
    dep, notify, waiter = notify_and_wait(daemon, environment="dark", version="1.0.0")
    code, out, err = finish(notify)
    assert code == 2, err
    assert json.loads(out)["state"] == "inconclusive"
    code, out, err = finish(waiter)
    assert code == 2, err
    assert out.startswith(f"shop/dark 1.0.0 ({dep}): inconclusive [inconclusive]")


def test_timeout_and_errors_exit_3(daemon: Daemon) -> None:
    dep, notify, waiter = notify_and_wait(
        daemon, environment="production", version="1.0.0", extra=("--wait-timeout", "1s")
    )
    code, out, err = finish(notify)
    assert code == 3
    assert "timeout: gave up after 1s" in err and json.loads(out)["error"] == "timeout"
    code, out, err = finish(waiter)
    assert code == 3 and out == ""
    assert f"gave up after 1s: {dep} is still" in err

    code, out, err = finish(start(daemon, "wait", "no-such-deployment"))
    assert code == 3 and "http_404" in err
    refused = start(
        daemon, "notify", "--service", "billing", "--environment", "x", "--version", "1", "--wait"
    )
    code, out, err = finish(refused)
    assert code == 3 and "unknown_service" in err


def test_the_readme_pipeline_runs_as_written(tmp_path: Path) -> None:
    """README's gate, deploy --wait, bad deploy --wait: the lines as written, on the shipped demo config."""
    demo_port = free_port()
    config = shipped_config_with_short_windows(tmp_path, demo_port)
    daemon = Daemon(config=config, data=tmp_path / "data", args=["--demo", "--demo-port", str(demo_port)])
    # As in the walkthrough: no secret set, `serve --demo` generates one and the CLI finds it.
    env = {k: v for k, v in daemon.env().items() if k != "WATCHDOG_WEBHOOK_SECRET"}
    env.update(WATCHDOG_DEMO_URL=f"http://127.0.0.1:{demo_port}", PATH=f"{BIN}:{env['PATH']}")
    daemon.env = lambda: env  # type: ignore[method-assign]  # the method replaced on purpose
    daemon.start()
    try:
        first = subprocess.run(
            [sys.executable, "-m", "watchdog", "demo", "deploy", "1.0.0", "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.returncode == 0, first.stderr  # the walkthrough's first, good deploy
        pipeline = snippet("readme-pipeline", README)
        run = subprocess.run(["bash", "-ec", pipeline], env=env, capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        out = run.stdout
        assert "demo -> local: allowed" in out and "✓ tests" in out and "✓ rollback_plan" in out
        assert "demo/local 1.2.0 (" in out and "): passed [passed]" in out
        assert "demo/local 1.3.0-bad (" in out and "rolled_back to 1.2.0 [failed]" in out
        assert out.rstrip().endswith("the job fails: exit 1")
        assert "  errors: " in run.stderr  # the progress lines, per check
    finally:
        daemon.stop()


def test_on_a_terminal_the_progress_block_is_redrawn_in_place(daemon: Daemon) -> None:
    dep = daemon.notify(service="shop", environment="production", version="1.0.0")
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                return  # the terminal closed
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchdog", "wait", dep, "--poll-interval", "0.3"],
        env=daemon.env(),
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    out, _ = proc.communicate(timeout=60)
    os.close(follower)
    reader.join(5)
    os.close(leader)
    terminal = b"".join(chunks).decode()
    assert proc.returncode == 0 and "passed [passed]" in out
    # Each redraw moves the cursor up over the block and clears every line it rewrites.
    assert "\x1b[2K" in terminal and re.search(r"\x1b\[\d+F", terminal), terminal[:500]
    assert "  healthz: " in terminal and "  errors: " in terminal
