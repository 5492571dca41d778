"""The README walkthrough, end to end, with the shipped config and windows of seconds.

`watchdog serve --demo`, then `watchdog demo deploy 1.0.0` (passes), `watchdog demo deploy 1.1.0-bad`
(fails, rolled back to 1.0.0, verified), `watchdog history demo` and the post-mortem file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.daemon import Daemon

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def shipped_config_with_short_windows(dest: Path, demo_port: int) -> Path:
    config = dest / "config"
    shutil.copytree(ROOT / "config", config)
    for path in [config / "watchdog.yaml", *sorted((config / "services").glob("*.yaml"))]:
        path.write_text(path.read_text().replace("127.0.0.1:8081", f"127.0.0.1:{demo_port}"))
    demo = config / "services" / "demo.yaml"
    text = re.sub(
        r"verification: \{duration: \w+, interval: \w+, warmup: \w+",
        "verification: {duration: 6s, interval: 1s, warmup: 1s",
        demo.read_text(),
    )
    text = text.replace(
        "verification: {duration: 20s, interval: 5s}", "verification: {duration: 6s, interval: 2s}"
    )
    demo.write_text(text)
    return config


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchdog", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_walkthrough(tmp_path: Path) -> None:
    demo_port = free_port()
    config = shipped_config_with_short_windows(tmp_path, demo_port)
    data = tmp_path / "data"
    daemon = Daemon(
        config=config,
        data=data,
        args=["--demo", "--demo-port", str(demo_port)],
        env={"WATCHDOG_TICK_SECONDS": "0.2"},
    )
    env_without_secret = {k: v for k, v in daemon.env().items() if k != "WATCHDOG_WEBHOOK_SECRET"}
    daemon.extra_env = {}
    daemon.env = lambda: env_without_secret  # type: ignore[method-assign]  # replaced on purpose
    daemon.start()
    try:
        env = {**env_without_secret, "WATCHDOG_DEMO_URL": f"http://127.0.0.1:{demo_port}"}
        first = cli("demo", "deploy", "1.0.0", "--json", env=env)
        assert first.returncode == 0, first.stderr
        good = json.loads(first.stdout)["deployment_id"]
        passed = daemon.wait_state(good, {"passed", "failed", "inconclusive"}, timeout=40)
        assert passed["state"] == "passed", passed["reasons"]

        second = cli("demo", "deploy", "1.1.0-bad", "--json", env=env)
        assert second.returncode == 0, second.stderr
        bad = json.loads(second.stdout)["deployment_id"]
        final = daemon.wait_state(
            bad, {"rolled_back", "rollback_failed", "inconclusive", "passed"}, timeout=60
        )
        assert final["state"] == "rolled_back", final["reasons"]
        assert final["rollback"]["to_version"] == "1.0.0" and final["rollback"]["state"] == "verified"
        assert final["rollback_verifications"][0]["state"] == "passed"

        history = cli("history", "demo", env=env)
        assert history.returncode == 0, history.stderr
        assert (
            "1.1.0-bad" in history.stdout and "rolled_back" in history.stdout and "passed" in history.stdout
        )

        reports = sorted((data / "reports").glob("*-demo-local-1.1.0-bad.md"))
        assert reports, list((data / "reports").glob("*"))
        text = reports[0].read_text()
        assert "1.1.0-bad" in text and "1.0.0" in text and "rolled back" in text.lower()
        log = daemon.log.read_text()
        assert "demo/local 1.1.0-bad" in log  # the live progress lines
    finally:
        daemon.stop()
