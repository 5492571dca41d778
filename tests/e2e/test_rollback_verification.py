"""A rollback is verified with every check of the policy, not only the http probes.

The demo's bad version fails and is rolled back, but the restored version still serves errors (the demo's
error override, a broken dependency say, stays on): its verification measures the error rate and the
deployment ends ROLLBACK_FAILED, where the http probes alone would have called it verified.
The demo runs on a free port, so this also drives `serve --demo --demo-port` on its generated config.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.daemon import Daemon

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def shipped_config_with_short_windows(dest: Path) -> Path:
    """The shipped config as it is (the demo on 8081 in it), only the demo's windows made seconds long.

    Samples 2 s apart, not 1: one taken more than half an interval late is "watchdog overloaded", and a
    second's stall happens on a 2-core machine running the suite in parallel.
    """
    config = dest / "config"
    shutil.copytree(ROOT / "config", config)
    demo = config / "services" / "demo.yaml"
    text = re.sub(
        r"verification: \{duration: \w+, interval: \w+, warmup: \w+",
        "verification: {duration: 10s, interval: 2s, warmup: 2s",
        demo.read_text(),
    )
    text = text.replace(
        "verification: {duration: 20s, interval: 5s}", "verification: {duration: 6s, interval: 2s}"
    )
    demo.write_text(text)
    return config


def demo_deploy(version: str, *, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "watchdog", "demo", "deploy", version, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["deployment_id"])


def test_restored_version_serving_errors_ends_rollback_failed(tmp_path: Path) -> None:
    demo_port = free_port()
    daemon = Daemon(
        config=shipped_config_with_short_windows(tmp_path),
        data=tmp_path / "data",
        args=["--demo", "--demo-port", str(demo_port)],
    ).start()
    try:
        env = daemon.env()  # no WATCHDOG_DEMO_URL: `demo deploy` finds the demo where `serve` wrote it
        good = demo_deploy("1.0.0", env=env)
        first = daemon.wait_state(good, {"passed", "failed", "inconclusive"}, timeout=40)
        assert first["state"] == "passed", first["reasons"]

        # From now on every version serves 30% errors, the restored 1.0.0 included.
        r = httpx.post(f"http://127.0.0.1:{demo_port}/chaos", json={"error_rate": 0.3}, timeout=5)
        assert r.status_code == 200
        bad = demo_deploy("1.1.0-bad", env=env)
        final = daemon.wait_state(
            bad, {"rolled_back", "rollback_failed", "inconclusive", "passed"}, timeout=60
        )
    finally:
        daemon.stop()
    assert final["state"] == "rollback_failed", final["reasons"]
    assert final["rollback"]["to_version"] == "1.0.0"
    (check,) = final["rollback_verifications"]
    assert check["state"] == "failed" and check["version"] == "1.0.0"
    assert "errors" in check["reason"], check["reason"]
    assert any("did not verify" in reason for reason in final["reasons"]), final["reasons"]
