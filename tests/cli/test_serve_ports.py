"""`watchdog serve` on a busy port, and the demo on another port than the example config names.

A busy daemon or demo port is one line on stderr and exit 1, before any "listening" line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from watchdog.demo.config import DemoState, demo_config_dir
from watchdog.policy.connections import ScrapeSourceConfig, WebhookTargetConfig
from watchdog.policy.loader import load_config_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def _serve(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env |= {"WATCHDOG_DATA_DIR": str(data), "WATCHDOG_WEBHOOK_SECRET": "whsec_" + "QUJD" * 8}
    return subprocess.run(
        [sys.executable, "-m", "watchdog", "serve", "--config", str(ROOT / "config"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_busy_daemon_port_is_one_line_and_exit_1(held_port: int, tmp_path: Path) -> None:
    result = _serve("--port", str(held_port), data=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"watchdog serve: the daemon: port {held_port} on 127.0.0.1 is already in use; "
        "stop what holds it or pass --port"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stderr + result.stdout


def test_busy_demo_port_is_one_line_and_exit_1(held_port: int, tmp_path: Path) -> None:
    result = _serve("--port", str(free_port()), "--demo", "--demo-port", str(held_port), data=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"watchdog serve: the demo: port {held_port} on 127.0.0.1 is already in use; pass --demo-port"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stderr + result.stdout


def test_demo_on_another_port_gets_a_config_naming_that_port(tmp_path: Path) -> None:
    assert demo_config_dir(ROOT / "config", port=8081, data_dir=tmp_path) == ROOT / "config"
    generated = demo_config_dir(ROOT / "config", port=18081, data_dir=tmp_path)
    assert generated == tmp_path / "demo-config"
    demo = load_config_dir(generated).daemon
    metrics, app = demo.sources["demo-metrics"], demo.targets["demo-app"]
    assert isinstance(metrics, ScrapeSourceConfig) and isinstance(app, WebhookTargetConfig)
    assert metrics.url == "http://127.0.0.1:18081/metrics"
    assert app.url == "http://127.0.0.1:18081/deploy"
    assert "8081/" not in (generated / "services" / "demo.yaml").read_text().replace("18081/", "")
    # the original is untouched
    assert "127.0.0.1:8081" in (ROOT / "config" / "services" / "demo.yaml").read_text()


def test_demo_state_round_trips(tmp_path: Path) -> None:
    assert DemoState.read(tmp_path) is None
    DemoState(daemon_url="http://127.0.0.1:18080", demo_url="http://127.0.0.1:18081").write(tmp_path)
    assert DemoState.read(tmp_path) == DemoState("http://127.0.0.1:18080", "http://127.0.0.1:18081")
