"""`make run PORT=... DEMO_PORT=...` as a newcomer runs it: the README walkthrough on ports of our choosing.

The runtime venv (.venv-run) is made on first use; the demo passes, then a bad version is rolled back and
the restored version verified, all through the daemon `make run` started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_walkthrough_on_other_ports(tmp_path: Path) -> None:
    port, demo_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "VIRTUAL_ENV"))}
    env["WATCHDOG_DATA_DIR"] = str(tmp_path / "data")
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"DEMO_PORT={demo_port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, and the daemon it starts, in one process group to stop
        )
    url = f"http://127.0.0.1:{port}"

    def wait(condition: Callable[[], bool], *, what: str, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert run.poll() is None, f"make run exited: {log.read_text()[-3000:]}"
            try:
                if condition():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{what} not reached: {log.read_text()[-3000:]}")

    def deploy(version: str) -> str:
        result = subprocess.run(
            [str(ROOT / ".venv-run" / "bin" / "watchdog"), "demo", "deploy", version, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout)["deployment_id"])

    def state(deployment: str) -> str:
        return str(httpx.get(f"{url}/v1/deployments/{deployment}", timeout=5).json()["state"])

    try:
        wait(lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, what="healthz", limit=600)
        good = deploy("1.0.0")
        wait(lambda: state(good) in ("passed", "failed", "inconclusive"), what="a verdict on 1.0.0", limit=90)
        assert state(good) == "passed"
        bad = deploy("1.1.0-bad")
        finished = ("rolled_back", "rollback_failed", "inconclusive", "passed")
        wait(lambda: state(bad) in finished, what="the bad deploy's end", limit=150)
        answer = httpx.get(f"{url}/v1/deployments/{bad}", timeout=5).json()
        assert answer["state"] == "rolled_back", answer["reasons"]
        assert answer["rollback"]["to_version"] == "1.0.0"
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    text = log.read_text()
    listening = next(line for line in text.splitlines() if "listening on" in line)
    assert f"http://127.0.0.1:{port}" in listening and "demo-config" in listening
    assert f"on http://127.0.0.1:{demo_port}" in text
