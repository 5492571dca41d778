"""A crash scenario: real daemon processes on one store, a demo app as the service and the deploy target,
and a loopback receiver recording every notification; the invariants every crash must keep.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.daemon import Daemon
from tests.notify.receiver import Receiver, receiver
from watchdog.demo.app import DemoApp
from watchdog.events import FINAL, State
from watchdog.store import Store

INSTANCE = "crash-test-instance"  # stable across restarts, so a restarted daemon takes its own work back
EVENTS = ["started", "passed", "failed", "inconclusive", "rolled_back", "rollback_failed"]
FINAL_STATES = {s.value for s in FINAL}


def policy(service: str, app: DemoApp, window: dict[str, Any] | None = None) -> dict[str, Any]:
    # Samples missed while no process ran count as not conclusive. A restart's gap is about 1.5 s on an idle
    # machine; on one running the whole suite it was 7-8.5 s (three random-kill seeds came out inconclusive
    # at 10 s and 0.3) and once 11.5 s (at 15 s and 0.25, the restart's imports alone took 8 s): windows of
    # 20 s at min_conclusive 0.2 outlast up to 15 s of it.
    verification = {
        "duration": "20s",
        "interval": "0.5s",
        "warmup": "0.5s",
        "failure_limit": 2,
        "min_conclusive": 0.2,
        "baseline_window": "1m",
        **(window or {}),
    }
    return {
        "service": service,
        "defaults": {
            "verification": verification,
            "on_failure": "rollback",
            "rollback": {"verification": {"duration": "20s", "interval": "0.5s", "min_conclusive": 0.2}},
            "notify": ["hook"],
        },
        "environments": {
            "production": {
                "target": f"{service}-app",
                "checks": [
                    {
                        "name": "healthz",
                        "type": "http",
                        "url": f"{app.url}/healthz",
                        "expect": {"status": 200, "json": {"version": "{{ version }}"}},
                        "timeout": "1s",
                    },
                    {
                        "name": "errors",
                        "type": "error_rate",
                        "source": f"{service}-metrics",
                        "errors": 'demo_requests_total{code="500"}',
                        "requests": "demo_requests_total",
                        "max": 0.05,
                        "min_requests": 20,
                    },
                ],
            }
        },
    }


@dataclass
class World:
    root: Path
    database: str
    apps: dict[str, DemoApp]
    rx: Receiver
    daemons: list[Daemon] = field(default_factory=list)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_urls: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "config"

    def write_config(self, *, target_timeout: str = "30s") -> None:
        (self.config / "services").mkdir(parents=True, exist_ok=True)
        sources = {
            f"{s}-metrics": {"type": "scrape", "url": f"{a.url}/metrics"} for s, a in self.apps.items()
        }
        targets = {
            f"{s}-app": {
                "type": "webhook",
                "url": self.target_urls.get(s, f"{a.url}/deploy"),
                "body": {"version": "{{ version }}", "artifact": "{{ artifact }}"},
                "timeout": target_timeout,
            }
            for s, a in self.apps.items()
        }
        notifiers = {"hook": {"type": "webhook", "url": self.rx.url, "events": EVENTS}}
        daemon = {"sources": sources, "targets": targets, "notifiers": notifiers}
        (self.config / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
        for service, app in self.apps.items():
            text = yaml.safe_dump(policy(service, app, self.windows.get(service)))
            (self.config / "services" / f"{service}.yaml").write_text(text)

    def seed_stable(self, service: str, version: str = "1.0.0") -> None:
        """1.0.0 verified earlier: the artifact a rollback must restore."""
        store = Store(self.database)
        try:
            store.upgrade()
            store.mark_stable(
                service=service,
                environment="production",
                version=version,
                artifact=version,
                deployment_id=None,
                now=datetime.now(UTC),
                reason="verified before the test",
            )
        finally:
            store.close()

    def daemon(self, *, faults: str | None = None, workers: int | None = None) -> Daemon:
        """A daemon on the store; `workers` None: the daemon's default (the CPU count, so 2 processes on a
        two-core machine), which is what the crash suites prove: a fault or SIGKILL takes all of them down."""
        env = {
            "WATCHDOG_DATABASE_URL": self.database,
            "WATCHDOG_AUTO_MIGRATE": "true",
            "WATCHDOG_INSTANCE_ID": INSTANCE,
            "WATCHDOG_TICK_SECONDS": "0.1",
        }
        if faults:
            env |= {"WATCHDOG_TEST_FAULTS": "1", "WATCHDOG_FAULTS": faults}
        d = Daemon(config=self.config, data=self.root / "data", env=env, workers=workers)
        if self.daemons:  # the same address as before, as a restarted process would have
            d.port, d.url = self.daemons[0].port, self.daemons[0].url
        self.daemons.append(d)
        return d.start()

    def deploy(self, daemon: Daemon, service: str, version: str) -> str:
        self.apps[service].deploy(version)
        return daemon.notify(service=service, environment="production", version=version)

    def wait_dead(self, daemon: Daemon, *, timeout: float = 30) -> None:
        assert daemon.proc is not None
        daemon.wait_for(
            lambda: daemon.proc is not None and daemon.proc.poll() is not None,
            what="the fault to kill the daemon",
            timeout=timeout,
        )

    # ---- the invariants ----

    def settled(self, daemon: Daemon, deployment_id: str, states: set[str]) -> dict[str, Any]:
        """Waits for a final state and for the outbox to empty (every action done, every message sent)."""
        daemon.wait_state(deployment_id, states | {"rollback_failed", "inconclusive"}, timeout=60)
        daemon.wait_for(lambda: self.open_actions() == 0, what="the pending actions to be done", timeout=30)
        return daemon.deployment(deployment_id)

    def open_actions(self) -> int:
        store = Store(self.database)
        try:
            return store.open_action_count()
        finally:
            store.close()

    def check_nothing_left(self) -> None:
        store = Store(self.database)
        try:
            left = store.unfinished_verifications()
            assert not left, [(v.deployment_id, v.kind, v.state) for v in left]
            actions = [a for a in _all_actions(store) if a.state != "done"]
            assert not actions, [(a.kind, a.state, a.last_error) for a in actions]
        finally:
            store.close()

    def artifact_status(self, service: str, artifact: str) -> str | None:
        store = Store(self.database)
        try:
            row = store.artifact_status(service=service, environment="production", artifact=artifact)
            return row.status if row else None
        finally:
            store.close()

    def messages(self, deployment_id: str) -> Counter[str]:
        """Distinct messages per event for one deployment, deduplicated by the key the receiver sees."""
        keys: dict[str, set[str]] = {}
        for r in self.rx.requests:
            data = json.loads(r.body)["data"]
            if data["deployment_id"] != deployment_id:
                continue
            key = r.headers.get("idempotency-key") or r.headers.get("Idempotency-Key")
            assert key, "every message carries an idempotency key"
            keys.setdefault(data["event"], set()).add(key)
        return Counter({event: len(k) for event, k in keys.items()})

    def restores(self, service: str, version: str = "1.0.0") -> int:
        return sum(1 for d in self.apps[service].deploys if d["version"] == version)

    def stop(self) -> None:
        for d in self.daemons:
            d.stop()


def _all_actions(store: Store) -> list[Any]:
    from sqlalchemy import select

    from watchdog.store.actions import action_row
    from watchdog.store.schema import pending_actions

    with store.engine.connect() as conn:
        return [action_row(r) for r in conn.execute(select(pending_actions)).mappings()]


@contextmanager
def world(
    root: Path,
    database: str,
    services: tuple[str, ...] = ("shop",),
    *,
    windows: dict[str, dict[str, Any]] | None = None,
    target_urls: dict[str, str] | None = None,
) -> Iterator[World]:
    with ExitStack() as stack:
        apps = {
            s: stack.enter_context(DemoApp(port=0, version="1.0.0", rps=300, seed=7 + i).start())
            for i, s in enumerate(services)
        }
        rx = stack.enter_context(receiver())
        w = World(
            root=root,
            database=database,
            apps=apps,
            rx=rx,
            windows=dict(windows or {}),
            target_urls=dict(target_urls or {}),
        )
        w.write_config()
        for s in services:
            w.seed_stable(s)
        try:
            yield w
        finally:
            w.stop()


def wait_until(cond: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


__all__ = ["FINAL_STATES", "State", "World", "wait_until", "world"]
