"""Runs `watchdog serve` as a real process on a loopback port, and talks to it as deploy systems do.

Used by the end-to-end tests: signed events in, JSON API out, SIGKILL and restart in between.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.conftest import KNOWN_SECRET, free_port, leaked_in, watch

# Daemons here run one engine process unless a test asks otherwise (`workers=None`: the daemon's own
# default, the CPU count; or `--workers N` in args): most tests are about one lifecycle, not about sharing,
# and a second process per daemon doubles the start-up and idle CPU of every daemon the suite starts on a
# two-core machine. The worker and crash tests run the default; E2E_DAEMON_WORKERS=0 runs every e2e daemon
# with it (to re-prove a file: `E2E_DAEMON_WORKERS=0 pytest tests/e2e/test_daemon.py`).
WORKERS = int(os.environ.get("E2E_DAEMON_WORKERS", "1"))

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ADMIN = f"admin-{KNOWN_SECRET}"
watch(SECRET, SECRET.removeprefix("whsec_"))


class Daemon:
    def __init__(
        self,
        *,
        config: Path,
        data: Path,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        workers: int | None = WORKERS,
    ) -> None:
        self.config = config
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / "daemon.log"
        self.extra_env = env or {}
        self.args = args or []
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
        env.update(
            WATCHDOG_DATA_DIR=str(self.data),
            WATCHDOG_WEBHOOK_SECRET=SECRET,
            WATCHDOG_ADMIN_TOKEN=ADMIN,
            WATCHDOG_TICK_SECONDS="0.2",
            WATCHDOG_LEASE_SECONDS="3",
            WATCHDOG_URL=self.url,
            # Set but never to be seen: stop() asserts it never reached the daemon's output.
            WATCHDOG_GITHUB_WEBHOOK_SECRET=KNOWN_SECRET,
        )
        if self.workers is not None:
            env["WATCHDOG_WORKERS"] = str(self.workers)  # `--workers` in args still wins
        env.update(self.extra_env)
        return env

    def start(self) -> Daemon:
        self.data.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watchdog",
                "serve",
                "--config",
                str(self.config),
                "--port",
                str(self.port),
                *self.args,
            ],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.data,
        )
        self.wait_for(lambda: self._ready(), what="the daemon to be ready", timeout=30)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"the daemon exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
            )
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL to the serving process: no drain, no goodbye; leases are left to expire.

        Its engine workers die with it (they hold PR_SET_PDEATHSIG): waited for here, so the next daemon
        never starts beside a process of this one.
        """
        assert self.proc is not None
        workers = self.workers_pids()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 10  # a hang guard: they die with the kernel's exit of the parent
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in workers if alive(p)]
        assert not left, f"engine workers {left} outlived their SIGKILLed daemon"

    def workers_pids(self) -> list[int]:
        """The serving process's engine workers now running (Linux /proc: their parent is the daemon)."""
        assert self.proc is not None
        return children(self.proc.pid, marker="--engine-worker")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log.exists():
            assert leaked_in(self.log.read_text()) is None, "a secret reached the daemon's log"

    def notify(self, **event: Any) -> str:
        """Posts a generic event signed the way the Standard Webhooks reference library signs it."""
        body = json.dumps(event)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = time.time()
        from datetime import UTC, datetime

        signature = Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(now, UTC), body)
        r = httpx.post(
            f"{self.url}/v1/events",
            content=body,
            headers={
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now)),
                "webhook-signature": signature,
            },
            timeout=10,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["deployment_id"])

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/v1/deployments/{deployment_id}", timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def wait_state(self, deployment_id: str, states: set[str], *, timeout: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def check() -> bool:
            found.update(self.deployment(deployment_id))
            return found["state"] in states

        self.wait_for(
            check,
            what=f"{deployment_id} to reach {states}",
            timeout=timeout,
            detail=lambda: f"last state {found.get('state')}",
        )
        return found

    def wait_for(
        self, cond: Callable[[], bool], *, what: str, timeout: float, detail: Callable[[], str] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        tail = self.log.read_text()[-4000:] if self.log.exists() else ""
        raise AssertionError(f"timed out waiting for {what} ({detail() if detail else ''})\n{tail}")


def children(pid: int, *, marker: str) -> list[int]:
    """The live child processes of `pid` whose command line has `marker` in it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces: the fields after its ")" are the fixed ones.
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid and marker.encode() in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    """Running: a zombie (exited, not yet reaped) is not."""
    try:
        os.kill(pid, 0)
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except (ProcessLookupError, FileNotFoundError):
        return False
